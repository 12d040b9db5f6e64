/**
 * A room: one L2 switch and the sessions plugged into it. Rooms never share a switch, a
 * port or a buffer, so no frame can cross from one room to another.
 *
 *   binary message ──► countFrames (malformed: drop whole, `bad_batch`)
 *                  ──► decide() per frame into `decisions` (REPLY frames are queued
 *                      for the sender at once; MEMBERS keep their member list)
 *                  ──► all frames same port/FLOOD/DROP? forward the received buffer as is
 *                      else copy each frame into its destinations' pending batches, flush
 */
import { createHash } from 'node:crypto'
import { BATCH_LEN_PREFIX, MAX_MEMBERS_PUSHED, MAX_MESSAGE_BYTES, MEMBERS_PUSH_MIN_MS, MEMBERS_REFRESH_MS, countFrames, encodeBatch, encodeControl, type Member } from '../core/protocol.js'
import { formatIpv4, parseIpv4 } from '../core/ipv4.js'
import { RoomDirectory } from '../discovery/directory.js'
import { CLASS_DHCP, CLASS_GAME, CLASS_LLMNR, CLASS_MDNS, CLASS_WSD, IPV4_SRC, UDP_HEADER_LEN } from '../l2/packet.js'
import { ETHERTYPE_IPV4, ETH_HEADER_LEN, parseMac } from '../l2/ethernet.js'
import { QuerySchedule } from '../l2/igmp.js'
import { DROP, FLOOD, L2Switch, MEMBERS, REPLY } from '../l2/switch.js'
import type { RoomSettings } from './config.js'
import type { Session } from './session.js'
import { DirectoryFeed } from './directory-feed.js'
import { Impairment, isImpaired, type ImpairmentSpec } from './impairment.js'

const MAX_FRAMES_PER_MESSAGE = Math.ceil(MAX_MESSAGE_BYTES / (BATCH_LEN_PREFIX + ETH_HEADER_LEN))
/** Aging of MACs, bindings and memberships; entries live minutes, so every 10 s is plenty. */
const SWEEP_MS = 10_000
/** After a restart, restored directory entries of peers not back within this long are dropped. */
export const RESTORE_GRACE_MS = 60_000
/** A new port gets the general queries this long after joining (its TAP is up by then). */
const JOIN_QUERY_DELAY_MS = 2000

/** The switch's own MAC: locally administered (06:…), derived from the room name. */
const switchMacFor = (room: string): number => 0x06 * 2 ** 40 + createHash('sha256').update(room).digest().readUIntBE(0, 5)

export class Room {
  // set at construction
  readonly settings: RoomSettings
  readonly switch: L2Switch
  readonly createdAt: number
  readonly directory: RoomDirectory
  readonly feed: DirectoryFeed
  /** IGMP + MLD general queries as one batch, built once (never modified: safe to share). */
  private readonly queryBatch: Buffer | null
  private readonly querySchedule: QuerySchedule | null

  // owned by join/leave
  private readonly sessions = new Map<number, Session>()
  private readonly byIdentity = new Map<string, Session>()
  /** Flat fan-out list, rebuilt on join/leave. */
  private members: Session[] = []
  private readonly joinQueries = new Map<Session, number>()
  private lastSweep = 0
  /** Since when the room has had no member (null while it has some). */
  emptySince: number | null
  /** Membership changed since the last `members` push; when that push went. */
  private membersChanged = true
  private membersPushedAt = 0
  /** When restored directory entries of absent peers go (0: nothing restored pending). */
  private restoreGraceUntil = 0

  // scratch for forward(); a Room is used by one thread
  private readonly decisions = new Int32Array(MAX_FRAMES_PER_MESSAGE)
  private readonly memberLists: Array<readonly number[]> = []

  /** `settings` is copied: every room owns its settings, impairment included. */
  constructor (settings: RoomSettings, now: number) {
    this.settings = structuredClone(settings)
    this.createdAt = now
    this.emptySince = now
    const tables = this.settings.tables
    this.directory = new RoomDirectory({
      ...(tables.directoryEntries !== undefined ? { maxEntries: tables.directoryEntries } : {}),
      ...(tables.directoryEntriesPerPeer !== undefined ? { maxPerPeer: tables.directoryEntriesPerPeer } : {})
    })
    this.feed = new DirectoryFeed(this.directory)
    settings = this.settings
    this.switch = new L2Switch({
      mtu: settings.mtu,
      allowBridging: settings.allowBridging,
      arpSuppression: settings.arpSuppression,
      snooping: settings.snooping,
      querier: settings.querier,
      queryIntervalMs: settings.queryIntervalMs,
      storm: settings.storm,
      tables: settings.tables,
      switchMac: switchMacFor(settings.name)
    })
    this.queryBatch = this.switch.querier ? encodeBatch(this.switch.queries()) : null
    this.querySchedule = this.switch.querier ? new QuerySchedule(this.switch.queryIntervalMs, now) : null
  }

