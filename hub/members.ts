/**
 * Who may join a room besides holders of its token: enrolled keys, bans and invites, kept
 * in `<state>/members.json` (written off the join path, like leases). The hub stores public
 * keys, never secrets: an invite's secret is kept as its scrypt hash only.
 *
 *   enrolment   identity -> public key, bound on the first join that proved the key (with
 *               the room's token or an invite). From then on that identity joins only by
 *               proving the key: its identity string alone is worth nothing.
 *   bans        by key: a banned key's joins are refused (BANNED) until unbanned
 *   invites     id -> {hash, uses left, expiry, name}; a use is reserved before the (slow)
 *               hash check, so two racing joins can never overspend a one-use invite
 */
import { join } from 'node:path'
import { OverlanError } from '../core/errors.js'
import { newInviteId, newInviteSecret } from '../core/invite.js'
import { keyFingerprint, parsePublicKey } from '../core/keys.js'
import { CoalescedFile, readJsonFile, removeStaleTemps, writeFileAtomic } from '../core/state-file.js'
import { hashSecret, verifySecret } from './secrets.js'

export const MEMBERS_FILE = 'members.json'
const FILE_VERSION = 1
const FLUSH_MS = 250
/** Bounds: invites and bans per room (members are bounded by the room's leases). */
export const MAX_INVITES_PER_ROOM = 256
export const MAX_BANS_PER_ROOM = 4096
/** Enrolled identities per room (a token holder could otherwise enrol new identities forever). */
export const MAX_MEMBERS_PER_ROOM = 4096

export interface MemberRecord {
  key: string
  name: string
  enrolledAt: number
  via: 'token' | 'invite'
}

export interface InviteRecord {
  id: string
  room: string
  /** Name given to whoever uses it (else the peer's own). */
  name: string | null
  hash: string
  usesLeft: number
  expiresAt: number
  createdAt: number
  /** Uses taken by joins still checking the secret (not saved). */
  reserved?: number
}

export type InviteInfo = Omit<InviteRecord, 'hash' | 'reserved'>

interface RoomMembers {
  members: Map<string, MemberRecord>
  /** Banned public keys -> when and the name they had. */
  bans: Map<string, { name: string, at: number }>
  invites: Map<string, InviteRecord>
}

/** What changed, for a cluster's store (hub/cluster): enrolments and bans are shared there. */
export type MemberChange =
  | { kind: 'enroll', identity: string, key: string, name: string, via: MemberRecord['via'] }
  | { kind: 'unenroll', identity: string }
  | { kind: 'ban', key: string, name: string }
  | { kind: 'unban', key: string }

/** A cluster's store for invites (hub/cluster): made on any hub, spent once, on whichever owns the room. */
export interface SharedInvites {
  put: (inv: InviteRecord) => Promise<void>
  remove: (id: string) => Promise<void>
  fetch: (room: string, id: string) => Promise<InviteRecord | null>
  /** Takes one use atomically; false when none is left (or it expired, or was revoked). */
  spend: (id: string) => Promise<boolean>
  giveBack: (id: string) => Promise<void>
}

export class MemberStore {
  private readonly rooms = new Map<string, RoomMembers>()
  /** Set by a clustered hub. */
  sharedInvites: SharedInvites | null = null
  private readonly writer: CoalescedFile | null
  /** Set by a clustered hub: every change to enrolments and bans, to write through. */
  onChange: ((room: string, c: MemberChange) => void) | null = null

  constructor (stateDir: string | null, onWriteError?: (e: Error) => void) {
    const file = stateDir === null ? null : join(stateDir, MEMBERS_FILE)
    this.writer = file === null ? null : new CoalescedFile(file, () => this.serialize(), FLUSH_MS, onWriteError)
    if (file !== null) {
      removeStaleTemps(file)
      this.load(file)
      writeFileAtomic(file, this.serialize())
    }
  }

  private room (name: string): RoomMembers {
    let r = this.rooms.get(name)
    if (r === undefined) { r = { members: new Map(), bans: new Map(), invites: new Map() }; this.rooms.set(name, r) }
    return r
  }

  /** The key an identity is enrolled with in `room`, if any. */
  keyOf (room: string, identity: string): string | undefined { return this.rooms.get(room)?.members.get(identity)?.key }

  member (room: string, identity: string): MemberRecord | undefined { return this.rooms.get(room)?.members.get(identity) }

  members (room: string): Array<[string, MemberRecord]> { return [...this.rooms.get(room)?.members ?? []] }

