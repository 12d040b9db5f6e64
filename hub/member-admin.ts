/**
 * What a hub owner does to members: list them, kick one (it may join again), ban one (its
 * key is refused with BANNED; its session ends at once and its lease is freed), lift a
 * ban, free a lease, and make, list and withdraw invites. The same operations serve the
 * local control socket (`hub invite`, `hub peers`, … — hub/control-socket.ts) and the HTTP
 * admin API; each is one line in the audit log.
 */
import { OverlanError } from '../core/errors.js'
import { encodeInvite } from '../core/invite.js'
import { keyFingerprint } from '../core/keys.js'
import type { RefusalCode } from '../core/protocol.js'
import type { AuditLog } from './audit.js'
import type { LeaseStore } from './leases.js'
import type { InviteInfo, MemberStore } from './members.js'
import type { Room } from './room.js'
import type { Session } from './session.js'

export interface MemberAdminDeps {
  rooms: ReadonlyMap<string, Room>
  leases: LeaseStore
  members: MemberStore
  audit: AuditLog
  now: () => number
  /** Ends a session with a refusal code (error message + close). */
  disconnect: (s: Session, code: RefusalCode, message: string) => void
  /** What invites carry: the hub's public URL (wss://…) and its key pin (null: public CA). */
  publicUrl: () => string
  pin: () => string | null
}

export interface MemberView {
  name: string
  ip: string
  mac: string
  key: string | null
  online: boolean
  onlineSinceS: number | null
  lastSeen: number
  remote: string | null
  rxBytes: number
  txBytes: number
  banned: boolean
}

export class MemberAdmin {
  constructor (private readonly d: MemberAdminDeps) {}

  private roomOf (name: string): Room | undefined { return this.d.rooms.get(name) }

  /** Everyone with a lease in the room, online or not. */
  peers (room: string): MemberView[] {
    const r = this.roomOf(room)
    const now = this.d.now()
    return this.d.leases.list(room).map(([identity, l]) => {
      const s = r?.sessionOf(identity)
      const key = this.d.members.keyOf(room, identity) ?? null
      return {
        name: s?.info?.name ?? l.name,
        ip: l.ip,
        mac: l.mac,
        key: key !== null ? keyFingerprint(key) : null,
        online: s !== undefined,
        onlineSinceS: s !== undefined ? Math.round((now - s.connectedAt) / 1000) : null,
        lastSeen: l.lastSeen,
        remote: s?.remote ?? null,
        rxBytes: s?.counters.rxBytes ?? 0,
        txBytes: s?.counters.txBytes ?? 0,
        banned: key !== null && this.d.members.isBanned(room, key)
      }
    }).sort((a, b) => a.name.localeCompare(b.name))
  }

  /** The identity whose lease (or session) carries `name` in `room`. */
  private identityOf (room: string, name: string): string {
    const s = this.roomOf(room)?.list().find(x => x.info!.name === name)
    if (s !== undefined) return s.info!.identity
    const l = this.d.leases.list(room).find(([, rec]) => rec.name === name)
    if (l === undefined) throw new OverlanError('USAGE', `no member named ${name} in room ${room} (hub peers --room ${room} lists them)`)
    return l[0]
  }

  kick (room: string, name: string, by: string): void {
    const identity = this.identityOf(room, name)
    const s = this.roomOf(room)?.sessionOf(identity)
    if (s === undefined) throw new OverlanError('USAGE', `${name} is not online in room ${room}`)
    this.d.disconnect(s, 'KICKED', 'removed from the room by the hub admin; you may join again')
    this.d.audit.record('kick', { room, name, by })
  }

  /** Bans `name`'s key, ends its session now and frees its lease. */
  ban (room: string, name: string, by: string): void {
    const identity = this.identityOf(room, name)
    const key = this.d.members.keyOf(room, identity)
    if (key === undefined) throw new OverlanError('USAGE', `${name} joined without a key (an old peer): it cannot be banned by key; rotate the room's token instead`)
    this.d.members.ban(room, key, name, Date.now())
    this.d.members.unenroll(room, identity)
    const s = this.roomOf(room)?.sessionOf(identity)
    if (s !== undefined) this.d.disconnect(s, 'BANNED', `banned from room ${room} by the hub admin`)
    this.d.leases.release(room, identity)
    this.d.audit.record('ban', { room, name, key: keyFingerprint(key), by })
  }

  unban (room: string, who: string, by: string): void {
    if (!this.d.members.unban(room, who)) throw new OverlanError('USAGE', `no ban for ${who} in room ${room}`)
    this.d.audit.record('unban', { room, who, by })
  }

  /** Frees `name`'s address and MAC (ending its session first if it is online). */
  releaseLease (room: string, name: string, by: string): void {
    const identity = this.identityOf(room, name)
    const s = this.roomOf(room)?.sessionOf(identity)
    if (s !== undefined) this.d.disconnect(s, 'KICKED', 'your lease was released by the hub admin; join again for a new one')
    this.d.leases.release(room, identity)
    this.d.audit.record('lease_release', { room, name, by })
  }

  async invite (room: string, o: { name: string | null, uses: number, expiresInMs: number }, by: string): Promise<{ id: string, invite: string, expiresAt: number }> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(room)) throw new OverlanError('USAGE', 'room names are 1-64 letters, digits, ".", "_" or "-"')
    const now = Date.now()
    const expiresAt = now + o.expiresInMs
    const { id, secret } = await this.d.members.createInvite(room, { name: o.name, uses: o.uses, expiresAt, now })
    this.d.audit.record('invite_created', { room, id, name: o.name ?? undefined, uses: o.uses, expiresAt: new Date(expiresAt).toISOString(), by })
    return { id, invite: encodeInvite({ hub: this.d.publicUrl(), pin: this.d.pin(), room, id, secret }), expiresAt }
  }

  invites (room: string): InviteInfo[] { return this.d.members.invites(room, Date.now()) }

  revokeInvite (id: string, by: string): void {
    if (!this.d.members.revokeInvite(id)) throw new OverlanError('USAGE', `no invite ${id}`)
    this.d.audit.record('invite_revoked', { id, by })
  }
}
