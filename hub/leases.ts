/**
 * Leases: a stable MAC and IPv4 address per (room, peer identity), kept in
 * `<state>/leases.json` (written atomically) so a peer that reconnects, or reconnects
 * after a hub restart, gets the same addresses and games/SMB sessions survive.
 *
 * Bounded: a room holds at most as many leases as its subnet has hosts. When the subnet
 * is full, the least recently seen lease of a peer that is not connected is reclaimed.
 *
 * MACs and addresses are normalised (lower-case, canonical dotted quad) before anything is
 * compared or stored, so no spelling of another identity's MAC or address can take it.
 * Writes are coalesced off the join path: a join marks the store dirty and at most one
 * write per FLUSH_MS follows, asynchronously (`flush()` on stop). The state directory is
 * proven writable, temp files of a crashed run removed and the file validated at start.
 */
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { OverlanError } from '../core/errors.js'
import { formatIpv4, hostRange, parseIpv4, subnetContains, type Subnet } from '../core/ipv4.js'
import { CoalescedFile, readJsonFile, removeStaleTemps, writeFileAtomic } from '../core/state-file.js'
import { formatMac, parseMac } from '../l2/ethernet.js'

export const LEASES_FILE = 'leases.json'
const FILE_VERSION = 1
/** Longest a changed lease waits for its write. */
export const FLUSH_MS = 250
/** A join that changes nothing but lastSeen is written only if lastSeen moved this much. */
const LAST_SEEN_RESOLUTION_MS = 60_000

/** Canonical "02:ab:…" (lower case), or null. */
export const normalMac = (s: string): string | null => { const v = parseMac(s); return v === null ? null : formatMac(v) }
/** Canonical dotted quad, or null. */
export const normalIp = (s: string): string | null => { const v = parseIpv4(s); return v === null ? null : formatIpv4(v) }

export interface LeaseRecord {
  mac: string
  ip: string
  name: string
  /** ms since epoch of the last join. */
  lastSeen: number
}

export interface LeaseRequest {
  room: string
  subnet: Subnet
  identity: string
  name: string
  /** Specific address asked for (--address). */
  address?: string
  /** The lease the peer says it held; honoured when this hub has none for it and it is free. */
  hint?: { mac: string, ip: string }
  now: number
  /** Identities connected right now (their leases are never reclaimed). */
  isConnected: (identity: string) => boolean
}

type RoomLeases = Map<string, LeaseRecord>

export interface LeaseStoreDeps {
  /** A background write failed (it is retried with the next change). */
  onWriteError?: (e: Error) => void
}

export class LeaseStore {
  private readonly rooms = new Map<string, RoomLeases>()
  private readonly file: string | null
  private readonly writer: CoalescedFile | null

  /**
   * `stateDir` null keeps leases in memory only (tests). Throws STATE_IO at once when the
   * file is malformed or the directory is not writable, so a hub never starts half-working.
   */
  constructor (stateDir: string | null, deps: LeaseStoreDeps = {}) {
    this.file = stateDir === null ? null : join(stateDir, LEASES_FILE)
    this.writer = this.file === null ? null : new CoalescedFile(this.file, () => this.serialize(), FLUSH_MS, deps.onWriteError)
    if (this.file !== null) {
      removeStaleTemps(this.file)
      this.load(this.file)
      writeFileAtomic(this.file, this.serialize())
    }
  }

  /** Background writes done (tests and status). */
  get writes (): number { return this.writer?.writes ?? 0 }

  get (room: string, identity: string): LeaseRecord | undefined {
    return this.rooms.get(room)?.get(identity)
  }

  /** Frees the lease of `identity` in `room` (its address and MAC may go to others). True if there was one. */
  release (room: string, identity: string): boolean {
    const ok = this.rooms.get(room)?.delete(identity) ?? false
    if (ok) this.save()
    return ok
  }

