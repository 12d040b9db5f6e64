/**
 * IGMP (IPv4, RFC 2236 v2, RFC 3376 v3) and MLD (IPv6, RFC 2710 v1, RFC 3810 v2):
 * membership reports and leaves turned into join/leave events per group, and the
 * general queries the hub sends as the room's querier. Groups are keyed by their
 * Ethernet multicast MAC (RFC 1112 §6.4: 01:00:5e + low 23 bits; RFC 2464 §7: 33:33 +
 * low 32 bits), which is what the switch forwards on.
 *
 *   IGMP header: +0 type  +1 max resp code  +2 checksum  +4 group (v1/v2)
 *   IGMPv3 report (0x22): +6 2B record count, records from +8:
 *     type(1) aux words(1) sources(2) group(4) sources(4n) aux(4a)
 *   MLD: +0 type +1 code +2 checksum +4 max resp (2B) +6 reserved/2B count; v1 address at +8
 *   MLDv2 report (143): records from +8: type(1) aux(1) sources(2) group(16) sources(16n) aux
 */
import { finishChecksum, ipv6PseudoSum, sum16 } from './checksum.js'
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETH_HEADER_LEN, writeMac } from './ethernet.js'
import { writeLinkLocalFromMac } from './ndp.js'
import { ICMPV6_MLD1_DONE, ICMPV6_MLD1_REPORT, ICMPV6_MLD2_REPORT, ICMPV6_MLD_QUERY, PROTO_ICMPV6, PROTO_IGMP } from './packet.js'

export const IGMP_QUERY = 0x11
export const IGMP_V1_REPORT = 0x12
export const IGMP_V2_REPORT = 0x16
export const IGMP_V2_LEAVE = 0x17
export const IGMP_V3_REPORT = 0x22

/** Record types shared by IGMPv3 (RFC 3376 §4.2.12) and MLDv2 (RFC 3810 §5.2.12). */
export const MODE_IS_INCLUDE = 1
export const MODE_IS_EXCLUDE = 2
export const CHANGE_TO_INCLUDE = 3
export const CHANGE_TO_EXCLUDE = 4
export const ALLOW_NEW_SOURCES = 5
export const BLOCK_OLD_SOURCES = 6

/** What a membership message was. */
export const MSG_OTHER = 0 // not a membership message we consume (forward as usual)
export const MSG_QUERY = 1
export const MSG_REPORT = 2 // report or leave: consumed by the switch (RFC 4541 §2.1.1)
export const MSG_MALFORMED = -1

export type MembershipHandler = (groupMac: number, join: boolean) => void

export const ipv4GroupMac = (group: number): number => 0x01005e000000 + (group & 0x7fffff)
export const ipv6GroupMacAt = (b: Buffer, off: number): number => 0x333300000000 + b.readUInt32BE(off + 12)

/** Does a v3 record of `type` with `sources` sources mean "member" (true) or "not" (false)? null: no change. */
const recordMeansJoin = (type: number, sources: number): boolean | null => {
  switch (type) {
    case MODE_IS_EXCLUDE: case CHANGE_TO_EXCLUDE: return true
    case MODE_IS_INCLUDE: case CHANGE_TO_INCLUDE: return sources > 0
    case ALLOW_NEW_SOURCES: return sources > 0 ? true : null
    default: return null // BLOCK_OLD_SOURCES: we do not filter by source
  }
}

const ipv4GroupMacAt = (b: Buffer, off: number): number => ipv4GroupMac(b.readUInt32BE(off))

/**
 * Walks the group records of an IGMPv3 / MLDv2 report (same layout, addresses of
 * `addrLen` bytes): type(1) aux words(1) sources(2) group source×n aux, records from +8.
 */
const walkRecords = (b: Buffer, p: number, len: number, addrLen: number, groupMacAt: (b: Buffer, off: number) => number, on: MembershipHandler): number => {
  const n = b.readUInt16BE(p + 6)
  const end = p + len
  let r = p + 8
  for (let i = 0; i < n; i++) {
    if (r + 4 + addrLen > end) return MSG_MALFORMED
    const sources = b.readUInt16BE(r + 2)
    const next = r + 4 + addrLen + sources * addrLen + b[r + 1]! * 4
    if (next > end) return MSG_MALFORMED
    const join = recordMeansJoin(b[r]!, sources)
    if (join !== null) on(groupMacAt(b, r + 4), join)
    r = next
  }
  return MSG_REPORT
}

/** Parses the IGMP message at b[p, p+len); reports memberships through `on`. */
export const parseIgmp = (b: Buffer, p: number, len: number, on: MembershipHandler): number => {
  if (len < 8) return MSG_MALFORMED
  const type = b[p]!
  switch (type) {
    case IGMP_QUERY: return MSG_QUERY
    case IGMP_V1_REPORT: case IGMP_V2_REPORT: on(ipv4GroupMac(b.readUInt32BE(p + 4)), true); return MSG_REPORT
    case IGMP_V2_LEAVE: on(ipv4GroupMac(b.readUInt32BE(p + 4)), false); return MSG_REPORT
    case IGMP_V3_REPORT: return walkRecords(b, p, len, 4, ipv4GroupMacAt, on)
    default: return MSG_OTHER
  }
}

/** Parses the MLD message (ICMPv6) at b[p, p+len). */
export const parseMld = (b: Buffer, p: number, len: number, on: MembershipHandler): number => {
  const type = b[p]!
  if (type === ICMPV6_MLD_QUERY) return len >= 24 ? MSG_QUERY : MSG_MALFORMED
  if (type === ICMPV6_MLD1_REPORT || type === ICMPV6_MLD1_DONE) {
    if (len < 24) return MSG_MALFORMED
    on(ipv6GroupMacAt(b, p + 8), type === ICMPV6_MLD1_REPORT)
    return MSG_REPORT
  }
  if (type === ICMPV6_MLD2_REPORT) return len < 8 ? MSG_MALFORMED : walkRecords(b, p, len, 16, ipv6GroupMacAt, on)
  return MSG_OTHER
}

