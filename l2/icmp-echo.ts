/**
 * ICMP echo (RFC 792) as whole Ethernet frames, for `peer ping`: the peer sends a request
 * from its own lease to a member's, through whatever path frames for that MAC take, and
 * recognises the reply (by identifier) before it reaches the TAP.
 */
import { finishChecksum, sum16 } from './checksum.js'

const ETH = 14
const IP = 20
const ICMP = 8
export const ECHO_PAYLOAD = 56

export interface EchoAddressing { srcMac: number, dstMac: number, srcIp: number, dstIp: number }

/** An echo request frame (64-byte ICMP message, as ping sends). */
export const echoRequest = (a: EchoAddressing, id: number, seq: number): Buffer => {
  const f = Buffer.alloc(ETH + IP + ICMP + ECHO_PAYLOAD)
  f.writeUIntBE(a.dstMac, 0, 6)
  f.writeUIntBE(a.srcMac, 6, 6)
  f.writeUInt16BE(0x0800, 12)
  f[ETH] = 0x45
  f.writeUInt16BE(IP + ICMP + ECHO_PAYLOAD, ETH + 2)
  f.writeUInt16BE(0x4000, ETH + 6) // DF
  f[ETH + 8] = 64 // TTL
  f[ETH + 9] = 1 // ICMP
  f.writeUInt32BE(a.srcIp >>> 0, ETH + 12)
  f.writeUInt32BE(a.dstIp >>> 0, ETH + 16)
  f.writeUInt16BE(finishChecksum(sum16(f, ETH, IP)), ETH + 10)
  const icmp = ETH + IP
  f[icmp] = 8 // echo request
  f.writeUInt16BE(id & 0xffff, icmp + 4)
  f.writeUInt16BE(seq & 0xffff, icmp + 6)
  for (let i = 0; i < ECHO_PAYLOAD; i++) f[icmp + ICMP + i] = i
  f.writeUInt16BE(finishChecksum(sum16(f, icmp, ICMP + ECHO_PAYLOAD)), icmp + 2)
  return f
}

/** The sequence number of an echo reply to `ip` with identifier `id`, or -1. */
export const echoReplySeq = (b: Buffer, off: number, len: number, ip: number, id: number): number => {
  if (len < ETH + IP + ICMP || b.readUInt16BE(off + 12) !== 0x0800) return -1
  const ihl = (b[off + ETH]! & 0x0f) * 4
  if (b[off + ETH + 9] !== 1 || b.readUInt32BE(off + ETH + 16) !== (ip >>> 0) || len < ETH + ihl + ICMP) return -1
  const icmp = off + ETH + ihl
  return b[icmp] === 0 && b.readUInt16BE(icmp + 4) === (id & 0xffff) ? b.readUInt16BE(icmp + 6) : -1
}
