/**
 * The join desk: turns a `hello` (and, with a key, its proof) into a place in a room, or a
 * refusal.
 *
 *   version ─► room ─► who may enter:
 *     proven key   banned? BANNED ─► enrolled for this identity? in ─► else an invite of the
 *                  room (INVITE_INVALID) or the room's token enrols identity -> key ─► in
 *     no key       an identity enrolled with a key: AUTH_FAILED; else the room's token
 *   (with auto-creation off an unknown room and a wrong token get the same AUTH_FAILED, so
 *    room names cannot be enumerated) ─► room size ─► unique name ─► lease
 *
 * Refusals are thrown as OverlanError with a REFUSAL_CLOSE_CODES code; the hub sends them.
 * admit() may wait (an invite's scrypt check): the hub re-checks its connection afterwards.
 */
import { OverlanError } from '../core/errors.js'
import { formatCidr } from '../core/ipv4.js'
import type { Logger } from '../core/log.js'
import { PROTOCOL_VERSION, type HelloMessage } from '../core/protocol.js'
import { tokenMatches } from './auth.js'
import type { HubSettings, RoomSettings } from './config.js'
import type { LeaseRecord, LeaseStore } from './leases.js'
import type { InviteRecord, MemberStore } from './members.js'
import { Room } from './room.js'

const ROOM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export interface JoinDeskDeps {
  settings: HubSettings
  rooms: Map<string, Room>
  leases: LeaseStore
  members: MemberStore
  /** Checks the token of rooms created on first join (auto-creation on; hub/auto-token.ts). */
  autoToken: (given: string) => Promise<boolean>
  now: () => number
  log: Logger
  /** Called once for a room created on first join, before its first member joins. */
  onRoomCreated?: (room: Room) => void
}

export interface Admission {
  room: Room
  name: string
  lease: LeaseRecord
  /** How the peer got in. */
  via: 'token' | 'key' | 'invite'
}

export class JoinDesk {
  constructor (private readonly d: JoinDeskDeps) {}

  /** Checks a hello (whose `key`, if any, the hub has seen proven) and grants its lease. Throws refusals. */
  async admit (m: HelloMessage, provenKey: string | null): Promise<Admission> {
    if (m.version !== PROTOCOL_VERSION) {
      throw new OverlanError('PROTOCOL_VERSION', `this hub speaks protocol version ${PROTOCOL_VERSION}, the peer sent ${m.version}; upgrade the older side`)
    }
    const s = this.d.settings
    const existing = this.d.rooms.get(m.room)
    const now = Date.now()
    const tokenOk = existing !== undefined && !existing.settings.autoCreated
      ? roomTokenMatches(existing.settings, m.token, now)
      : s.autoCreateRooms && (s.autoRoom.oldTokens.some(o => o.untilMs > now && tokenMatches(m.token, o.token)) || await this.d.autoToken(m.token))
    const enrolledKey = this.d.members.keyOf(m.room, m.identity)
    let via: Admission['via']
    let inviteName: string | null = null
    let spent: InviteRecord | null = null
    // Full before anything is spent (an invite's use is not wasted on a refused join).
    if (existing !== undefined && existing.sessionOf(m.identity) === undefined && existing.size >= existing.settings.maxPeers) {
      throw new OverlanError('ROOM_FULL', `room ${m.room} is full (${existing.settings.maxPeers} peers)`)
    }
    if (provenKey === null) {
      if (enrolledKey !== undefined) throw new OverlanError('AUTH_FAILED', `this peer identity is enrolled in room ${m.room} with a key: only the peer holding it can join as it`)
      if (!tokenOk) throw new OverlanError('AUTH_FAILED', authFailed(m.room, s.autoCreateRooms))
      via = 'token'
    } else {
      if (this.d.members.isBanned(m.room, provenKey)) throw new OverlanError('BANNED', `this peer's key is banned from room ${m.room}`)
      if (enrolledKey !== undefined && enrolledKey !== provenKey) throw new OverlanError('AUTH_FAILED', `this peer identity is enrolled in room ${m.room} with another key`)
      if (enrolledKey === provenKey) via = 'key'
      else if (m.invite !== undefined) {
        // A token-only room answers as to any invalid invite (nothing about the room leaks).
        if (existing?.settings.join === 'token') throw new OverlanError('INVITE_INVALID', 'this invite is unknown, used up or expired: ask for a new one')
        const [id = '', secret = ''] = m.invite.split('.')
        spent = await this.d.members.redeem(m.room, id, secret, Date.now())
        inviteName = spent.name
        via = 'invite'
        // Banned while the secret was checked: the ban wins.
        if (this.d.members.isBanned(m.room, provenKey)) { this.d.members.refund(spent); throw new OverlanError('BANNED', `this peer's key is banned from room ${m.room}`) }
      } else if (tokenOk) via = 'token'
      else if (existing?.settings.join === 'invite') {
        throw new OverlanError('AUTH_FAILED', s.autoCreateRooms ? `room ${m.room} takes new members by invite only: ask for one (hub invite)` : authFailed(m.room, false))
      }
      else throw new OverlanError('AUTH_FAILED', authFailed(m.room, s.autoCreateRooms))
    }
    try {
      return this.place(m, provenKey, via, inviteName)
    } catch (e) {
      if (spent !== null) this.d.members.refund(spent)
      throw e
    }
  }

