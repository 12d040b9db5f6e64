/**
 * The room directory: what each peer offers, decoded from the discovery traffic the hub
 * switches anyway — mDNS/DNS-SD answers (RFC 6763), SSDP NOTIFY and M-SEARCH responses,
 * NBNS registrations and positive answers (RFC 1002), LAN-game server answers. Bounded
 * (entries per room and per peer, oldest evicted; every string cut to FIELD_MAX, so an
 * entry always fits the protocol) and expiring (record TTL, SSDP max-age, 120 s for games).
 * Decoding never throws: a bad packet is counted and ignored.
 */
import dnsPacket from 'dns-packet'
import type { Service } from '../core/protocol.js'
import { decodeGameReply } from './game-replies.js'
import { OPCODE_QUERY, OPCODE_REFRESH, OPCODE_REGISTRATION, OPCODE_RELEASE, SUFFIX_SERVER, SUFFIX_WORKSTATION, TYPE_NB, decode as decodeNbns } from './nbns.js'
import { maxAgeOf, parseSsdp } from './ssdp-message.js'

export const MAX_ENTRIES = 512
export const MAX_ENTRIES_PER_PEER = 64
/** Longest name, type and detail kept (the protocol allows 256; core/protocol.ts isService). */
export const FIELD_MAX = 200

export interface DirectoryLimits {
  maxEntries?: number
  maxPerPeer?: number
}

const cut = (s: string): string => s.length <= FIELD_MAX ? s : s.slice(0, FIELD_MAX - 1) + '…'
const MAX_TTL_S = 3600
const GAME_TTL_S = 120

export type ServiceKind = Service['kind']

/** An entry is exactly what the hub sends peers in `room` messages (core/protocol.ts). */
export type DirectoryEntry = Service

/** What the hub knows about a frame it saw: who sent it and where its UDP payload is. */
export interface Observation {
  peer: string
  srcIp: string
  srcPort: number
  dstPort: number
  now: number
}

export class RoomDirectory {
  private readonly entries = new Map<string, DirectoryEntry>()
  private readonly perPeer = new Map<string, number>()
  private readonly maxEntries: number
  private readonly maxPerPeer: number
  bad = 0

  constructor (limits: DirectoryLimits = {}) {
    this.maxEntries = limits.maxEntries ?? MAX_ENTRIES
    this.maxPerPeer = limits.maxPerPeer ?? MAX_ENTRIES_PER_PEER
  }

  get size (): number { return this.entries.size }

  /** Looks at one UDP payload b[off, end) of a discovery frame. */
  observe (o: Observation, b: Buffer, off: number, end: number): void {
    try {
      // Legacy unicast answers (to a port other than 5353) carry TTLs capped at 10 s for one
      // querier (RFC 6762 §6.7): not what the room should remember.
      if (o.srcPort === 5353) { if (o.dstPort === 5353) this.mdns(o, b.subarray(off, end)) }
      else if (o.srcPort === 1900 || o.dstPort === 1900) this.ssdp(o, b.subarray(off, end))
      else if (o.srcPort === 137 || o.dstPort === 137) this.nbns(o, b.subarray(off, end))
      else this.game(o, b, off, end)
    } catch {
      this.bad++
    }
  }

