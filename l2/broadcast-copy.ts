/**
 * Limited broadcasts and game multicast that the host sent out of its physical network
 * and the kernel copied into the TAP (nftables `dup`, peer/os/linux.ts) still carry the
 * physical source address. The peer rewrites that source to its overlay address, so the
 * room's answers come back over the overlay. An application that sent on both interfaces
 * itself makes two identical packets, one sent on the TAP and one copied: the second of
 * such a pair is dropped, so each is sent once. Two identical packets of the same origin
 * (an application repeating itself, a flood) both pass: that is storm control's business.
 *
 *   frame from the TAP ─► IPv4 UDP to 255.255.255.255 or a copied group, from the TAP's
 *   own MAC? ─► same (dst, ports, length, checksum) within DUP_WINDOW_MS? drop
 *             ─► source not the overlay address? rewrite it (RFC 1624: IPv4 and UDP checksums)
 *
 * Pure: time passed in, state bounded (DUP_SLOTS recent keys).
 */
import { updateChecksum16 } from './checksum.js'
import { ETHERTYPE_IPV4, ETH_SRC, macAt } from './ethernet.js'
import { IPV4_CHECKSUM, IPV4_DST, IPV4_SRC, PROTO_UDP, UDP_CHECKSUM, UDP_DST, UDP_LEN, UDP_SRC, type FrameInfo } from './packet.js'

/** Destination ports never copied: DHCP (RFC 2131) must stay on its own link; NetBIOS (RFC 1002) payloads carry the physical address (the peer answers for the overlay itself). */
export const COPY_DENY_PORTS: readonly number[] = [67, 68, 137, 138]
/** Groups never copied: link-local control (RFC 5771: mDNS, LLMNR, IGMP…), SSDP and SLP (stacks send them per interface). */
export const COPY_DENY_GROUPS = ['224.0.0.0/24', '239.255.255.250', '239.255.255.253'] as const

const LIMITED_BROADCAST = 0xffffffff
const DUP_WINDOW_MS = 20
const DUP_SLOTS = 32

/** Is `dst` (u32) one the host's copies go to: limited broadcast or a multicast group outside the deny list? */
export const isCopiedDestination = (dst: number): boolean => {
  if (dst === LIMITED_BROADCAST) return true
  if ((dst >>> 28) !== 0xe) return false
  if ((dst >>> 8) === 0xe00000) return false // 224.0.0.0/24
  return dst !== 0xeffffffa && dst !== 0xeffffffd
}

/** Rewrites the IPv4 source of the UDP frame `info` describes to `src`, updating both checksums in place. */
export const rewriteIpv4Source = (b: Buffer, info: FrameInfo, src: number): void => {
  const ip = info.l3
  const old = b.readUInt32BE(ip + IPV4_SRC)
  b.writeUInt32BE(src >>> 0, ip + IPV4_SRC)
  const hi0 = old >>> 16, lo0 = old & 0xffff, hi1 = src >>> 16, lo1 = src & 0xffff
  b.writeUInt16BE(updateChecksum16(updateChecksum16(b.readUInt16BE(ip + IPV4_CHECKSUM), hi0, hi1), lo0, lo1), ip + IPV4_CHECKSUM)
  const udp = info.l4
  const sum = b.readUInt16BE(udp + UDP_CHECKSUM)
  if (sum === 0) return // no checksum (RFC 768): nothing to update
  let next = updateChecksum16(updateChecksum16(sum, hi0, hi1), lo0, lo1)
  if (next === 0) next = 0xffff // RFC 768: a computed 0 is sent as all ones
  b.writeUInt16BE(next, udp + UDP_CHECKSUM)
}

export class BroadcastCopy {
  // owned by the caller (set on every welcome)
  /** Overlay address (u32) and the TAP's MAC; -1 until known. */
  address = -1
  mac = -1

  // counters
  rewritten = 0
  duplicates = 0

  // recent keys: dst, ports, length and checksum after any rewrite, with their time
  private readonly keysA = new Float64Array(DUP_SLOTS)
  private readonly keysB = new Float64Array(DUP_SLOTS)
  /** 1: the frame was a copy (rewritten); 0: sent on the TAP itself. */
  private readonly copied = new Uint8Array(DUP_SLOTS)
  private readonly times = new Float64Array(DUP_SLOTS).fill(-Infinity)
  private next = 0

  /**
   * Looks at one outgoing frame already inspected into `info`. Rewrites a copied frame's
   * source in place; false when the frame is a duplicate to drop.
   */
  outgoing (b: Buffer, off: number, info: FrameInfo, now: number): boolean {
    if (this.address < 0 || info.etherType !== ETHERTYPE_IPV4 || info.proto !== PROTO_UDP || info.l4 < 0 || info.drop !== null) return true
    const dst = b.readUInt32BE(info.l3 + IPV4_DST)
    if (!isCopiedDestination(dst) || macAt(b, off + ETH_SRC) !== this.mac) return true
    const dport = b.readUInt16BE(info.l4 + UDP_DST)
    if (COPY_DENY_PORTS.includes(dport)) return true
    const src = b.readUInt32BE(info.l3 + IPV4_SRC)
    const copy = src !== this.address && src !== 0 ? 1 : 0
    if (copy === 1) { rewriteIpv4Source(b, info, this.address); this.rewritten++ }
    // Two exact 48-bit numbers: (dst, source port) and (port, length, checksum after the rewrite).
    const a = dst * 65536 + b.readUInt16BE(info.l4 + UDP_SRC)
    const k = dport * 2 ** 32 + b.readUInt16BE(info.l4 + UDP_LEN) * 65536 + b.readUInt16BE(info.l4 + UDP_CHECKSUM)
    for (let i = 0; i < DUP_SLOTS; i++) {
      if (this.keysA[i] === a && this.keysB[i] === k && this.copied[i] !== copy && now - this.times[i]! < DUP_WINDOW_MS) {
        this.times[i] = -Infinity // a pair is complete: a third identical one is new again
        this.duplicates++
        return false
      }
    }
    this.keysA[this.next] = a
    this.keysB[this.next] = k
    this.copied[this.next] = copy
    this.times[this.next] = now
    this.next = (this.next + 1) % DUP_SLOTS
    return true
  }
}
