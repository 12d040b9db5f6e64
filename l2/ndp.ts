/**
 * IPv6 neighbour discovery (RFC 4861) for suppression and announcements.
 *
 *   NS (135) / NA (136), after the 4-byte ICMPv6 header (type, code, checksum):
 *     +4 4B  NA flags R(0x80) S(0x40) O(0x20), reserved     (NS: reserved)
 *     +8 16B target address
 *     +24    options: type 1 source link-layer addr, type 2 target link-layer addr
 *            (len in units of 8 bytes; for Ethernet 1 = type, len, 6-byte MAC)
 *
 * ND messages must carry hop limit 255 (§7.1.1, §7.1.2): receivers discard others.
 */
import { ETHERTYPE_IPV6, ETH_HEADER_LEN, writeMac } from './ethernet.js'
import { finishChecksum, ipv6PseudoSum, sum16 } from './checksum.js'
import { ICMPV6_NA, IPV6_DST, IPV6_HEADER_LEN, IPV6_HOP_LIMIT, IPV6_NEXT_HEADER, IPV6_PAYLOAD_LEN, IPV6_SRC, PROTO_ICMPV6 } from './packet.js'

export const ND_TARGET = 8
export const ND_OPTIONS = 24
export const ND_OPT_SOURCE_LLA = 1
export const ND_OPT_TARGET_LLA = 2
export const NA_FLAG_ROUTER = 0x80
export const NA_FLAG_SOLICITED = 0x40
export const NA_FLAG_OVERRIDE = 0x20
const NA_LEN = 32 // ICMPv6 header + flags + target + one TLLA option

/** MAC in the first link-layer address option of `type`, or -1. Bounded walk. */
export const ndLinkLayerOption = (b: Buffer, icmp: number, icmpLen: number, type: number): number => {
  let p = icmp + ND_OPTIONS
  const end = icmp + icmpLen
  for (let i = 0; i < 8 && p + 8 <= end; i++) {
    const len = b[p + 1]! * 8
    if (len === 0) return -1
    if (b[p] === type && len >= 8) return b.readUIntBE(p + 2, 6)
    p += len
  }
  return -1
}

/** Is the IPv6 address at `off` the unspecified address ::? (DAD probes come from it.) */
export const isUnspecified = (b: Buffer, off: number): boolean =>
  b.readUInt32BE(off) === 0 && b.readUInt32BE(off + 4) === 0 && b.readUInt32BE(off + 8) === 0 && b.readUInt32BE(off + 12) === 0

/** fe80::/64 link-local address with the modified EUI-64 of `mac` (RFC 4291 App. A), written at out[off]. */
export const writeLinkLocalFromMac = (out: Buffer, off: number, mac: number): void => {
  out.fill(0, off, off + 16)
  out[off] = 0xfe
  out[off + 1] = 0x80
  const hi = Math.floor(mac / 0x1000000) // first 3 bytes
  const lo = mac % 0x1000000
  out[off + 8] = ((hi >>> 16) & 0xff) ^ 0x02
  out[off + 9] = (hi >>> 8) & 0xff
  out[off + 10] = hi & 0xff
  out[off + 11] = 0xff
  out[off + 12] = 0xfe
  out[off + 13] = (lo >>> 16) & 0xff
  out[off + 14] = (lo >>> 8) & 0xff
  out[off + 15] = lo & 0xff
}

/**
 * Writes a Neighbor Advertisement frame at out[off] (returns its length): `target`
 * (16 bytes at targetBuf[targetOff]) is at `ownerMac`; sent from target to dstIp/dstMac.
 */
export const writeNeighborAdvert = (
  out: Buffer, off: number, ownerMac: number, targetBuf: Buffer, targetOff: number,
  dstMac: number, dstIpBuf: Buffer, dstIpOff: number, flags: number
): number => {
  const ip = off + ETH_HEADER_LEN
  const icmp = ip + IPV6_HEADER_LEN
  const total = ETH_HEADER_LEN + IPV6_HEADER_LEN + NA_LEN
  out.fill(0, off, off + total)
  writeMac(out, off, dstMac)
  writeMac(out, off + 6, ownerMac)
  out.writeUInt16BE(ETHERTYPE_IPV6, off + 12)
  out[ip] = 0x60
  out.writeUInt16BE(NA_LEN, ip + IPV6_PAYLOAD_LEN)
  out[ip + IPV6_NEXT_HEADER] = PROTO_ICMPV6
  out[ip + IPV6_HOP_LIMIT] = 255
  targetBuf.copy(out, ip + IPV6_SRC, targetOff, targetOff + 16)
  dstIpBuf.copy(out, ip + IPV6_DST, dstIpOff, dstIpOff + 16)
  out[icmp] = ICMPV6_NA
  out[icmp + 4] = flags
  targetBuf.copy(out, icmp + ND_TARGET, targetOff, targetOff + 16)
  out[icmp + ND_OPTIONS] = ND_OPT_TARGET_LLA
  out[icmp + ND_OPTIONS + 1] = 1
  writeMac(out, icmp + ND_OPTIONS + 2, ownerMac)
  out.writeUInt16BE(finishChecksum(sum16(out, icmp, NA_LEN, ipv6PseudoSum(out, ip, NA_LEN, PROTO_ICMPV6))), icmp + 2)
  return total
}

const ALL_NODES = Buffer.from('ff020000000000000000000000000001', 'hex')
const ALL_NODES_MAC = 0x333300000001

/** Unsolicited NA (override) for the link-local address of `mac`, to all nodes (RFC 4861 §7.2.6). */
export const unsolicitedNeighborAdvert = (mac: number): Buffer => {
  const ll = Buffer.alloc(16)
  writeLinkLocalFromMac(ll, 0, mac)
  const f = Buffer.alloc(ETH_HEADER_LEN + IPV6_HEADER_LEN + NA_LEN)
  writeNeighborAdvert(f, 0, mac, ll, 0, ALL_NODES_MAC, ALL_NODES, 0, NA_FLAG_OVERRIDE)
  return f
}