  /** Binds identity -> key (first proof wins; the caller checked the key is not another's). */
  enroll (room: string, identity: string, key: string, name: string, via: MemberRecord['via'], now: number): void {
    const r = this.room(room)
    const old = r.members.get(identity)
    if (old !== undefined && old.key === key && old.name === name) return
    if (old === undefined && r.members.size >= MAX_MEMBERS_PER_ROOM) throw new OverlanError('ROOM_FULL', `room ${room} already has ${MAX_MEMBERS_PER_ROOM} enrolled members`)
    r.members.set(identity, { key, name, enrolledAt: old?.enrolledAt ?? now, via: old?.via ?? via })
    this.writer?.markDirty()
    this.onChange?.(room, { kind: 'enroll', identity, key, name, via: old?.via ?? via })
  }

  /**
   * Replaces a room's enrolments and bans with a cluster store's (this hub just claimed the
   * room; the store is authoritative). Invites stay this hub's.
   */
  adopt (room: string, members: ReadonlyArray<{ identity: string, key: string, name: string, via: string }>, bans: ReadonlyArray<{ key: string, name: string }>, now: number): void {
    const r = this.room(room)
    r.members = new Map(members.slice(0, MAX_MEMBERS_PER_ROOM).map(m => [m.identity, { key: m.key, name: m.name, enrolledAt: now, via: m.via === 'invite' ? 'invite' : 'token' }]))
    r.bans = new Map(bans.slice(0, MAX_BANS_PER_ROOM).map(b => [b.key, { name: b.name, at: now }]))
    this.writer?.markDirty()
  }

  /** Forgets an enrolment (the key must be enrolled again: token or invite). */
  unenroll (room: string, identity: string): void {
    if (this.rooms.get(room)?.members.delete(identity) === true) { this.writer?.markDirty(); this.onChange?.(room, { kind: 'unenroll', identity }) }
  }

  isBanned (room: string, key: string): boolean { return this.rooms.get(room)?.bans.has(key) ?? false }

  bans (room: string): Array<{ key: string, fingerprint: string, name: string, at: number }> {
    return [...this.rooms.get(room)?.bans ?? []].map(([key, b]) => ({ key, fingerprint: keyFingerprint(key), ...b }))
  }

  ban (room: string, key: string, name: string, now: number): void {
    const r = this.room(room)
    if (!r.bans.has(key) && r.bans.size >= MAX_BANS_PER_ROOM) throw new OverlanError('ROOM_FULL', `room ${room} already has ${MAX_BANS_PER_ROOM} bans`)
    r.bans.set(key, { name, at: now })
    this.writer?.markDirty()
    this.onChange?.(room, { kind: 'ban', key, name })
  }

  /** Lifts a ban by name (as shown by `hub peers`) or key fingerprint. True if one was lifted. */
  unban (room: string, who: string): boolean {
    const r = this.rooms.get(room)
    if (r === undefined) return false
    for (const [key, b] of r.bans) {
      if (b.name === who || keyFingerprint(key) === who || key === who) { r.bans.delete(key); this.writer?.markDirty(); this.onChange?.(room, { kind: 'unban', key }); return true }
    }
    return false
  }

  /** A new invite; returns its id and secret (the only time the secret exists outside the invite). */
  async createInvite (room: string, o: { name: string | null, uses: number, expiresAt: number, now: number }): Promise<{ id: string, secret: string }> {
    const r = this.room(room)
    this.expireInvites(r, o.now)
    if (r.invites.size >= MAX_INVITES_PER_ROOM) throw new OverlanError('ROOM_FULL', `room ${room} already has ${MAX_INVITES_PER_ROOM} open invites; revoke some`)
    const id = newInviteId()
    const secret = newInviteSecret()
    const inv: InviteRecord = { id, room, name: o.name, hash: await hashSecret(secret), usesLeft: o.uses, expiresAt: o.expiresAt, createdAt: o.now }
    r.invites.set(id, inv)
    this.writer?.markDirty()
    await this.sharedInvites?.put({ ...inv })
    return { id, secret }
  }

  invites (room: string, now: number): InviteInfo[] {
    const r = this.rooms.get(room)
    if (r === undefined) return []
    this.expireInvites(r, now)
    return [...r.invites.values()].map(({ hash: _hash, reserved: _reserved, ...info }) => info)
  }

  /** Withdraws an invite by id (any room). True if it existed here, or was withdrawn from a cluster's store. */
  revokeInvite (id: string): boolean {
    void this.sharedInvites?.remove(id).catch(() => {})
    for (const r of this.rooms.values()) if (r.invites.delete(id)) { this.writer?.markDirty(); return true }
    return this.sharedInvites !== null
  }