/** Query timing (RFC 3376 §8.2–8.4, same defaults in RFC 3810 §9). */
export const QUERY_INTERVAL_MS = 125_000
export const QUERY_RESPONSE_MS = 10_000
export const ROBUSTNESS = 2
/** Group membership interval: robustness × query interval + response interval (260 s). */
export const membershipIntervalMs = (queryIntervalMs: number): number => ROBUSTNESS * queryIntervalMs + QUERY_RESPONSE_MS

/** QQIC / max-resp-code style float encoding (RFC 3376 §4.1.7) for values >= 128. */
const encodeCode8 = (v: number): number => {
  if (v < 128) return v
  let exp = 0
  let mant = v >> 3
  while (mant > 0x1f && exp < 7) { mant >>= 1; exp++ }
  return 0x80 | (exp << 4) | (Math.min(mant, 0x1f) & 0x0f)
}

const ALL_SYSTEMS = 0xe0000001 // 224.0.0.1
const ALL_NODES = Buffer.from('ff020000000000000000000000000001', 'hex')

/**
 * IGMPv3 general query from 0.0.0.0 (as a snooping querier without an address does,
 * RFC 4541 §2.1.1) to 224.0.0.1, TTL 1, with the Router Alert option (RFC 2113). v2
 * hosts read it as a v2 query (RFC 3376 §7.1).
 */
export const igmpGeneralQuery = (srcMac: number, queryIntervalMs: number): Buffer => {
  const f = Buffer.alloc(60)
  writeMac(f, 0, 0x01005e000001)
  writeMac(f, 6, srcMac)
  f.writeUInt16BE(ETHERTYPE_IPV4, 12)
  const ip = ETH_HEADER_LEN
  f[ip] = 0x46 // v4, IHL 6 (one option word)
  f[ip + 1] = 0xc0 // DSCP CS6 (network control)
  f.writeUInt16BE(24 + 12, ip + 2)
  f[ip + 8] = 1 // TTL
  f[ip + 9] = PROTO_IGMP
  f.writeUInt32BE(0, ip + 12)
  f.writeUInt32BE(ALL_SYSTEMS, ip + 16)
  f.writeUInt32BE(0x94040000, ip + 20) // Router Alert
  f.writeUInt16BE(finishChecksum(sum16(f, ip, 24)), ip + 10)
  const g = ip + 24
  f[g] = IGMP_QUERY
  f[g + 1] = encodeCode8(QUERY_RESPONSE_MS / 100)
  f[g + 8] = ROBUSTNESS
  f[g + 9] = encodeCode8(Math.round(queryIntervalMs / 1000))
  f.writeUInt16BE(finishChecksum(sum16(f, g, 12)), g + 2)
  return f
}

/**
 * MLDv2 general query (RFC 3810 §5.1) from the link-local address of `srcMac` to ff02::1,
 * hop limit 1, with a Hop-by-Hop Router Alert (RFC 2711, value 0 = MLD).
 */
export const mldGeneralQuery = (srcMac: number, queryIntervalMs: number): Buffer => {
  const icmpLen = 28
  const f = Buffer.alloc(ETH_HEADER_LEN + 40 + 8 + icmpLen)
  writeMac(f, 0, 0x333300000001)
  writeMac(f, 6, srcMac)
  f.writeUInt16BE(ETHERTYPE_IPV6, 12)
  const ip = ETH_HEADER_LEN
  f[ip] = 0x60
  f.writeUInt16BE(8 + icmpLen, ip + 4)
  f[ip + 6] = 0 // Hop-by-Hop options follow
  f[ip + 7] = 1
  writeLinkLocalFromMac(f, ip + 8, srcMac)
  ALL_NODES.copy(f, ip + 24)
  const hbh = ip + 40
  f[hbh] = PROTO_ICMPV6
  f[hbh + 1] = 0
  f.writeUInt32BE(0x05020000, hbh + 2) // Router Alert, MLD
  f.writeUInt16BE(0x0100, hbh + 6) // PadN, 0 bytes
  const q = hbh + 8
  f[q] = ICMPV6_MLD_QUERY
  f.writeUInt16BE(QUERY_RESPONSE_MS, q + 4) // Maximum Response Code in ms (< 32768: literal)
  f[q + 24] = ROBUSTNESS
  f[q + 25] = encodeCode8(Math.round(queryIntervalMs / 1000))
  f.writeUInt16BE(finishChecksum(sum16(f, q, icmpLen, ipv6PseudoSum(f, ip, icmpLen, PROTO_ICMPV6))), q + 2)
  return f
}

/**
 * When to send general queries: at start, then `startupCount - 1` more at a quarter of
 * the interval (RFC 3376 §8.6/§8.7), then every interval. Time passed in.
 */
export class QuerySchedule {
  private next: number
  private startupLeft: number

  constructor (private readonly intervalMs: number, now: number, startupCount = ROBUSTNESS) {
    this.next = now
    this.startupLeft = startupCount
  }

  /** True when a general query is due now; advances the schedule. */
  due (now: number): boolean {
    if (now < this.next) return false
    this.startupLeft = Math.max(0, this.startupLeft - 1)
    this.next = now + (this.startupLeft > 0 ? this.intervalMs / 4 : this.intervalMs)
    return true
  }
}
