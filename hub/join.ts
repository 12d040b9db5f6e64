/**
 * The join desk: turns a `hello` into a place in a room, or a refusal.
 *
 *   version ─► room + token (constant time; with auto-creation off an unknown room and a
 *   wrong token get the same AUTH_FAILED, so room names cannot be enumerated)
 *   ─► room size ─► unique name (a second "bob" is "bob-2") ─► lease ─► switch port
 *
 * Refusals are thrown as OverlanError with a REFUSAL_CLOSE_CODES code; the hub sends them.
 */
import { OverlanError } from '../core/errors.js'
import { formatCidr } from '../core/ipv4.js'
import type { Logger } from '../core/log.js'
import { PROTOCOL_VERSION, type HelloMessage } from '../core/protocol.js'
import { tokenMatches } from './auth.js'
import type { HubSettings, RoomSettings } from './config.js'
import type { LeaseRecord, LeaseStore } from './leases.js'
import { Room } from './room.js'

const ROOM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export interface JoinDeskDeps {
  settings: HubSettings
  rooms: Map<string, Room>
  leases: LeaseStore
  /** Token of rooms created on first join (auto-creation on). */
  autoToken: string | undefined
  now: () => number
  log: Logger
  /** Called once for a room created on first join, before its first member joins. */
  onRoomCreated?: (room: Room) => void
}

export interface Admission {
  room: Room
  name: string
  lease: LeaseRecord
}

export class JoinDesk {
  constructor (private readonly d: JoinDeskDeps) {}

  /** Checks a hello and grants its lease. Throws refusals; creates an auto room only once all checks passed. */
  admit (m: HelloMessage): Admission {
    if (m.version !== PROTOCOL_VERSION) {
      throw new OverlanError('PROTOCOL_VERSION', `this hub speaks protocol version ${PROTOCOL_VERSION}, the peer sent ${m.version}; upgrade the older side`)
    }
    const room = this.roomFor(m)
    const existing = room.sessionOf(m.identity)
    if (existing === undefined && room.size >= room.settings.maxPeers) {
      throw new OverlanError('ROOM_FULL', `room ${m.room} is full (${room.settings.maxPeers} peers)`)
    }
    const name = room.uniqueName(m.name, m.identity)
    const lease = this.d.leases.acquire({
      room: m.room,
      subnet: room.settings.subnet,
      identity: m.identity,
      name,
      ...(m.address !== undefined ? { address: m.address } : {}),
      ...(m.lease !== undefined ? { hint: m.lease } : {}),
      now: Date.now(),
      isConnected: (id) => room.sessionOf(id) !== undefined
    })
    if (!this.d.rooms.has(m.room)) {
      this.d.rooms.set(m.room, room)
      this.d.log.info('room.create', { room: m.room, subnet: formatCidr(room.settings.subnet) })
      this.d.onRoomCreated?.(room)
    }
    return { room, name, lease }
  }

  /** The room of a hello (a new one, not yet registered, when auto-creation applies). */
  private roomFor (m: HelloMessage): Room {
    const room = this.d.rooms.get(m.room)
    const s = this.d.settings
    if (room !== undefined) {
      if (!tokenMatches(m.token, room.settings.token)) throw new OverlanError('AUTH_FAILED', authFailed(m.room, s.autoCreateRooms))
      return room
    }
    if (!s.autoCreateRooms) {
      // Same answer as a wrong token (and the same constant-time work): names stay secret.
      tokenMatches(m.token, m.token)
      throw new OverlanError('AUTH_FAILED', authFailed(m.room, false))
    }
    if (!tokenMatches(m.token, this.d.autoToken!)) throw new OverlanError('AUTH_FAILED', authFailed(m.room, true))
    if (!ROOM_NAME.test(m.room)) throw new OverlanError('ROOM_UNKNOWN', 'room names are 1-64 letters, digits, ".", "_" or "-"')
    if (this.d.rooms.size >= s.maxRooms) throw new OverlanError('ROOM_FULL', `this hub already has ${s.maxRooms} rooms`)
    const settings: RoomSettings = { ...s.autoRoom, name: m.room, token: this.d.autoToken! }
    return new Room(settings, this.d.now())
  }
}

const authFailed = (room: string, autoRooms: boolean): string =>
  autoRooms ? `wrong join token for room ${room}` : `wrong join token, or no room ${room} on this hub`
