/**
 * The direct path's UDP socket on Linux, through core/libc: socket/bind, sendto, and
 * recvmsg drained on a uv_poll handle of Node's main loop (peer/os/linux-recvmsg.ts; with
 * UDP_GRO, one read may bring a whole GSO send of the other side, cut here into its datagrams).
 *
 * Why not node:dgram: measured on the idle direct path (README "Performance"), dgram's send
 * took 0.5 ms median of a pass whose sendmsg syscall took 0.09 ms (a request object, a
 * callback, a deferred completion per datagram, all cold after 50 ms of idle). Here a send is
 * one synchronous sendto; a receive wake-up reads datagrams until EAGAIN into one buffer. The
 * datagram handed to onPacket is valid only during that call (Bind's contract).
 *
 * Between cork and uncork (one TAP batch), equal-sized datagrams to one address are sent as
 * one buffer with UDP_SEGMENT (UDP GSO, Linux 4.18; udp(7)): the kernel walks its stack once
 * and cuts the buffer into those datagrams (what wireguard-go and Tailscale do for speed).
 * UDP_SEGMENT is set for that one sendto and back to 0 at once: left on, the kernel would cut
 * a larger lone datagram too, and (before Linux 6.10) refuse every datagram to a path whose
 * MTU fell below the segment size, or without checksum offload (EIO).
 * Socket buffers stay at the kernel's defaults: 4 MiB ones removed every retransmit of a
 * saturating TCP stream at the same throughput but more than doubled its RTT (bench, 12 vs 5 ms).
 * Sockaddr_in (ip(7)): family u16 host order, port u16 network order, address 4 bytes.
 */
import { EAGAIN, EIO, errno, libc, uvPoll, type Libc, type UvPoll } from '../../core/libc.js'
import { formatIpv4, parseIpv4 } from '../../core/ipv4.js'
import { setDontFragmentFd } from '../../core/udp-df.js'
import { RecvMsg, SOL_UDP, UDP_GRO } from './linux-recvmsg.js'
import type { Bind } from '../udp-bind.js'

const AF_INET = 2
const SOCK_DGRAM = 2
const SOCK_NONBLOCK = 0o4000
const SOCK_CLOEXEC = 0o2000000
const IPPROTO_IP = 0
const IP_TTL = 2
const SOCKADDR_IN_LEN = 16
const DEFAULT_TTL = 64
const UDP_SEGMENT = 103
/** One GSO send: under the 65507-byte UDP payload limit, and UDP_MAX_SEGMENTS of older kernels. */
const GSO_MAX_BYTES = 65000
const GSO_MAX_SEGMENTS = 64
/** Datagrams handled per wake-up before yielding to the event loop (the TAP and WebSocket sides); a coalesced read counts each. */
const MAX_PER_WAKE = 256

export class LinuxUdpBind implements Bind {
  localPort: number | null = null
  sendErrors = 0
  /** IP_PMTUDISC_DO is set: datagrams over the path MTU fail instead of fragmenting. */
  dontFragment = false
  onPacket: (msg: Buffer, address: string, port: number) => void = () => {}
  /** Datagrams whose handler threw (a bug): counted, and the drain goes on. */
  handlerErrors = 0
  /** Reads that brought several datagrams at once (UDP GRO). */
  coalescedReads = 0
  /** Sends that went as one UDP GSO buffer of several datagrams. */
  segmentedSends = 0

  private fd = -1
  private closed = false
  /** keep-warm's private socket on 127.0.0.1 (-1: not yet, -2: unavailable) and its address. */
  private warmFd = -1
  private readonly warmTo = Buffer.alloc(SOCKADDR_IN_LEN)
  private readonly warmPacket = Buffer.alloc(128)
  private rx: RecvMsg | null = null
  /** The uv_poll status that stopped reading (negative), or 0 while reading. */
  private pollStatus = 0
  private readonly to = Buffer.alloc(SOCKADDR_IN_LEN)
  /** The address now in `to`. */
  private toAddress: string | null = null
  private readonly int = Buffer.alloc(4)
  // The last sender's address as text: a path's datagrams come from one address, so no string per datagram.
  private fromAddr = -1
  private fromText = ''
  // UDP GSO: the group being gathered while corked; its first datagram is held by reference,
  // so a group of one is sent without a copy.
  private corked = false
  private gsoOk = true
  private readonly group = Buffer.allocUnsafe(GSO_MAX_BYTES)
  private first: Buffer | null = null
  private groupCount = 0
  private groupLen = 0
  private groupPort = 0
  private groupAddress = ''

