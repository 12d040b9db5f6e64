/**
 * L3/L4 view of a frame, filled into one reusable `FrameInfo` (no allocation per frame):
 * header validation (the TTL rule below), the traffic class used by counters and storm
 * control, and the offsets the ARP/ND/IGMP/MLD handlers read.
 *
 * The rule (DESIGN.md "TTL"): the hub is a switch, not a router. Frames cross it
 * unchanged; TTL/hop limit is never decremented. Frames malformed for their EtherType
 * are dropped and counted: an IPv4 header shorter than 20 bytes, a version that does not
 * match the EtherType, IHL < 5 or beyond the frame, a total length shorter than the
 * header or longer than the frame (`bad_ipv4`); TTL 0 (RFC 1122 §3.2.1.7: never sent, so
 * never delivered: `ttl_zero`); an IPv6 header shorter than 40 bytes or a payload length
 * beyond the frame (`bad_ipv6`); an Ethernet/IPv4 ARP shorter than 28 bytes (`bad_arp`);
 * a UDP/TCP/ICMP header cut short (`bad_l4`). Ethernet padding after the IP packet is fine.
 */
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETH_DST, etherTypeAt, isBroadcastAt, isGroupAt, payloadOffsetAt } from './ethernet.js'
import { udpPortClass } from './ports.js'
import {
  CLASS_ARP, CLASS_BROADCAST, CLASS_IGMP_MLD, CLASS_MULTICAST, CLASS_ND, CLASS_OTHER, CLASS_UNICAST
} from './packet-classes.js'

export * from './packet-classes.js'

// IPv4 (RFC 791)
export const IPV4_VER_IHL = 0
export const IPV4_TOTAL_LEN = 2
export const IPV4_FRAG = 6 // 3 bits flags, 13 bits fragment offset
export const IPV4_TTL = 8
export const IPV4_PROTO = 9
export const IPV4_CHECKSUM = 10
export const IPV4_SRC = 12
export const IPV4_DST = 16
export const IPV4_MIN_HEADER_LEN = 20

// IPv6 (RFC 8200)
export const IPV6_PAYLOAD_LEN = 4
export const IPV6_NEXT_HEADER = 6
export const IPV6_HOP_LIMIT = 7
export const IPV6_SRC = 8
export const IPV6_DST = 24
export const IPV6_HEADER_LEN = 40

export const PROTO_HOPOPT = 0
export const PROTO_ICMP = 1
export const PROTO_IGMP = 2
export const PROTO_TCP = 6
export const PROTO_UDP = 17
export const PROTO_IPV6_ROUTE = 43
export const PROTO_IPV6_FRAG = 44
export const PROTO_ICMPV6 = 58
export const PROTO_IPV6_OPTS = 60

export const UDP_SRC = 0
export const UDP_DST = 2
export const UDP_LEN = 4
export const UDP_CHECKSUM = 6
export const UDP_HEADER_LEN = 8
export const TCP_MIN_HEADER_LEN = 20

export const ARP_LEN = 28 // Ethernet/IPv4 ARP (RFC 826)

// ICMPv6 types (RFC 4443, RFC 4861, RFC 2710, RFC 3810)
export const ICMPV6_MLD_QUERY = 130
export const ICMPV6_MLD1_REPORT = 131
export const ICMPV6_MLD1_DONE = 132
export const ICMPV6_RS = 133
export const ICMPV6_RA = 134
export const ICMPV6_NS = 135
export const ICMPV6_NA = 136
export const ICMPV6_REDIRECT = 137
export const ICMPV6_MLD2_REPORT = 143

/** Malformed for its EtherType (see the rule at the top of this file). */
export const PACKET_DROP_REASONS = ['bad_ipv4', 'ttl_zero', 'bad_ipv6', 'bad_arp', 'bad_l4'] as const
export type PacketDropReason = typeof PACKET_DROP_REASONS[number]

/** Scratch result of `inspect`; one per switch, overwritten by every frame. */
export class FrameInfo {
  etherType = 0
  cls = CLASS_OTHER
  /** Absolute offset of the L3 header, and bytes of L3 packet (IP total length, not padding). */
  l3 = 0
  l3Len = 0
  /** IP protocol / final IPv6 next header; -1 when not IP. */
  proto = -1
  /** Absolute offset and length of the L4 header+payload; -1 when absent (non-first fragment). */
  l4 = -1
  l4Len = 0
  srcPort = -1
  dstPort = -1
  /** IPv6 destination is link-local scope multicast (ff02::/16). */
  v6LinkLocalMulticast = false
  /** Set when the frame is malformed for its EtherType. */
  drop: PacketDropReason | null = null
}

