/**
 * The forwarding decision of one room's switch (IEEE 802.1D learning bridge) with the
 * LAN-aware parts: ARP/ND suppression and guard, IGMP/MLD snooping, storm control.
 *
 *   frame ─► length, source MAC checks ─► inspect L3/L4 (malformed: drop) ─► count class
 *     ARP / NS / NA ─► guard (claims another peer's address: drop) ─► learn binding
 *                   └► request for a known address on another port: REPLY to the asker
 *     IGMP / MLD report or leave ─► update memberships, consumed (RFC 4541 §2.1.1)
 *     broadcast ─► storm bucket (discovery or broadcast) ─► FLOOD
 *     multicast ─► storm bucket (discovery or multicast) ─► link-local, discovery, no
 *                  memberships seen, or snooping off: FLOOD; else MEMBERS (or nothing)
 *     unicast   ─► known: that port (never the ingress) ; unknown: storm bucket ─► FLOOD
 *
 * FLOOD means every port of this room except the ingress. A switch exists per room, so
 * no decision can name a port of another room. Pure: no I/O, time passed in, no
 * allocation per frame (except IPv6 ND keys). Ports are small integers owned by the caller.
 */
import { zeroCounts } from '../core/counts.js'
import { ARP_OPER, ARP_REPLY, ARP_REQUEST, ARP_SHA, ARP_SPA, ARP_TPA, isEthernetIpv4Arp, writeArpFrame } from './arp.js'
import { ETH_DST, ETH_HEADER_LEN, ETH_SRC, isBroadcastAt, isGroupAt, macAt, maxFrameLenForMtu, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from './ethernet.js'
import { Fdb, type FdbOptions } from './fdb.js'
import { GroupTable } from './groups.js'
import { DEFAULT_TABLE_LIMITS, type TableLimits } from './limits.js'
import { MSG_MALFORMED, MSG_REPORT, QUERY_INTERVAL_MS, igmpGeneralQuery, membershipIntervalMs, mldGeneralQuery, parseIgmp, parseMld } from './igmp.js'
import { NA_FLAG_OVERRIDE, NA_FLAG_SOLICITED, ND_OPT_SOURCE_LLA, ND_OPT_TARGET_LLA, ND_TARGET, isUnspecified, ndLinkLayerOption, writeLinkLocalFromMac, writeNeighborAdvert } from './ndp.js'
import { NeighborTable, v6Key } from './neighbors.js'
import {
  CLASS_ARP, CLASS_IGMP_MLD, CLASS_ND, CLASS_OTHER, FRAME_CLASS_COUNT, FrameInfo, ICMPV6_NA, ICMPV6_NS, IPV4_DST, IPV6_SRC,
  PACKET_DROP_REASONS, PROTO_IGMP, inspect, isDiscoveryClass
} from './packet.js'
import { DEFAULT_STORM_LIMITS, STORM_BROADCAST, STORM_DISCOVERY, STORM_MULTICAST, STORM_UNKNOWN_UNICAST, StormControl, type StormLimits } from './storm.js'

export const DROP = -1
export const FLOOD = -2
/** Send `replyFrame[0, replyLen)` back to the ingress port, and nothing else. */
export const REPLY = -3
/** Send to `members` (minus the ingress port). */
export const MEMBERS = -4

/** Why a frame was dropped; also the metric label. One list: the type and every counter come from it. */
export const DROP_REASONS = [
  'runt', // shorter than an Ethernet header
  'oversize', // longer than MTU + header + VLAN tag
  'src_group', // source MAC with the I/G bit set (IEEE 802 forbids it)
  'src_zero', // all-zero source MAC
  'src_not_leased', // a port that may not bridge sent from a MAC other than its lease
  'src_stolen', // source MAC is another port's leased MAC
  'same_port', // destination lives on the ingress port
  ...PACKET_DROP_REASONS, // malformed for its EtherType (bad_ipv4, ttl_zero, bad_ipv6, bad_arp, bad_l4)
  'bad_igmp', // malformed IGMP/MLD report
  'arp_spoof', // ARP sender claims an address leased to another peer, or a MAC not its port's
  'nd_spoof', // NA/NS claims an IPv6 address bound to another peer, or a MAC not its port's
  'table_full', // a binding or membership over its per-port or per-room bound (l2/limits.ts)
  'storm_broadcast', 'storm_multicast', 'storm_unknown_unicast', 'storm_discovery'
] as const
export type DropReason = typeof DROP_REASONS[number]

export interface SwitchOptions {
  mtu: number
  /** May ports send from MACs other than their lease (a bridged LAN behind a peer)? */
  allowBridging?: boolean
  fdb?: FdbOptions
  /** Bounds of the binding and group tables (and of the MAC table unless `fdb` says otherwise). */
  tables?: Partial<TableLimits>
  /** Answer ARP requests / neighbour solicitations for known addresses (default on). */
  arpSuppression?: boolean
  /** IGMP/MLD snooping (default on); off floods all multicast. */
  snooping?: boolean
  /** Send IGMP/MLD general queries as the room's querier (default on with snooping). */
  querier?: boolean
  queryIntervalMs?: number
  storm?: Partial<StormLimits>
  /** MAC the switch sends its own frames (queries) from. */
  switchMac?: number
}

/** Frames and bytes received per traffic class, and drops by reason. */
export class TrafficCounters {
  readonly frames = new Float64Array(FRAME_CLASS_COUNT)
  readonly bytes = new Float64Array(FRAME_CLASS_COUNT)
  readonly drops = zeroCounts(DROP_REASONS)
}

export class SwitchCounters extends TrafficCounters {
  unicast = 0
  flooded = 0
  multicastToMembers = 0
  /** Multicast to a group nobody joined (snooping active): sent nowhere. */
  multicastUnsubscribed = 0
  unknownUnicast = 0
  fdbPortFull = 0
  arpReplies = 0
  ndReplies = 0
  membershipReports = 0
}

export class L2Switch {
  // set at construction
  readonly fdb: Fdb
  readonly neighbors: NeighborTable
  readonly groups: GroupTable
  readonly maxFrameLen: number
  readonly allowBridging: boolean
  readonly arpSuppression: boolean
  readonly snooping: boolean
  readonly querier: boolean
  readonly queryIntervalMs: number
  readonly switchMac: number
  readonly counters = new SwitchCounters()
  private readonly storm: StormControl

  // owned by addPort/removePort
  /** Flat list of ports for fan-out; rebuilt on join/leave, never per frame. */
  ports: readonly number[] = []
  private readonly leasedMac = new Map<number, number>()
  private readonly portCounters = new Map<number, TrafficCounters>()

  // scratch, overwritten by every decide()
  /** L3/L4 view of the frame last decided (valid until the next decide()). */
  readonly info = new FrameInfo()
  /** Valid after decide() returned REPLY. */
  readonly replyFrame = Buffer.alloc(128)
  replyLen = 0
  /** Valid after decide() returned MEMBERS; never mutated later (safe to keep). */
  members: readonly number[] = []
  private membershipPort = 0
  private membershipNow = 0
  /** Memberships a report could not add (bounds); counted once per report as `table_full`. */
  private membershipRefused = 0
  private readonly onMembership = (group: number, join: boolean): void => {
    if (join) { if (!this.groups.join(group, this.membershipPort, this.membershipNow)) this.membershipRefused++ }
    else if (!this.allowBridging) this.groups.leave(group, this.membershipPort) // one host per port: fast leave
  }

  constructor (options: SwitchOptions) {
    const tables = { ...DEFAULT_TABLE_LIMITS, ...options.tables }
    this.fdb = new Fdb({ portLimit: tables.macsPerPort, ...options.fdb })
    this.neighbors = new NeighborTable({ perPort: tables.bindingsPerPort, perRoom: tables.bindingsPerRoom })
    this.maxFrameLen = maxFrameLenForMtu(options.mtu)
    this.allowBridging = options.allowBridging ?? false
    this.arpSuppression = options.arpSuppression ?? true
    this.snooping = options.snooping ?? true
    this.querier = this.snooping && (options.querier ?? true)
    this.queryIntervalMs = options.queryIntervalMs ?? QUERY_INTERVAL_MS
    this.groups = new GroupTable(membershipIntervalMs(this.queryIntervalMs), { perPort: tables.groupsPerPort, perRoom: tables.groupsPerRoom })
    this.storm = new StormControl({ ...DEFAULT_STORM_LIMITS, ...options.storm })
    this.switchMac = options.switchMac ?? 0x060000000001
  }

  /**
   * Adds a port whose leased MAC is pinned in the table (never ages, cannot be stolen),
   * with its leased IPv4 address (u32, or -1) and its EUI-64 link-local IPv6 address bound.
   * False (nothing added) when another port holds that MAC as its lease.
   */
  addPort (port: number, mac: number, ipv4 = -1): boolean {
    if (this.leasedMac.has(port)) this.removePort(port)
    if (!this.fdb.setStatic(mac, port)) return false
    this.leasedMac.set(port, mac)
    if (ipv4 >= 0) this.neighbors.v4.setStatic(ipv4, mac, port)
    const ll = Buffer.alloc(16)
    writeLinkLocalFromMac(ll, 0, mac)
    this.neighbors.v6.setStatic(v6Key(ll, 0), mac, port)
    this.portCounters.set(port, new TrafficCounters())
    this.ports = [...this.ports, port]
    return true
  }

  removePort (port: number): void {
    if (!this.leasedMac.has(port)) return
    this.leasedMac.delete(port)
    this.fdb.removePort(port)
    this.neighbors.removePort(port)
    this.groups.removePort(port)
    this.storm.removePort(port)
    this.portCounters.delete(port)
    this.ports = this.ports.filter(p => p !== port)
  }

  countersOf (port: number): TrafficCounters | undefined { return this.portCounters.get(port) }

  /** Periodic housekeeping: ages learned MACs, bindings and memberships. */
  sweep (now: number): void {
    this.fdb.sweep(now)
    this.neighbors.sweep(now)
    this.groups.sweep(now)
  }

  /** The general queries this switch sends as querier (built once by the caller). */
  queries (): Buffer[] {
    return [igmpGeneralQuery(this.switchMac, this.queryIntervalMs), mldGeneralQuery(this.switchMac, this.queryIntervalMs)]
  }

  /**
   * Decides where the frame at buf[off, off+len) entering on `ingress` goes: a port
   * number, FLOOD, MEMBERS, REPLY or DROP (drops are counted by reason; consumed
   * membership reports return DROP without a drop count).
   */
  decide (buf: Buffer, off: number, len: number, ingress: number, now: number): number {
    const pc = this.portCounters.get(ingress)
    // Until inspect() runs, `info` must not describe the previous frame (callers read it).
    this.info.cls = CLASS_OTHER
    if (len < ETH_HEADER_LEN) return this.drop(pc, 'runt')
    if (len > this.maxFrameLen) return this.drop(pc, 'oversize')
    if (isGroupAt(buf, off + ETH_SRC)) return this.drop(pc, 'src_group')
    const src = macAt(buf, off + ETH_SRC)
    if (src === 0) return this.drop(pc, 'src_zero')
    if (src !== this.leasedMac.get(ingress)) {
      if (!this.allowBridging) return this.drop(pc, 'src_not_leased')
      const r = this.fdb.learn(src, ingress, now)
      if (r === 'static_conflict') return this.drop(pc, 'src_stolen')
      if (r === 'port_full') this.counters.fdbPortFull++
    }

    const info = this.info
    inspect(buf, off, len, info)
    if (info.drop !== null) return this.drop(pc, info.drop)
    const cls = info.cls
    const c = this.counters
    c.frames[cls]!++
    c.bytes[cls]! += len
    if (pc !== undefined) { pc.frames[cls]!++; pc.bytes[cls]! += len }

    // Storm control before anything is learned: ARP, ND and IGMP/MLD teach the switch, so
    // even unicast ones take a discovery token (a flood of unicast ARP replies with a new
    // sender per frame is held to the bucket, then to the table bounds).
    const discovery = isDiscoveryClass(cls)
    const group = isGroupAt(buf, off + ETH_DST)
    const control = cls === CLASS_ARP || cls === CLASS_ND || cls === CLASS_IGMP_MLD
    const bucket = group
      ? (discovery ? STORM_DISCOVERY : isBroadcastAt(buf, off + ETH_DST) ? STORM_BROADCAST : STORM_MULTICAST)
      : control ? STORM_DISCOVERY : -1
    if (bucket >= 0 && !this.storm.allow(ingress, bucket, now)) return this.drop(pc, STORM_REASONS[bucket]!)

    if (cls === CLASS_ARP) {
      const d = this.handleArp(buf, off, info.l3, ingress, now, pc)
      if (d !== FLOOD) return d
    } else if (cls === CLASS_ND) {
      const d = this.handleNd(buf, off, info.l3, info.l4, info.l4Len, ingress, now, pc)
      if (d !== FLOOD) return d
    } else if (cls === CLASS_IGMP_MLD && this.snooping) {
      this.membershipPort = ingress
      this.membershipNow = now
      this.membershipRefused = 0
      const kind = info.proto === PROTO_IGMP
        ? parseIgmp(buf, info.l4, info.l4Len, this.onMembership)
        : parseMld(buf, info.l4, info.l4Len, this.onMembership)
      if (kind === MSG_MALFORMED) return this.drop(pc, 'bad_igmp')
      if (this.membershipRefused > 0) return this.drop(pc, 'table_full')
      if (kind === MSG_REPORT) { c.membershipReports++; return DROP }
    }

    if (group) {
      if (isBroadcastAt(buf, off + ETH_DST) || !this.snooping || discovery || !this.groups.seenAny || this.isLinkLocalGroup(buf, info.l3, info.etherType, info.v6LinkLocalMulticast)) {
        c.flooded++
        return FLOOD
      }
      const members = this.groups.members(macAt(buf, off + ETH_DST))
      if (members.length === 0 || (members.length === 1 && members[0] === ingress)) { c.multicastUnsubscribed++; return DROP }
      this.members = members
      c.multicastToMembers++
      return MEMBERS
    }
    const port = this.fdb.lookup(macAt(buf, off + ETH_DST), now)
    if (port === -1) {
      if (bucket < 0 && !this.storm.allow(ingress, discovery ? STORM_DISCOVERY : STORM_UNKNOWN_UNICAST, now)) return this.drop(pc, discovery ? 'storm_discovery' : 'storm_unknown_unicast')
      c.unknownUnicast++
      c.flooded++
      return FLOOD
    }
    if (port === ingress) return this.drop(pc, 'same_port')
    c.unicast++
    return port
  }

  /** 224.0.0.0/24 (RFC 5771 local network control block) and ff02::/16 always flood. */
  private isLinkLocalGroup (b: Buffer, l3: number, etherType: number, v6LinkLocal: boolean): boolean {
    if (etherType === ETHERTYPE_IPV4) return (b.readUInt32BE(l3 + IPV4_DST) >>> 8) === 0xe00000
    if (etherType === ETHERTYPE_IPV6) return v6LinkLocal
    return true // non-IP multicast (e.g. LLDP, IPX): no memberships to snoop
  }

  private handleArp (b: Buffer, off: number, arp: number, ingress: number, now: number, pc: TrafficCounters | undefined): number {
    if (!isEthernetIpv4Arp(b, arp)) return FLOOD
    const spa = b.readUInt32BE(arp + ARP_SPA)
    const sha = macAt(b, arp + ARP_SHA)
    if (!this.macOfPort(sha, ingress)) return this.drop(pc, 'arp_spoof')
    if (spa !== 0) {
      const r = this.neighbors.v4.learn(spa, sha, ingress, now)
      if (r !== 'ok') return this.drop(pc, r === 'stolen' ? 'arp_spoof' : 'table_full')
    }
    const oper = b.readUInt16BE(arp + ARP_OPER)
    const tpa = b.readUInt32BE(arp + ARP_TPA)
    if (oper !== ARP_REQUEST || !this.arpSuppression || tpa === spa) return FLOOD
    const owner = this.neighbors.v4.lookup(tpa, now)
    if (owner === undefined || owner.port === ingress) return FLOOD
    // Answer for the owner, straight to the asker (RFC 826 reply; probes get one too, RFC 5227 §2.1.1).
    this.replyLen = writeArpFrame(this.replyFrame, 0, ARP_REPLY, macAt(b, off + ETH_SRC), owner.mac, tpa, sha, spa)
    this.counters.arpReplies++
    return REPLY
  }

  private handleNd (b: Buffer, off: number, ip: number, icmp: number, icmpLen: number, ingress: number, now: number, pc: TrafficCounters | undefined): number {
    const type = b[icmp]!
    if ((type !== ICMPV6_NS && type !== ICMPV6_NA) || icmpLen < 24) return FLOOD
    const v6 = this.neighbors.v6
    if (type === ICMPV6_NA) {
      const key = v6Key(b, icmp + ND_TARGET)
      const lla = ndLinkLayerOption(b, icmp, icmpLen, ND_OPT_TARGET_LLA)
      if (lla >= 0 && !this.macOfPort(lla, ingress)) return this.drop(pc, 'nd_spoof')
      const r = v6.learn(key, lla >= 0 ? lla : macAt(b, off + ETH_SRC), ingress, now)
      if (r !== 'ok') return this.drop(pc, r === 'stolen' ? 'nd_spoof' : 'table_full')
      return FLOOD
    }
    // NS: a DAD probe (source ::) may not be answered for a learned address nor learned from.
    if (isUnspecified(b, ip + IPV6_SRC)) {
      return v6.ownedByOther(v6Key(b, icmp + ND_TARGET), ingress) ? this.replyNa(b, off, ip, icmp, ingress, now, true) : FLOOD
    }
    const lla = ndLinkLayerOption(b, icmp, icmpLen, ND_OPT_SOURCE_LLA)
    if (lla >= 0 && !this.macOfPort(lla, ingress)) return this.drop(pc, 'nd_spoof')
    const r = v6.learn(v6Key(b, ip + IPV6_SRC), lla >= 0 ? lla : macAt(b, off + ETH_SRC), ingress, now)
    if (r !== 'ok') return this.drop(pc, r === 'stolen' ? 'nd_spoof' : 'table_full')
    if (!this.arpSuppression) return FLOOD
    return this.replyNa(b, off, ip, icmp, ingress, now, false)
  }

  /** NA for the NS target if its owner is on another port (RFC 4861 §7.2.4); else FLOOD. */
  private replyNa (b: Buffer, off: number, ip: number, icmp: number, ingress: number, now: number, dad: boolean): number {
    const owner = this.neighbors.v6.lookup(v6Key(b, icmp + ND_TARGET), now)
    if (owner === undefined || owner.port === ingress) return FLOOD
    const asker = macAt(b, off + ETH_SRC)
    if (dad) {
      // Defend the address: unsolicited NA to all nodes (RFC 4861 §7.2.4, DAD case).
      this.replyLen = writeNeighborAdvert(this.replyFrame, 0, owner.mac, b, icmp + ND_TARGET, 0x333300000001, ALL_NODES, 0, NA_FLAG_OVERRIDE)
    } else {
      this.replyLen = writeNeighborAdvert(this.replyFrame, 0, owner.mac, b, icmp + ND_TARGET, asker, b, ip + IPV6_SRC, NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE)
    }
    this.counters.ndReplies++
    return REPLY
  }

  /**
   * May `mac` speak for `port` in ARP/ND payloads? Its lease, or (bridging ports) a MAC the
   * port owns or nobody owns yet; never another port's lease (RFC 826 has no such check:
   * this is the guard that keeps a member from pointing others' caches at a victim).
   */
  private macOfPort (mac: number, port: number): boolean {
    if (mac === this.leasedMac.get(port)) return true
    if (!this.allowBridging) return false
    const owner = this.fdb.ownerOf(mac)
    return owner === -1 || owner === port
  }

  private drop (pc: TrafficCounters | undefined, reason: DropReason): number {
    this.counters.drops[reason]++
    if (pc !== undefined) pc.drops[reason]++
    return DROP
  }
}

const STORM_REASONS: readonly DropReason[] = ['storm_broadcast', 'storm_multicast', 'storm_unknown_unicast', 'storm_discovery'] // indexed by STORM_*

const ALL_NODES = Buffer.from('ff020000000000000000000000000001', 'hex')