  constructor (private readonly c: Libc, private readonly poll: UvPoll, private readonly port = 0) {}

  async open (): Promise<number | null> {
    if (this.fd >= 0 || this.closed) return this.localPort
    const rx = RecvMsg.create()
    if (rx === null) return null
    const sa = Buffer.alloc(SOCKADDR_IN_LEN)
    sa.writeUInt16BE(this.port, 2)
    const fd = this.bound(sa)
    if (fd < 0) { rx.free(); return null }
    this.fd = fd
    this.rx = rx
    // Best effort: without it (Linux < 5.0) every read is one datagram.
    this.setInt(SOL_UDP, UDP_GRO, 1)
    this.localPort = sa.readUInt16BE(2)
    this.dontFragment = setDontFragmentFd(fd)
    this.to.writeUInt16LE(AF_INET, 0)
    const poll = this.poll
    poll.start(fd, (status) => {
      if (this.closed) return
      // libuv stops the handle after an error: counted in stats (the path then times out and falls back to the hub).
      if (status < 0) { this.pollStatus = status; return }
      this.drain()
    })
    // Never what keeps a process alive: the peer's WebSocket and timers decide that.
    poll.unref()
    return this.localPort
  }

  send (packet: Buffer, port: number, address: string): void {
    if (!this.corked || !this.gsoOk) { this.sendNow(packet, port, address); return }
    const len = packet.length
    if (this.groupCount > 0 && (len !== this.first!.length || port !== this.groupPort || address !== this.groupAddress ||
      this.groupLen + len > GSO_MAX_BYTES || this.groupCount >= GSO_MAX_SEGMENTS)) this.flushGroup()
    if (this.groupCount === 0) {
      this.first = packet
      this.groupPort = port
      this.groupAddress = address
    } else {
      if (this.groupCount === 1) this.first!.copy(this.group, 0)
      packet.copy(this.group, this.groupLen)
    }
    this.groupCount++
    this.groupLen += len
  }

  stats (): Record<string, number> {
    return { segmentedSends: this.segmentedSends, coalescedReads: this.coalescedReads, handlerErrors: this.handlerErrors, pollStatus: this.pollStatus }
  }

  cork (): void { this.corked = true }

  uncork (): void {
    this.corked = false
    this.flushGroup()
  }

  /** Synchronous sends, so the TTL is back to the default before anything else leaves. */
  sendWithTtl (packet: Buffer, targets: ReadonlyArray<{ address: string, port: number }>, ttl: number): void {
    if (this.fd < 0 || targets.length === 0 || !this.setInt(IPPROTO_IP, IP_TTL, ttl)) return
    for (const t of targets) this.sendNow(packet, t.port, t.address)
    this.setInt(IPPROTO_IP, IP_TTL, DEFAULT_TTL)
  }

  private sendNow (packet: Buffer, port: number, address: string): void {
    if (this.fd < 0 || !this.target(port, address)) { this.sendErrors++; return }
    if (this.c.sendto(this.fd, packet, this.to, SOCKADDR_IN_LEN) < 0) this.sendErrors++
  }

  private flushGroup (): void {
    const n = this.groupCount
    if (n === 0) return
    const first = this.first!
    const size = first.length
    this.groupCount = 0
    this.groupLen = 0
    this.first = null
    if (n === 1) { this.sendNow(first, this.groupPort, this.groupAddress); return }
    if (this.fd < 0 || !this.target(this.groupPort, this.groupAddress)) { this.sendErrors += n; return }
    if (this.setInt(SOL_UDP, UDP_SEGMENT, size)) {
      const sent = this.c.sendto(this.fd, this.group.subarray(0, n * size), this.to, SOCKADDR_IN_LEN)
      const e = sent < 0 ? errno() : 0
      // Back to 0 before anything else leaves; if even that fails, no more GSO on this socket.
      if (!this.setInt(SOL_UDP, UDP_SEGMENT, 0)) this.gsoOk = false
      if (sent >= 0) { this.segmentedSends++; return }
      // EIO: this path cannot segment (no checksum offload, xfrm); EINVAL: a datagram over the
      // path MTU with DF set, which alone fails too. Each goes (or fails) alone below.
      if (e === EIO) this.gsoOk = false
    } else {
      this.gsoOk = false // ENOPROTOOPT: a kernel without UDP GSO; every datagram goes alone from now on
    }
    for (let i = 0; i < n; i++) this.sendNow(this.group.subarray(i * size, (i + 1) * size), this.groupPort, this.groupAddress)
  }

