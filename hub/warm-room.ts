/**
 * The hub's part of its keep-warm loop (core/websocket/warm-loop.ts): the loop's message is a
 * batch with one game-sized unicast frame, and its server end switches it through a scratch
 * room of two scratch members, as a relayed batch is switched: Room.forward, the switch's
 * decision, the destination session's bounded send, back out through the loop's connection.
 * The scratch room is no room of the hub's: not listed, not counted, unreachable by peers.
 */
import { encodeBatch } from '../core/protocol.js'
import type { WsConnection } from '../core/websocket/connection.js'
import { OPEN } from '../core/websocket/connection.js'
import { scratchUdpFrame } from '../l2/scratch-frame.js'
import type { RoomSettings } from './config.js'
import { NO_IMPAIRMENT } from './impairment.js'
import { Room } from './room.js'
import { Session } from './session.js'

const FROM = { mac: '02:00:00:00:00:01', ip: '10.254.0.1' }
const TO = { mac: '02:00:00:00:00:02', ip: '10.254.0.2' }


/** The sender never receives anything (unicast to the other member): it needs no connection. */
const sendsNothing = { readyState: OPEN, bufferedAmount: 0 } as unknown as WsConnection

const member = (port: number, ws: WsConnection, who: { mac: string, ip: string }, now: number): Session => {
  const s = new Session(port, ws, 'keep-warm', now, 64 * 1024)
  s.info = { room: '(keep-warm)', identity: `keep-warm-${port}`, name: `keep-warm-${port}`, ...who }
  return s
}

export interface WarmRoom {
  /** The loop's message: one batch FROM -> TO. */
  message: Buffer
  /** The loop's server end received it: switch it to TO, whose connection is that end. */
  echo: (conn: WsConnection, buf: Buffer, off: number, len: number) => void
}

export const warmRoom = (template: Omit<RoomSettings, 'name' | 'token'>, now: () => number): WarmRoom => {
  // The auto-room template's switching rules, but none of its impairment: a scratch message
  // held back or dropped on purpose would warm nothing.
  const room = new Room({ ...template, name: '(keep-warm)', token: '', autoCreated: false, impairment: { room: NO_IMPAIRMENT, peers: new Map() } }, now())
  const from = member(1, sendsNothing, FROM, now())
  room.join(from, now())
  let to: Session | null = null
  return {
    message: encodeBatch([scratchUdpFrame([10, 254, 0, 1, 10, 254, 0, 2])]),
    echo: (conn, buf, off, len) => {
      if (to === null || to.ws !== conn) {
        if (to !== null) room.leave(to, now())
        to = member(2, conn, TO, now())
        room.join(to, now())
      }
      room.forward(from, buf.subarray(off, off + len), now())
    }
  }
}
