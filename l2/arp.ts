/**
 * ARP for Ethernet/IPv4 (RFC 826), at offsets from the start of the ARP packet:
 *
 *   +0 2B htype (1)   +2 2B ptype (0x0800)   +4 1B hlen (6)   +5 1B plen (4)
 *   +6 2B oper (1 request, 2 reply)
 *   +8 6B sender MAC  +14 4B sender IPv4     +18 6B target MAC  +24 4B target IPv4
 *
 * Gratuitous ARP: sender IPv4 == target IPv4. ARP probe (RFC 5227): sender IPv4 0.0.0.0.
 */
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETH_HEADER_LEN, MAC_BROADCAST, writeMac } from './ethernet.js'

export const ARP_HTYPE = 0
export const ARP_PTYPE = 2
export const ARP_HLEN = 4
export const ARP_PLEN = 5
export const ARP_OPER = 6
export const ARP_SHA = 8
export const ARP_SPA = 14
export const ARP_THA = 18
export const ARP_TPA = 24
export const ARP_PACKET_LEN = 28
export const ARP_REQUEST = 1
export const ARP_REPLY = 2
const MIN_FRAME_LEN = 60

/** Is the ARP packet at `arp` Ethernet/IPv4 (the only kind we interpret)? */
export const isEthernetIpv4Arp = (b: Buffer, arp: number): boolean =>
  b.readUInt16BE(arp + ARP_HTYPE) === 1 && b.readUInt16BE(arp + ARP_PTYPE) === ETHERTYPE_IPV4 &&
  b[arp + ARP_HLEN] === 6 && b[arp + ARP_PLEN] === 4

/**
 * Writes a complete ARP frame (padded to 60 bytes) at out[off]; returns its length.
 * The Ethernet source is the sender MAC.
 */
export const writeArpFrame = (
  out: Buffer, off: number, oper: number, ethDst: number,
  senderMac: number, senderIp: number, targetMac: number, targetIp: number
): number => {
  out.fill(0, off, off + MIN_FRAME_LEN)
  writeMac(out, off, ethDst)
  writeMac(out, off + 6, senderMac)
  out.writeUInt16BE(ETHERTYPE_ARP, off + 12)
  const a = off + ETH_HEADER_LEN
  out.writeUInt16BE(1, a + ARP_HTYPE)
  out.writeUInt16BE(ETHERTYPE_IPV4, a + ARP_PTYPE)
  out[a + ARP_HLEN] = 6
  out[a + ARP_PLEN] = 4
  out.writeUInt16BE(oper, a + ARP_OPER)
  writeMac(out, a + ARP_SHA, senderMac)
  out.writeUInt32BE(senderIp >>> 0, a + ARP_SPA)
  writeMac(out, a + ARP_THA, targetMac)
  out.writeUInt32BE(targetIp >>> 0, a + ARP_TPA)
  return MIN_FRAME_LEN
}

/** Gratuitous ARP request announcing ip -> mac to the segment (RFC 5227 §3 "ARP Announcement"). */
export const gratuitousArp = (mac: number, ip: number): Buffer => {
  const f = Buffer.alloc(MIN_FRAME_LEN)
  writeArpFrame(f, 0, ARP_REQUEST, MAC_BROADCAST, mac, ip, 0, ip)
  return f
}

/**
 * The answer to an ARP request this host sent (from `myMac`) for an address `macOf` knows
 * (-1: unknown), written at out[0] as the owner's reply; its length, or 0 when the frame is
 * no such request. Probes (sender 0.0.0.0) and announcements (sender = target) are for the
 * whole segment and get no answer here (RFC 5227).
 */
export const answerOwnArpRequest = (b: Buffer, off: number, len: number, myMac: number, macOf: (ip: number) => number, out: Buffer): number => {
  if (len < ETH_HEADER_LEN + ARP_PACKET_LEN || b.readUInt16BE(off + 12) !== ETHERTYPE_ARP) return 0
  const a = off + ETH_HEADER_LEN
  if (!isEthernetIpv4Arp(b, a) || b.readUInt16BE(a + ARP_OPER) !== ARP_REQUEST) return 0
  if (b.readUIntBE(off + 6, 6) !== myMac || b.readUIntBE(a + ARP_SHA, 6) !== myMac) return 0
  const spa = b.readUInt32BE(a + ARP_SPA)
  const tpa = b.readUInt32BE(a + ARP_TPA)
  if (spa === 0 || spa === tpa) return 0
  const mac = macOf(tpa)
  if (mac < 0) return 0
  return writeArpFrame(out, 0, ARP_REPLY, myMac, mac, tpa, myMac, spa)
}