  warm (): void {
    if (this.fd < 0 || this.pollStatus < 0) return // libuv stopped the handle: the path will time out, as it would unwarmed
    this.drain()
    if (this.warmFd === -1) this.warmFd = this.openWarmSocket()
    if (this.warmFd < 0) return
    this.c.sendto(this.warmFd, this.warmPacket, this.warmTo, SOCKADDR_IN_LEN)
    this.c.read(this.warmFd, this.warmPacket, 0, this.warmPacket.length)
  }

  /** A UDP socket bound to 127.0.0.1 that sends to itself; -2 when there is none (no loopback). */
  private openWarmSocket (): number {
    this.warmTo.writeUInt32BE(0x7f000001, 4)
    const fd = this.bound(this.warmTo)
    return fd < 0 ? -2 : fd
  }

  /** A non-blocking UDP socket bound to `sa`'s address and port; `sa` then holds the bound ones. -1 on failure. */
  private bound (sa: Buffer): number {
    const c = this.c
    const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
    if (fd < 0) return -1
    sa.writeUInt16LE(AF_INET, 0)
    const len = Buffer.alloc(4)
    len.writeUInt32LE(SOCKADDR_IN_LEN)
    if (c.bind(fd, sa, SOCKADDR_IN_LEN) < 0 || c.getsockname(fd, sa, len) < 0) { c.close(fd); return -1 }
    return fd
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    if (this.warmFd >= 0) this.c.close(this.warmFd)
    this.warmFd = -2
    const fd = this.fd
    this.fd = -1
    if (fd < 0) return // never opened
    // libuv must stop watching before the descriptor goes (uv_poll_init(3): closing it first is undefined).
    const rx = this.rx
    void this.poll.close().then(() => { this.c.close(fd); rx?.free() })
  }

  private drain (): void {
    const c = this.c
    const rx = this.rx!
    for (let handled = 0; handled < MAX_PER_WAKE && this.fd >= 0;) {
      const n = rx.receive(c, this.fd)
      if (n < 0) {
        // After a datagram, -1 is taken as drained without asking errno (as the TAP's drain does).
        if (handled > 0 || errno() === EAGAIN) return
        // EINTR, or ECONNREFUSED and the like (an ICMP error queued for an earlier send): read on,
        // counted against the bound so a persistent error cannot spin.
        handled++
        continue
      }
      if (rx.family !== AF_INET) { handled++; continue }
      const a = rx.address
      if (a !== this.fromAddr) { this.fromAddr = a; this.fromText = formatIpv4(a) }
      const port = rx.port
      const size = rx.gsoSize
      const step = size > 0 && size < n ? size : Math.max(n, 1)
      if (step < n) this.coalescedReads++
      let off = 0
      do { // an empty datagram is handed over too (and counted as bad there)
        // A throw must not end the drain: inside koffi's callback it would vanish, and the socket go unread.
        try { this.onPacket(rx.data.subarray(off, Math.min(off + step, n)), this.fromText, port) } catch { this.handlerErrors++ }
        off += step
        handled++
      } while (off < n && this.fd >= 0) // closed by a handler: the rest of the read is dropped
    }
  }

  /**
   * Writes port and address into the scratch sockaddr; false if the address is no IPv4
   * literal. A path sends to one endpoint string, so it is parsed only when it changes.
   */
  private target (port: number, address: string): boolean {
    if (address !== this.toAddress) {
      const v = parseIpv4(address)
      if (v === null) return false
      this.toAddress = address
      this.to.writeUInt32BE(v, 4)
    }
    this.to.writeUInt16BE(port, 2)
    return true
  }

  private setInt (level: number, name: number, value: number): boolean {
    this.int.writeInt32LE(value)
    return this.c.setsockopt(this.fd, level, name, this.int, 4) === 0
  }
}

/** A LinuxUdpBind when the native binding loads; null otherwise (the caller falls back to node:dgram). */
export const linuxUdpBind = (port: number): Bind | null => {
  const c = libc()
  // Either missing (another architecture, no libuv reachable): node:dgram does the job instead.
  const poll = c !== null && RecvMsg.supported() ? uvPoll() : null
  return poll === null ? null : new LinuxUdpBind(c!, poll, port)
}