  /**
   * Replaces a room's leases with the cluster store's (hub/cluster: the store is
   * authoritative; this hub just claimed the room). Malformed entries are left out.
   */
  adopt (room: string, leases: ReadonlyArray<{ identity: string, mac: string, ip: string, name: string }>, now: number): void {
    const m: RoomLeases = new Map()
    for (const l of leases) {
      const mac = normalMac(l.mac)
      const ip = normalIp(l.ip)
      if (mac !== null && ip !== null) m.set(l.identity, { mac, ip, name: l.name, lastSeen: now })
    }
    this.rooms.set(room, m)
    this.save()
  }

  /** Leases of a room, identity -> record (a copy). */
  list (room: string): Array<[string, LeaseRecord]> { return [...this.rooms.get(room) ?? []].map(([id, l]) => [id, { ...l }]) }

  /** Grants (and persists) the lease for a join, or throws ADDRESS_UNAVAILABLE / SUBNET_EXHAUSTED. */
  acquire (request: LeaseRequest): LeaseRecord {
    // A hint is used only in canonical form; a malformed one is ignored.
    const { hint: given, ...rest } = request
    const hintMac = given !== undefined ? normalMac(given.mac) : null
    const hintIp = given !== undefined ? normalIp(given.ip) : null
    const r: LeaseRequest = hintMac !== null && hintIp !== null ? { ...rest, hint: { mac: hintMac, ip: hintIp } } : rest
    let leases = this.rooms.get(r.room)
    if (leases === undefined) { leases = new Map(); this.rooms.set(r.room, leases) }
    const current = leases.get(r.identity)
    let ip: string
    if (r.address !== undefined) {
      ip = this.checkRequested(leases, r)
    } else if (current !== undefined && subnetContains(r.subnet, parseIpv4(current.ip) ?? -1)) {
      ip = current.ip
    } else if (current === undefined && r.hint !== undefined && this.isFree(leases, r, r.hint.ip)) {
      ip = r.hint.ip
    } else {
      ip = this.freeAddress(leases, r)
    }
    const hintedMac = current === undefined && r.hint !== undefined && ip === r.hint.ip && this.macFree(leases, r.hint.mac) ? r.hint.mac : undefined
    const mac = current?.mac ?? hintedMac ?? this.newMac(leases, r.room, r.identity)
    const record: LeaseRecord = { mac, ip, name: r.name, lastSeen: r.now }
    leases.set(r.identity, record)
    if (current === undefined || current.mac !== mac || current.ip !== ip || current.name !== r.name || r.now - current.lastSeen >= LAST_SEEN_RESOLUTION_MS) this.save()
    return record
  }

  /** Writes pending changes now; resolves when the file holds them. */
  async flush (): Promise<void> { await this.writer?.flush() }

  private checkRequested (leases: RoomLeases, r: LeaseRequest): string {
    const want = parseIpv4(r.address!)
    const { first, last } = hostRange(r.subnet)
    if (want === null || want < first || want > last) {
      throw new OverlanError('ADDRESS_UNAVAILABLE', `address ${r.address} is not a host address of the room's subnet ${formatIpv4(r.subnet.network)}/${r.subnet.prefixLength}`)
    }
    const ip = formatIpv4(want)
    for (const [id, l] of leases) {
      if (l.ip === ip && id !== r.identity) {
        throw new OverlanError('ADDRESS_UNAVAILABLE', `address ${ip} is leased to "${l.name}" in room ${r.room}; pick another or leave --address out`)
      }
    }
    return ip
  }

  private isFree (leases: RoomLeases, r: LeaseRequest, ip: string): boolean {
    const v = parseIpv4(ip)
    const { first, last } = hostRange(r.subnet)
    if (v === null || v < first || v > last) return false
    for (const l of leases.values()) if (l.ip === ip) return false
    return true
  }