  get size (): number { return this.members.length }

  sessionOf (identity: string): Session | undefined { return this.byIdentity.get(identity) }

  list (): readonly Session[] { return this.members }

  /** Sets (or, with all zeros, clears) the impairment of the room or of one peer by name. */
  setImpairment (peer: string | null, spec: ImpairmentSpec): void {
    const imp = this.settings.impairment
    if (peer === null) imp.room = spec
    else if (isImpaired(spec)) imp.peers.set(peer, spec)
    else imp.peers.delete(peer)
    for (const s of this.members) this.applyImpairment(s)
  }

  private applyImpairment (s: Session): void {
    const spec = this.settings.impairment.peers.get(s.info!.name) ?? this.settings.impairment.room
    s.impairment = isImpaired(spec) ? new Impairment(spec) : null
  }

  /**
   * `name`, or `name-2`, `name-3`… if a member of another identity already uses it: names
   * are unique in a room, so no member can speak (or wipe the directory) for another.
   */
  uniqueName (name: string, identity: string): string {
    const taken = new Set<string>()
    for (const s of this.members) if (s.info!.identity !== identity) taken.add(s.info!.name)
    if (!taken.has(name)) return name
    for (let i = 2; ; i++) {
      const suffix = `-${i}`
      const candidate = name.slice(0, 64 - suffix.length) + suffix
      if (!taken.has(candidate)) return candidate
    }
  }

  /** Plugs a session in; false (nothing changed) if another port holds its leased MAC. */
  join (s: Session, now: number): boolean {
    const info = s.info!
    if (!this.switch.addPort(s.port, parseMac(info.mac)!, parseIpv4(info.ip) ?? -1)) return false
    this.applyImpairment(s)
    this.sessions.set(s.port, s)
    this.byIdentity.set(info.identity, s)
    this.members = [...this.sessions.values()]
    this.emptySince = null
    this.membersChanged = true
    if (this.queryBatch !== null) this.joinQueries.set(s, now + JOIN_QUERY_DELAY_MS)
    return true
  }

  /** Removes a session and its MAC entries, bindings and memberships. Idempotent. */
  leave (s: Session, now: number): void {
    if (this.sessions.get(s.port) !== s) return
    this.sessions.delete(s.port)
    this.joinQueries.delete(s)
    if (s.info !== null && this.byIdentity.get(s.info.identity) === s) this.byIdentity.delete(s.info.identity)
    this.switch.removePort(s.port)
    if (s.info !== null) { this.feed.removePeer(s.info.name); this.directory.removePeer(s.info.name) }
    this.members = [...this.sessions.values()]
    this.membersChanged = true
    if (this.members.length === 0) this.emptySince = now
  }

  /** Puts back the directory saved before a hub restart (hub/directory-store.ts). */
  restoreDirectory (saved: unknown, now: number): number {
    const n = this.directory.restore(saved, now)
    if (n > 0) this.restoreGraceUntil = now + RESTORE_GRACE_MS
    return n
  }

  /** The members as the protocol lists them (name, addresses, since, the hub's RTT to each). */
  memberList (): Member[] {
    const direct = this.settings.directPath
    return this.members.map(s => ({
      name: s.info!.name, mac: s.info!.mac, ip: s.info!.ip, since: s.connectedAt, hubRttMs: s.rtt.median,
      ...(s.key !== null ? { key: s.key } : {}),
      ...(direct && s.key !== null && s.endpoints.length > 0 ? { endpoints: s.endpoints } : {})
    }))
  }

  /** A member's candidates changed: push the members soon. */
  candidatesChanged (): void { this.membersChanged = true }

  /**
   * Least time between two pushes after changes: 10 ms per member, from 100 ms up to
   * MEMBERS_PUSH_MIN_MS. A push costs members² entries, so a small room learns of a join (and
   * its direct-path candidates) at once, and a join storm in a big one stays bounded.
   */
  private pushGap (): number { return Math.min(MEMBERS_PUSH_MIN_MS, Math.max(100, this.members.length * 10)) }

  /** ms until a pending change may be pushed (0: now), or null when nothing is pending. */
  pushDelay (now: number): number | null {
    if (!this.membersChanged || this.members.length === 0) return null
    return Math.max(0, this.membersPushedAt + this.pushGap() - now)
  }