  /** Live entries, oldest first. */
  list (now: number): DirectoryEntry[] {
    this.expire(now)
    return [...this.entries.values()].sort((a, b) => a.peer.localeCompare(b.peer) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name))
  }

  countFor (peer: string): number { return this.perPeer.get(peer) ?? 0 }

  /** Bumped on every change (the hub saves the directory only when it changed). */
  version = 0

  /**
   * Puts back entries saved before a hub restart: only well-formed ones that have not
   * expired, through the same bounds as live ones. Returns how many were restored.
   */
  restore (saved: unknown, now: number): number {
    if (!Array.isArray(saved)) return 0
    let n = 0
    for (const e of saved.slice(0, this.maxEntries)) {
      if (!isSavedEntry(e) || e.expires <= now) continue
      this.put({ peer: e.peer, srcIp: e.address, srcPort: 0, dstPort: 0, now: e.lastSeen }, { kind: e.kind, type: e.type, name: e.name, address: e.address, port: e.port, detail: e.detail }, (e.expires - e.lastSeen) / 1000)
      n++
    }
    return n
  }

  /** Forgets the entries of every peer not in `present` (after a restart, those that did not come back). */
  keepOnly (present: ReadonlySet<string>): void {
    for (const [k, e] of this.entries) if (!present.has(e.peer)) this.remove(k, e)
  }

  /** Forgets what a peer offered (it left the room). */
  removePeer (peer: string): void {
    for (const [k, e] of this.entries) if (e.peer === peer) this.remove(k, e)
  }

  private put (o: Observation, raw: Omit<DirectoryEntry, 'peer' | 'lastSeen' | 'expires'>, ttlS: number): void {
    const e = { ...raw, type: cut(raw.type), name: cut(raw.name), detail: cut(raw.detail), address: raw.address.slice(0, 64) }
    const key = `${o.peer}|${e.kind}|${e.type}|${e.name}`
    const old = this.entries.get(key)
    if (old !== undefined) this.remove(key, old) // re-insert below: Map order is age order
    if (ttlS <= 0) return
    if (this.countFor(o.peer) >= this.maxPerPeer) this.evictOldestOf(o.peer)
    this.entries.set(key, { ...e, peer: o.peer, lastSeen: o.now, expires: o.now + Math.min(ttlS, MAX_TTL_S) * 1000 })
    this.perPeer.set(o.peer, this.countFor(o.peer) + 1)
    this.version++
    if (this.entries.size > this.maxEntries) {
      this.expire(o.now)
      while (this.entries.size > this.maxEntries) {
        const [k, oldest] = this.entries.entries().next().value!
        this.remove(k, oldest)
      }
    }
  }

  private evictOldestOf (peer: string): void {
    for (const [k, e] of this.entries) if (e.peer === peer) { this.remove(k, e); return }
  }

  private remove (key: string, e: DirectoryEntry): void {
    this.entries.delete(key)
    this.version++
    const n = this.countFor(e.peer) - 1
    if (n <= 0) this.perPeer.delete(e.peer)
    else this.perPeer.set(e.peer, n)
  }

  private expire (now: number): void {
    for (const [k, e] of this.entries) if (e.expires <= now) this.remove(k, e)
  }

  private mdns (o: Observation, payload: Buffer): void {
    const p = dnsPacket.decode(payload)
    if (p.type !== 'response') return
    const records = [...(p.answers ?? []), ...(p.additionals ?? [])]
    const addressOf = new Map<string, string>()
    for (const r of records) if (r.type === 'A') addressOf.set(r.name.toLowerCase(), r.data)
    for (const r of records) {
      if (r.type === 'SRV') {
        // "Office._ipp._tcp.local" -> instance "Office", type "_ipp._tcp"
        const m = /^(.*)\.(_[^.]+\.(?:_tcp|_udp))\.local\.?$/i.exec(r.name)
        if (m === null) continue
        const target = r.data.target.toLowerCase()
        this.put(o, { kind: 'mdns', type: m[2]!, name: m[1]!.replace(/\\(.)/g, '$1'), address: addressOf.get(target) ?? o.srcIp, port: r.data.port, detail: r.data.target }, r.ttl ?? 120)
      } else if (r.type === 'A' && /\.local\.?$/i.test(r.name)) {
        this.put(o, { kind: 'mdns', type: 'host', name: r.name.replace(/\.$/, ''), address: r.data, port: null, detail: '' }, r.ttl ?? 120)
      }
    }
  }

  private ssdp (o: Observation, payload: Buffer): void {
    const m = parseSsdp(payload)
    if (m === null || m.kind === 'M-SEARCH') return
    const type = m.kind === 'NOTIFY' ? m.headers.nt : m.headers.st
    if (type === undefined || !/:device:/.test(type)) return // one entry per device, not per service
    const usn = m.headers.usn ?? ''
    const location = m.headers.location ?? ''
    const port = /^https?:\/\/[^/:]+:(\d+)/.exec(location)?.[1]
    const ttl = m.kind === 'NOTIFY' && m.headers.nts === 'ssdp:byebye' ? 0 : maxAgeOf(m.headers['cache-control'])
    const shortType = /:device:([^:]+)/.exec(type)![1]!
    this.put(o, { kind: 'ssdp', type, name: shortType, address: o.srcIp, port: port !== undefined ? Number(port) : null, detail: `${m.headers.server ?? ''} ${usn.split('::')[0] ?? ''}`.trim() }, ttl)
  }

  private nbns (o: Observation, payload: Buffer): void {
    const p = decodeNbns(payload)
    const registration = !p.response && (p.opcode === OPCODE_REGISTRATION || p.opcode === OPCODE_REFRESH)
    const answer = p.response && p.opcode === OPCODE_QUERY && p.rcode === 0
    const release = !p.response && p.opcode === OPCODE_RELEASE
    if (!registration && !answer && !release) return
    for (const r of registration || release ? p.additionals : p.answers) {
      if (r.type !== TYPE_NB) continue
      const a = r.addresses[0]
      if (a === undefined || a.group) continue
      const type = r.name.suffix === SUFFIX_SERVER ? 'smb' : r.name.suffix === SUFFIX_WORKSTATION ? 'workstation' : `netbios<${r.name.suffix.toString(16).padStart(2, '0')}>`
      // Samba's nmbd registers by broadcast with TTL 0, which means infinite (RFC 1001 §15.1.1).
      const ttl = release ? 0 : r.ttl === 0 ? MAX_TTL_S : r.ttl
      this.put(o, { kind: 'netbios', type, name: r.name.name, address: a.address, port: type === 'smb' ? 445 : null, detail: '' }, ttl)
    }
  }

  private game (o: Observation, b: Buffer, off: number, end: number): void {
    const g = decodeGameReply(b, off, end)
    if (g === null) return
    this.put(o, { kind: 'game', type: g.game, name: g.name, address: o.srcIp, port: o.srcPort, detail: `map ${g.map}, ${g.players}/${g.maxPlayers} players` }, GAME_TTL_S)
  }
}