  /** A hinted MAC (normalised) is taken only if it is a locally administered unicast MAC no one else has. */
  private macFree (leases: RoomLeases, mac: string): boolean {
    const v = parseMac(mac)
    if (v === null || Math.floor(v / 2 ** 40) % 4 !== 2) return false
    for (const l of leases.values()) if (l.mac === mac) return false
    return true
  }

  private freeAddress (leases: RoomLeases, r: LeaseRequest): string {
    const used = new Set<number>()
    for (const l of leases.values()) used.add(parseIpv4(l.ip) ?? -1)
    const { first, last } = hostRange(r.subnet)
    for (let a = first; a <= last; a++) if (!used.has(a)) return formatIpv4(a)
    // Full: reclaim the lease seen longest ago whose peer is not connected.
    let oldest: [string, LeaseRecord] | undefined
    for (const entry of leases) {
      if (entry[0] === r.identity || r.isConnected(entry[0])) continue
      if (!subnetContains(r.subnet, parseIpv4(entry[1].ip) ?? -1)) continue
      if (oldest === undefined || entry[1].lastSeen < oldest[1].lastSeen) oldest = entry
    }
    if (oldest === undefined) {
      throw new OverlanError('SUBNET_EXHAUSTED', `room ${r.room} has no free address left in ${formatIpv4(r.subnet.network)}/${r.subnet.prefixLength}`)
    }
    leases.delete(oldest[0])
    return oldest[1].ip
  }

  /** Locally administered unicast MAC (02:…) derived from room+identity, unique in the room. */
  private newMac (leases: RoomLeases, room: string, identity: string): string {
    const taken = new Set<string>()
    for (const l of leases.values()) taken.add(l.mac)
    const h = createHash('sha256').update(room).update('\0').update(identity).digest()
    let v = h.readUIntBE(0, 5)
    for (let i = 0; i < 1024; i++) {
      const mac = formatMac(0x02 * 2 ** 40 + ((v + i) % 2 ** 40))
      if (!taken.has(mac)) return mac
    }
    throw new OverlanError('INTERNAL', `no free MAC in room ${room}`)
  }

  private load (file: string): void {
    const data = readJsonFile(file) as { version?: unknown, rooms?: unknown } | undefined
    if (data === undefined) return
    const bad = (why: string): OverlanError => new OverlanError('STATE_IO', `${file}: ${why}; fix it or move it away to start fresh`)
    if (typeof data !== 'object' || data === null || data.version !== FILE_VERSION || typeof data.rooms !== 'object' || data.rooms === null) {
      throw bad(`not a version ${FILE_VERSION} lease file`)
    }
    for (const [room, entries] of Object.entries(data.rooms as Record<string, unknown>)) {
      if (typeof entries !== 'object' || entries === null) throw bad(`room ${room} is not an object`)
      const leases: RoomLeases = new Map()
      const macs = new Set<string>()
      const ips = new Set<string>()
      for (const [identity, l] of Object.entries(entries as Record<string, unknown>)) {
        const e = (typeof l === 'object' && l !== null ? l : {}) as Partial<LeaseRecord>
        const mac = typeof e.mac === 'string' ? normalMac(e.mac) : null
        const ip = typeof e.ip === 'string' ? normalIp(e.ip) : null
        if (mac === null || ip === null) throw bad(`lease of ${identity} in room ${room} is malformed`)
        if (macs.has(mac) || ips.has(ip)) throw bad(`MAC ${mac} or address ${ip} is leased twice in room ${room}`)
        macs.add(mac)
        ips.add(ip)
        leases.set(identity, { mac, ip, name: String(e.name ?? ''), lastSeen: Number(e.lastSeen ?? 0) || 0 })
      }
      this.rooms.set(room, leases)
    }
  }

  private serialize (): string {
    const rooms: Record<string, Record<string, LeaseRecord>> = {}
    for (const [room, leases] of this.rooms) rooms[room] = Object.fromEntries(leases)
    return JSON.stringify({ version: FILE_VERSION, rooms }, null, 1) + '\n'
  }

  private save (): void { this.writer?.markDirty() }
}
