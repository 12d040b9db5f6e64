/** Crafted Ethernet frames for tests. */
import { parseMac } from '../../l2/ethernet.js'

export const mac = (s: string): number => {
  const v = parseMac(s)
  if (v === null) throw new Error(`bad MAC ${s}`)
  return v
}

/** Ethernet II frame: dst, src, EtherType (default 0x88b5, IEEE local experimental), payload (default 46 zero bytes). */
export const ethFrame = (dst: string, src: string, etherType = 0x88b5, payload: Buffer = Buffer.alloc(46)): Buffer => {
  const f = Buffer.alloc(14 + payload.length)
  f.writeUIntBE(mac(dst), 0, 6)
  f.writeUIntBE(mac(src), 6, 6)
  f.writeUInt16BE(etherType, 12)
  payload.copy(f, 14)
  return f
}

/** 802.1Q-tagged frame. */
export const vlanFrame = (dst: string, src: string, vid: number, innerType: number, payload: Buffer = Buffer.alloc(42)): Buffer => {
  const f = Buffer.alloc(18 + payload.length)
  f.writeUIntBE(mac(dst), 0, 6)
  f.writeUIntBE(mac(src), 6, 6)
  f.writeUInt16BE(0x8100, 12)
  f.writeUInt16BE(vid & 0x0fff, 14)
  f.writeUInt16BE(innerType, 16)
  payload.copy(f, 18)
  return f
}

export const BROADCAST = 'ff:ff:ff:ff:ff:ff'

import { finishChecksum, ipv4PseudoSum, ipv6PseudoSum, sum16 } from '../../l2/checksum.js'

export const ipv4 = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0)
export const ipv6Bytes = (s: string): Buffer => {
  const [head = '', tail] = s.split('::')
  const h = head === '' ? [] : head.split(':')
  const t = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t]
  const b = Buffer.alloc(16)
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2))
  return b
}

/** IPv4 packet inside an Ethernet frame; header checksum filled. `l4` is the upper-layer bytes. */
export const ipv4Frame = (dst: string, src: string, srcIp: string, dstIp: string, proto: number, l4: Buffer, opts: { ttl?: number, options?: Buffer } = {}): Buffer => {
  const optLen = opts.options?.length ?? 0
  const ihl = 20 + optLen
  const ip = Buffer.alloc(ihl + l4.length)
  ip[0] = 0x40 | (ihl / 4)
  ip.writeUInt16BE(ip.length, 2)
  ip[8] = opts.ttl ?? 64
  ip[9] = proto
  ip.writeUInt32BE(ipv4(srcIp), 12)
  ip.writeUInt32BE(ipv4(dstIp), 16)
  opts.options?.copy(ip, 20)
  ip.writeUInt16BE(finishChecksum(sum16(ip, 0, ihl)), 10)
  l4.copy(ip, ihl)
  const f = ethFrame(dst, src, 0x0800, ip)
  return f.length < 60 ? Buffer.concat([f, Buffer.alloc(60 - f.length)]) : f
}

export const udp = (srcPort: number, dstPort: number, payload: Buffer = Buffer.alloc(8)): Buffer => {
  const u = Buffer.alloc(8 + payload.length)
  u.writeUInt16BE(srcPort, 0)
  u.writeUInt16BE(dstPort, 2)
  u.writeUInt16BE(u.length, 4)
  payload.copy(u, 8)
  return u
}

export const udp4Frame = (dst: string, src: string, srcIp: string, dstIp: string, srcPort: number, dstPort: number, payload?: Buffer): Buffer =>
  ipv4Frame(dst, src, srcIp, dstIp, 17, udp(srcPort, dstPort, payload))

/** IPv6 packet in an Ethernet frame; optional Hop-by-Hop header bytes before the upper layer. */
export const ipv6Frame = (dst: string, src: string, srcIp: string, dstIp: string, nextHeader: number, upper: Buffer, opts: { hopLimit?: number, hopByHop?: Buffer } = {}): Buffer => {
  const hbh = opts.hopByHop ?? Buffer.alloc(0)
  const ip = Buffer.alloc(40 + hbh.length + upper.length)
  ip[0] = 0x60
  ip.writeUInt16BE(hbh.length + upper.length, 4)
  ip[6] = hbh.length > 0 ? 0 : nextHeader
  ip[7] = opts.hopLimit ?? 255
  ipv6Bytes(srcIp).copy(ip, 8)
  ipv6Bytes(dstIp).copy(ip, 24)
  if (hbh.length > 0) { hbh.copy(ip, 40); ip[40] = nextHeader }
  upper.copy(ip, 40 + hbh.length)
  return ethFrame(dst, src, 0x86dd, ip)
}

/** ICMPv6 message with its checksum computed over the pseudo-header. */
export const icmpv6Frame = (dst: string, src: string, srcIp: string, dstIp: string, icmp: Buffer, opts: { hopLimit?: number, hopByHop?: Buffer } = {}): Buffer => {
  const f = ipv6Frame(dst, src, srcIp, dstIp, 58, icmp, opts)
  const ip = 14
  const p = ip + 40 + (opts.hopByHop?.length ?? 0)
  f.writeUInt16BE(0, p + 2)
  f.writeUInt16BE(finishChecksum(sum16(f, p, icmp.length, ipv6PseudoSum(f, ip, icmp.length, 58))), p + 2)
  return f
}

/** TCP SYN with an MSS option (and a NOP/window-scale after it); checksum filled. */
export const tcpSyn = (ipVersion: 4 | 6, srcIp: string, dstIp: string, mss: number, opts: { misalign?: boolean } = {}): Buffer => {
  const options = opts.misalign
    ? Buffer.from([1, 2, 4, mss >> 8, mss & 0xff, 1, 1, 1]) // NOP first: MSS value at an odd offset
    : Buffer.from([2, 4, mss >> 8, mss & 0xff, 1, 3, 3, 7])
  const t = Buffer.alloc(20 + options.length)
  t.writeUInt16BE(40000, 0)
  t.writeUInt16BE(445, 2)
  t.writeUInt32BE(12345, 4)
  t[12] = ((20 + options.length) / 4) << 4
  t[13] = 0x02 // SYN
  t.writeUInt16BE(64240, 14)
  options.copy(t, 20)
  if (ipVersion === 4) {
    const f = ipv4Frame('02:00:00:00:00:0b', '02:00:00:00:00:0a', srcIp, dstIp, 6, t)
    f.writeUInt16BE(finishChecksum(sum16(f, 34, t.length, ipv4PseudoSum(f, 14, t.length, 6))), 34 + 16)
    return f
  }
  const f = ipv6Frame('02:00:00:00:00:0b', '02:00:00:00:00:0a', srcIp, dstIp, 6, t)
  f.writeUInt16BE(finishChecksum(sum16(f, 54, t.length, ipv6PseudoSum(f, 14, t.length, 6))), 54 + 16)
  return f
}