  /**
   * Uses one use of invite `id` with `secret` in `room`: resolves with the invite, or throws
   * INVITE_INVALID (unknown, used up, expired, wrong secret, another room).
   */
  async redeem (room: string, id: string, secret: string, now: number): Promise<InviteRecord> {
    // In a cluster the invite may have been made on another hub: fetch it from the store.
    if (this.sharedInvites !== null && this.rooms.get(room)?.invites.get(id) === undefined) {
      const remote = await this.sharedInvites.fetch(room, id).catch(() => null)
      if (remote !== null && this.rooms.get(room)?.invites.get(id) === undefined) this.room(room).invites.set(id, remote)
    }
    const r = this.rooms.get(room)
    const inv = r?.invites.get(id)
    const invalid = new OverlanError('INVITE_INVALID', 'this invite is unknown, used up or expired: ask for a new one')
    if (r === undefined || inv === undefined || inv.usesLeft <= 0 || inv.expiresAt <= now) throw invalid
    inv.usesLeft-- // reserved before the await
    inv.reserved = (inv.reserved ?? 0) + 1
    const ok = await verifySecret(secret, inv.hash)
    inv.reserved--
    // Revoked (or replaced) while the secret was checked: no join.
    if (!ok || r.invites.get(id) !== inv) { inv.usesLeft++; throw invalid }
    // The store's count is the one that holds across hubs: one use, atomically.
    if (this.sharedInvites !== null && !(await this.sharedInvites.spend(id).catch(() => false))) { inv.usesLeft++; r.invites.delete(id); throw invalid }
    if (inv.usesLeft <= 0 && inv.reserved === 0) r.invites.delete(id)
    this.writer?.markDirty()
    return inv
  }

  /** Gives a use back (the join it was spent on was refused afterwards). */
  refund (inv: InviteRecord): void {
    const r = this.rooms.get(inv.room)
    if (r === undefined) return
    inv.usesLeft++
    if (!r.invites.has(inv.id) && inv.expiresAt > Date.now()) r.invites.set(inv.id, inv)
    this.writer?.markDirty()
    void this.sharedInvites?.giveBack(inv.id).catch(() => {})
  }

  async flush (): Promise<void> { await this.writer?.flush() }

  private expireInvites (r: RoomMembers, now: number): void {
    for (const [id, inv] of r.invites) {
      if ((inv.reserved ?? 0) > 0) continue // a join is checking it: its use may come back
      if (inv.expiresAt <= now || inv.usesLeft <= 0) { r.invites.delete(id); this.writer?.markDirty() }
    }
  }

  private serialize (): string {
    const rooms: Record<string, unknown> = {}
    for (const [name, r] of this.rooms) {
      rooms[name] = { members: Object.fromEntries(r.members), bans: Object.fromEntries(r.bans), invites: [...r.invites.values()].map(({ reserved: _r, ...inv }) => inv) }
    }
    return JSON.stringify({ version: FILE_VERSION, rooms }, null, 1) + '\n'
  }

  private load (file: string): void {
    const data = readJsonFile(file) as { version?: unknown, rooms?: unknown } | undefined
    if (data === undefined) return
    const bad = (why: string): OverlanError => new OverlanError('STATE_IO', `${file}: ${why}; fix it or move it away (members would then join with the token or a new invite again)`)
    if (typeof data !== 'object' || data === null || data.version !== FILE_VERSION || typeof data.rooms !== 'object' || data.rooms === null) throw bad(`not a version ${FILE_VERSION} members file`)
    for (const [name, raw] of Object.entries(data.rooms as Record<string, unknown>)) {
      const v = raw as { members?: unknown, bans?: unknown, invites?: unknown } | null
      if (typeof v !== 'object' || v === null) throw bad(`room ${name} is not an object`)
      const r = this.room(name)
      for (const [identity, m] of Object.entries((v.members ?? {}) as Record<string, Partial<MemberRecord> | null>)) {
        if (m === null || typeof m.key !== 'string' || parsePublicKey(m.key) === null || !/^[0-9a-f]{16,128}$/.test(identity)) throw bad(`member ${identity} of room ${name} is malformed`)
        r.members.set(identity, { key: m.key, name: String(m.name ?? ''), enrolledAt: Number(m.enrolledAt ?? 0) || 0, via: m.via === 'invite' ? 'invite' : 'token' })
      }
      for (const [key, b] of Object.entries((v.bans ?? {}) as Record<string, { name?: unknown, at?: unknown } | null>)) {
        if (parsePublicKey(key) === null) throw bad(`a ban in room ${name} is not a key`)
        r.bans.set(key, { name: String(b?.name ?? ''), at: Number(b?.at ?? 0) || 0 })
      }
      for (const inv of (Array.isArray(v.invites) ? v.invites : []) as Array<Partial<InviteRecord> | null>) {
        if (inv === null || typeof inv.id !== 'string' || typeof inv.hash !== 'string') throw bad(`an invite of room ${name} is malformed`)
        r.invites.set(inv.id, { id: inv.id, room: name, name: typeof inv.name === 'string' ? inv.name : null, hash: inv.hash, usesLeft: Number(inv.usesLeft ?? 0), expiresAt: Number(inv.expiresAt ?? 0), createdAt: Number(inv.createdAt ?? 0) })
      }
    }
  }
}