/** Fills `out` for the frame at b[off, off+len). Never throws; never allocates. */
export const inspect = (b: Buffer, off: number, len: number, out: FrameInfo): void => {
  out.drop = null
  out.proto = -1
  out.l4 = -1
  out.l4Len = 0
  out.srcPort = -1
  out.dstPort = -1
  out.v6LinkLocalMulticast = false
  const type = etherTypeAt(b, off, len)
  out.etherType = type
  const l3 = off + payloadOffsetAt(b, off)
  const avail = off + len - l3
  out.l3 = l3
  out.l3Len = Math.max(0, avail)
  let cls = -1
  if (type === ETHERTYPE_ARP) {
    if (avail < 8) out.drop = 'bad_arp'
    else if (b.readUInt16BE(l3) === 1 && b.readUInt16BE(l3 + 2) === ETHERTYPE_IPV4 && avail < ARP_LEN) out.drop = 'bad_arp'
    cls = CLASS_ARP
  } else if (type === ETHERTYPE_IPV4) {
    cls = inspectIpv4(b, l3, avail, out)
  } else if (type === ETHERTYPE_IPV6) {
    cls = inspectIpv6(b, l3, avail, out)
  } else {
    cls = CLASS_OTHER
  }
  if (cls < 0) {
    if (isGroupAt(b, off + ETH_DST)) cls = isBroadcastAt(b, off + ETH_DST) ? CLASS_BROADCAST : CLASS_MULTICAST
    else cls = CLASS_UNICAST
  }
  out.cls = cls
}

/** Returns a protocol class, or -1 to classify by destination. */
const inspectIpv4 = (b: Buffer, l3: number, avail: number, out: FrameInfo): number => {
  if (avail < IPV4_MIN_HEADER_LEN || (b[l3]! >> 4) !== 4) { out.drop = 'bad_ipv4'; return -1 }
  const ihl = (b[l3]! & 0x0f) * 4
  const total = b.readUInt16BE(l3 + IPV4_TOTAL_LEN)
  if (ihl < IPV4_MIN_HEADER_LEN || ihl > avail || total < ihl || total > avail) { out.drop = 'bad_ipv4'; return -1 }
  if (b[l3 + IPV4_TTL] === 0) { out.drop = 'ttl_zero'; return -1 }
  out.l3Len = total
  const proto = b[l3 + IPV4_PROTO]!
  out.proto = proto
  if ((b.readUInt16BE(l3 + IPV4_FRAG) & 0x1fff) !== 0) return -1 // non-first fragment: no L4 header
  out.l4 = l3 + ihl
  out.l4Len = total - ihl
  if (proto === PROTO_IGMP) return CLASS_IGMP_MLD
  return inspectL4(b, out)
}

const inspectIpv6 = (b: Buffer, l3: number, avail: number, out: FrameInfo): number => {
  if (avail < IPV6_HEADER_LEN || (b[l3]! >> 4) !== 6) { out.drop = 'bad_ipv6'; return -1 }
  const payload = b.readUInt16BE(l3 + IPV6_PAYLOAD_LEN)
  if (IPV6_HEADER_LEN + payload > avail) { out.drop = 'bad_ipv6'; return -1 }
  out.l3Len = IPV6_HEADER_LEN + payload
  out.v6LinkLocalMulticast = b[l3 + IPV6_DST] === 0xff && (b[l3 + IPV6_DST + 1]! & 0x0f) === 0x02
  const end = l3 + IPV6_HEADER_LEN + payload
  let next = b[l3 + IPV6_NEXT_HEADER]!
  let p = l3 + IPV6_HEADER_LEN
  // Walk at most 4 extension headers (MLD carries Hop-by-Hop with Router Alert, RFC 2711).
  for (let i = 0; i < 4; i++) {
    if (next === PROTO_HOPOPT || next === PROTO_IPV6_ROUTE || next === PROTO_IPV6_OPTS) {
      if (p + 8 > end) { out.drop = 'bad_ipv6'; return -1 }
      const hdrLen = (b[p + 1]! + 1) * 8
      next = b[p]!
      p += hdrLen
    } else if (next === PROTO_IPV6_FRAG) {
      if (p + 8 > end) { out.drop = 'bad_ipv6'; return -1 }
      const fragOff = b.readUInt16BE(p + 2) & 0xfff8
      next = b[p]!
      p += 8
      if (fragOff !== 0) { out.proto = next; return -1 }
    } else {
      break
    }
  }
  if (p > end) { out.drop = 'bad_ipv6'; return -1 }
  out.proto = next
  out.l4 = p
  out.l4Len = end - p
  if (next === PROTO_ICMPV6) {
    if (out.l4Len < 4) { out.drop = 'bad_l4'; return -1 }
    const t = b[p]!
    if (t === ICMPV6_MLD_QUERY || t === ICMPV6_MLD1_REPORT || t === ICMPV6_MLD1_DONE || t === ICMPV6_MLD2_REPORT) return CLASS_IGMP_MLD
    if (t >= ICMPV6_RS && t <= ICMPV6_REDIRECT) return CLASS_ND
    return -1
  }
  return inspectL4(b, out)
}

const inspectL4 = (b: Buffer, out: FrameInfo): number => {
  if (out.proto === PROTO_UDP) {
    if (out.l4Len < UDP_HEADER_LEN) { out.drop = 'bad_l4'; return -1 }
    out.srcPort = b.readUInt16BE(out.l4 + UDP_SRC)
    out.dstPort = b.readUInt16BE(out.l4 + UDP_DST)
    const c = udpPortClass(out.dstPort)
    return c >= 0 ? c : udpPortClass(out.srcPort)
  }
  if (out.proto === PROTO_TCP) {
    if (out.l4Len < TCP_MIN_HEADER_LEN) { out.drop = 'bad_l4'; return -1 }
    out.srcPort = b.readUInt16BE(out.l4)
    out.dstPort = b.readUInt16BE(out.l4 + 2)
  }
  return -1
}