  /** After the checks: the room (made when it is new), the name, the lease, the enrolment. */
  private place (m: HelloMessage, provenKey: string | null, via: Admission['via'], inviteName: string | null): Admission {
    const s = this.d.settings
    // Re-read after the await: the room may have been created (or expired) meanwhile.
    let room = this.d.rooms.get(m.room)
    const created = room === undefined
    if (room === undefined) {
      if (!s.autoCreateRooms) throw new OverlanError('AUTH_FAILED', authFailed(m.room, false))
      if (!ROOM_NAME.test(m.room)) throw new OverlanError('ROOM_UNKNOWN', 'room names are 1-64 letters, digits, ".", "_" or "-"')
      if (this.d.rooms.size >= s.maxRooms) throw new OverlanError('ROOM_FULL', `this hub already has ${s.maxRooms} rooms`)
      // The token of auto rooms is checked by the hub (possibly only as a hash), never stored per room.
      const settings: RoomSettings = { ...s.autoRoom, name: m.room, token: '', oldTokens: s.autoRoom.oldTokens }
      room = new Room(settings, this.d.now())
    }
    if (room.sessionOf(m.identity) === undefined && room.size >= room.settings.maxPeers) {
      throw new OverlanError('ROOM_FULL', `room ${m.room} is full (${room.settings.maxPeers} peers)`)
    }
    const name = room.uniqueName(inviteName ?? m.name, m.identity)
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
    if (provenKey !== null) this.d.members.enroll(m.room, m.identity, provenKey, name, via === 'invite' ? 'invite' : 'token', Date.now())
    if (created) {
      this.d.rooms.set(m.room, room)
      this.d.log.info('room.create', { room: m.room, subnet: formatCidr(room.settings.subnet) })
      this.d.onRoomCreated?.(room)
    }
    return { room, name, lease, via }
  }
}

/** Without auto-creation the same sentence for a wrong token and an unknown room: names stay secret. */
/**
 * The room takes tokens (join: token | both) and `given` is its token, or an old one still in
 * its grace period (a rotation). Every candidate is compared, so timing tells nothing.
 */
export const roomTokenMatches = (r: Pick<RoomSettings, 'token' | 'oldTokens' | 'join'>, given: string, now: number): boolean => {
  let ok = r.token !== '' && tokenMatches(given, r.token)
  for (const o of r.oldTokens) if (o.untilMs > now && tokenMatches(given, o.token)) ok = true
  return ok && r.join !== 'invite'
}

const authFailed = (room: string, autoRooms: boolean): string =>
  autoRooms ? `wrong join token for room ${room}` : `wrong join token, or no room ${room} on this hub`