const KINDS = new Set<string>(['mdns', 'ssdp', 'netbios', 'game'])
const isSavedEntry = (v: unknown): v is DirectoryEntry => {
  if (typeof v !== 'object' || v === null) return false
  const e = v as Record<string, unknown>
  return typeof e.peer === 'string' && e.peer.length <= 64 && typeof e.kind === 'string' && KINDS.has(e.kind) &&
    typeof e.type === 'string' && typeof e.name === 'string' && typeof e.address === 'string' && typeof e.detail === 'string' &&
    (e.port === null || (typeof e.port === 'number' && Number.isInteger(e.port))) &&
    typeof e.lastSeen === 'number' && typeof e.expires === 'number' && e.expires > e.lastSeen
}

const productOf = (detail: string): string => {
  const product = detail.split(' ').filter(t => t !== '' && !t.startsWith('uuid:') && !/^UPnP\//i.test(t)).pop()
  return product !== undefined ? ` (${product})` : ''
}

const PRINTER_TYPE = /^_(ipp|ipps|printer|pdl-datastream)\._tcp$/

/** One line per peer: "alice — SMB ALICE, printer 'Office' (ipp, ipps), Teeworlds server 'Friday DM' :8303". */
export const describeServices = (entries: readonly DirectoryEntry[]): Map<string, string[]> => {
  const byPeer = new Map<string, string[]>()
  const add = (peer: string, s: string): void => { const l = byPeer.get(peer) ?? []; if (!l.includes(s)) l.push(s); byPeer.set(peer, l) }
  const hasSmb = new Set(entries.filter(e => e.kind === 'netbios' && e.type === 'smb').map(e => e.peer))
  // A shared queue is announced as _ipp, _ipps and _printer (LPD) at once: one printer, its protocols.
  const printers = new Map<string, string[]>()
  for (const e of entries) {
    const protocol = e.kind === 'mdns' ? PRINTER_TYPE.exec(e.type)?.[1] : undefined
    if (protocol !== undefined) printers.set(`${e.peer}\0${e.name}`, [...printers.get(`${e.peer}\0${e.name}`) ?? [], protocol === 'printer' ? 'lpd' : protocol])
  }
  for (const e of entries) {
    switch (e.kind) {
      case 'netbios':
        if (e.type === 'smb') add(e.peer, `SMB ${e.name}`)
        else if (e.type === 'workstation' && !hasSmb.has(e.peer)) add(e.peer, `NetBIOS ${e.name}`)
        break
      case 'mdns': {
        if (e.type === 'host') break
        const protocols = printers.get(`${e.peer}\0${e.name}`)
        if (protocols !== undefined) add(e.peer, `printer '${e.name}' (${protocols.sort().join(', ')})`)
        else add(e.peer, `'${e.name}' (${e.type})${e.port !== null ? ` :${e.port}` : ''}`)
        break
      }
      case 'ssdp':
        // SERVER is "OS/version UPnP/1.1 product/version": the product is the last token before the USN.
        add(e.peer, `UPnP ${e.name}${productOf(e.detail)}`)
        break
      case 'game':
        add(e.peer, `${e.type} server '${e.name}' :${e.port ?? '?'} (${e.detail})`)
        break
    }
  }
  return byPeer
}