  /**
   * The `members` message to push now (after a join, leave or new candidates, at most once
   * per pushGap(); every MEMBERS_REFRESH_MS for the RTTs), or null.
   */
  membersPush (now: number): string | null {
    if (this.members.length === 0) return null
    const due = this.membersChanged ? now - this.membersPushedAt >= this.pushGap() : now - this.membersPushedAt >= MEMBERS_REFRESH_MS
    if (!due) return null
    this.membersChanged = false
    this.membersPushedAt = now
    const all = this.memberList()
    return encodeControl({ type: 'members', room: this.settings.name, members: all.slice(0, MAX_MEMBERS_PUSHED), ...(all.length > MAX_MEMBERS_PUSHED ? { truncated: true } : {}) })
  }

  /** Names of the members now. */
  memberNames (): Set<string> { return new Set(this.members.map(s => s.info!.name)) }

  /** Periodic work (about once a second): querier, per-port join queries; aging every SWEEP_MS. */
  tick (now: number): void {
    if (this.restoreGraceUntil > 0 && now >= this.restoreGraceUntil) {
      this.restoreGraceUntil = 0
      this.directory.keepOnly(this.memberNames())
    }
    if (this.queryBatch !== null) {
      if (this.querySchedule!.due(now) && this.members.length > 0) {
        for (const s of this.members) s.sendBatch(this.queryBatch, 2, true)
      }
      for (const [s, due] of this.joinQueries) {
        if (due > now) continue
        this.joinQueries.delete(s)
        s.sendBatch(this.queryBatch, 2, true)
      }
    }
    if (now - this.lastSweep >= SWEEP_MS) {
      this.lastSweep = now
      this.switch.sweep(now)
    }
  }

  /** Queues a discovery frame (IPv4 UDP, just decided) for the room directory (decoded later). */
  private observe (from: Session, msg: Buffer, now: number): void {
    const info = this.switch.info
    if (info.drop !== null || info.etherType !== ETHERTYPE_IPV4 || info.srcPort < 0) return
    this.feed.push({
      peer: from.info!.name,
      srcIp: formatIpv4(msg.readUInt32BE(info.l3 + IPV4_SRC)),
      srcPort: info.srcPort,
      dstPort: info.dstPort,
      now
    }, msg, info.l4 + UDP_HEADER_LEN, info.l4 + info.l4Len)
  }

  /** Switches one received batch from `from`. The batch buffer is not modified. */
  forward (from: Session, msg: Buffer, now: number): void {
    const n = countFrames(msg)
    if (n < 0) { from.counters.drops.bad_batch++; return }
    from.counters.rxFrames += n
    from.counters.rxBytes += msg.length
    const sw = this.switch
    const ingress = from.port
    const decisions = this.decisions
    let first = 0
    let uniform = true
    let replies = 0
    let off = 0
    for (let i = 0; i < n; i++) {
      const len = msg.readUInt16BE(off)
      let d = sw.decide(msg, off + BATCH_LEN_PREFIX, len, ingress, now)
      const cls = sw.info.cls
      if (cls >= CLASS_MDNS && cls !== CLASS_DHCP && cls !== CLASS_LLMNR && cls !== CLASS_WSD && cls <= CLASS_GAME) this.observe(from, msg, now)
      if (d === REPLY) {
        from.appendFrame(sw.replyFrame, 0, sw.replyLen)
        replies++
        d = DROP
      } else if (d === MEMBERS) {
        this.memberLists[i] = sw.members
        if (n > 1) uniform = false
      }
      if (i === 0) first = d
      else if (d !== first) uniform = false
      decisions[i] = d
      off += BATCH_LEN_PREFIX + len
    }
    if (replies > 0) from.flush()

    if (uniform) {
      if (first === DROP) return
      if (first === FLOOD) {
        for (const s of this.members) if (s !== from) s.sendBatch(msg, n, true)
      } else if (first === MEMBERS) {
        for (const p of this.memberLists[0]!) if (p !== ingress) this.sessions.get(p)?.sendBatch(msg, n, true)
      } else {
        this.sessions.get(first)?.sendBatch(msg, n)
      }
      return
    }

    off = 0
    for (let i = 0; i < n; i++) {
      const len = BATCH_LEN_PREFIX + msg.readUInt16BE(off)
      const d = decisions[i]!
      if (d === FLOOD) {
        for (const s of this.members) if (s !== from) s.append(msg, off, len, true)
      } else if (d === MEMBERS) {
        for (const p of this.memberLists[i]!) if (p !== ingress) this.sessions.get(p)?.append(msg, off, len, true)
      } else if (d >= 0) {
        this.sessions.get(d)?.append(msg, off, len)
      }
      off += len
    }
    for (const s of this.members) s.flush()
  }
}
