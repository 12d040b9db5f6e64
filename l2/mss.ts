/**
 * TCP MSS clamping (as `iptables … TCPMSS --clamp-mss-to-pmtu` does): a SYN crossing the
 * overlay whose MSS option exceeds what the room's MTU carries is lowered in place, and
 * the TCP checksum updated incrementally (RFC 1624), so TCP never needs fragmentation
 * or PMTU discovery across the overlay. IPv4: MSS <= MTU - 40; IPv6: MSS <= MTU - 60.
 */
import { updateChecksum16 } from './checksum.js'
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from './ethernet.js'
import { PROTO_TCP, type FrameInfo } from './packet.js'

const TCP_DATA_OFFSET = 12
const TCP_FLAGS = 13
const TCP_CHECKSUM = 16
const TCP_FLAG_SYN = 0x02
const OPT_EOL = 0
const OPT_NOP = 1
const OPT_MSS = 2

export const maxMssFor = (mtu: number, etherType: number): number => mtu - (etherType === ETHERTYPE_IPV6 ? 60 : 40)

/** Clamps the MSS of the TCP SYN described by `info` (already inspected). True if rewritten. */
export const clampMss = (b: Buffer, info: FrameInfo, mtu: number): boolean => {
  if (info.proto !== PROTO_TCP || info.l4 < 0 || info.drop !== null) return false
  if (info.etherType !== ETHERTYPE_IPV4 && info.etherType !== ETHERTYPE_IPV6) return false
  const t = info.l4
  if ((b[t + TCP_FLAGS]! & TCP_FLAG_SYN) === 0) return false
  const hdrLen = (b[t + TCP_DATA_OFFSET]! >> 4) * 4
  if (hdrLen < 20 || hdrLen > info.l4Len) return false
  const max = maxMssFor(mtu, info.etherType)
  let p = t + 20
  const end = t + hdrLen
  while (p < end) {
    const kind = b[p]!
    if (kind === OPT_EOL) return false
    if (kind === OPT_NOP) { p++; continue }
    if (p + 1 >= end) return false
    const len = b[p + 1]!
    if (len < 2 || p + len > end) return false
    if (kind === OPT_MSS && len === 4) {
      const mss = b.readUInt16BE(p + 2)
      if (mss <= max) return false
      rewrite16(b, t, p + 2, max)
      return true
    }
    p += len
  }
  return false
}

/** Writes a 16-bit value at `pos` and fixes the checksum of the segment starting at `seg`. */
const rewrite16 = (b: Buffer, seg: number, pos: number, value: number): void => {
  let sum = b.readUInt16BE(seg + TCP_CHECKSUM)
  if (((pos - seg) & 1) === 0) {
    sum = updateChecksum16(sum, b.readUInt16BE(pos), value)
    b.writeUInt16BE(value, pos)
  } else {
    // Straddles two checksum words: update both.
    const w1 = b.readUInt16BE(pos - 1)
    const w2 = b.readUInt16BE(pos + 1)
    b.writeUInt16BE(value, pos)
    sum = updateChecksum16(sum, w1, b.readUInt16BE(pos - 1))
    sum = updateChecksum16(sum, w2, b.readUInt16BE(pos + 1))
  }
  b.writeUInt16BE(sum, seg + TCP_CHECKSUM)
}
