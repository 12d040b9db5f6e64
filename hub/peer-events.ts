/**
 * A session's connection events on their way to the hub (hub.ts implements PeerSide).
 */
import type { Socket } from 'node:net'
import type { WsHandlers } from '../core/websocket/connection.js'
import type { Session } from './session.js'

/** The hub's handling of every session's events (one set of functions for all sessions). */
export interface PeerSide {
  binary: (e: PeerEvents, buf: Buffer, off: number, len: number) => void
  text: (e: PeerEvents, text: string) => void
  alive: (e: PeerEvents) => void
  pong: (e: PeerEvents) => void
  error: (e: PeerEvents, err: Error) => void
  closed: (e: PeerEvents, code: number, reason: string) => void
}

/**
 * One session's connection events, passed on to the hub's PeerSide. A class, not closures
 * made per connection: every session then runs the same functions, optimised once by the JIT
 * and kept warm by any session's traffic. Nothing reaches the hub before the session exists.
 */
export class PeerEvents implements WsHandlers {
  s: Session | null = null
  helloTimer: NodeJS.Timeout | null = null
  constructor (private readonly side: PeerSide, readonly client: string, readonly socket: Socket, readonly remote: string) {}
  binary (buf: Buffer, off: number, len: number): void { if (this.s !== null) this.side.binary(this, buf, off, len) }
  text (text: string): void { if (this.s !== null) this.side.text(this, text) }
  ping (): void { if (this.s !== null) this.side.alive(this) }
  pong (): void { if (this.s !== null) this.side.pong(this) }
  error (err: Error): void { this.side.error(this, err) }
  closed (code: number, reason: string): void { this.side.closed(this, code, reason) }
}
