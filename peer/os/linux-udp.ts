/**
 * The direct path's UDP socket on Linux, through core/libc: socket/bind, sendto, and
 * recvfrom drained on a uv_poll handle of Node's main loop.
 *
 * Why not node:dgram: measured on the idle direct path (README "Performance"), dgram's send
 * took 0.5 ms median of a pass whose sendmsg syscall took 0.09 ms (a request object, a
 * callback, a deferred completion per datagram, all cold after 50 ms of idle). Here a send is
 * one synchronous sendto; a receive wake-up reads datagrams until EAGAIN into one buffer. The
 * datagram handed to onPacket is valid only during that call (Bind's contract).
 * Sockaddr_in (ip(7)): family u16 host order, port u16 network order, address 4 bytes.
 */
import { EAGAIN, EINTR, errno, libc, uvPoll, type Libc, type UvPoll } from '../../core/libc.js'
import { setDontFragmentFd } from '../../core/udp-df.js'
import type { Bind } from '../udp-bind.js'

const AF_INET = 2
const SOCK_DGRAM = 2
const SOCK_NONBLOCK = 0o4000
const SOCK_CLOEXEC = 0o2000000
const IPPROTO_IP = 0
const IP_TTL = 2
const SOCKADDR_IN_LEN = 16
const DEFAULT_TTL = 64
/** Datagrams read per wake-up before yielding to the event loop (the TAP and WebSocket sides). */
const MAX_PER_WAKE = 256

export class LinuxUdpBind implements Bind {
  localPort: number | null = null
  sendErrors = 0
  /** IP_PMTUDISC_DO is set: datagrams over the path MTU fail instead of fragmenting. */
  dontFragment = false
  onPacket: (msg: Buffer, address: string, port: number) => void = () => {}

  private fd = -1
  private poll: UvPoll | null = null
  private closed = false
  private readonly rx = Buffer.allocUnsafe(65536)
  private readonly from = Buffer.alloc(SOCKADDR_IN_LEN)
  private readonly fromLen = Buffer.alloc(4)
  private readonly to = Buffer.alloc(SOCKADDR_IN_LEN)
  private readonly int = Buffer.alloc(4)
  // The last sender's address as text: a path's datagrams come from one address, so no string per datagram.
  private fromAddr = -1
  private fromText = ''

  constructor (private readonly c: Libc, private readonly port = 0) {}

  async open (): Promise<number | null> {
    if (this.fd >= 0 || this.closed) return this.localPort
    const c = this.c
    const poll = uvPoll()
    if (poll === null) return null
    const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
    if (fd < 0) return null
    const sa = Buffer.alloc(SOCKADDR_IN_LEN)
    sa.writeUInt16LE(AF_INET, 0)
    sa.writeUInt16BE(this.port, 2)
    const len = Buffer.alloc(4)
    len.writeUInt32LE(SOCKADDR_IN_LEN)
    if (c.bind(fd, sa, SOCKADDR_IN_LEN) < 0 || c.getsockname(fd, sa, len) < 0) { c.close(fd); return null }
    this.fd = fd
    this.localPort = sa.readUInt16BE(2)
    this.dontFragment = setDontFragmentFd(fd)
    this.to.writeUInt16LE(AF_INET, 0)
    this.poll = poll
    poll.start(fd, (status) => { if (!this.closed && status >= 0) this.drain() })
    // Never what keeps a process alive: the peer's WebSocket and timers decide that.
    poll.unref()
    return this.localPort
  }

  send (packet: Buffer, port: number, address: string): void {
    if (this.fd < 0 || !this.target(port, address) || this.c.sendto(this.fd, packet, this.to, SOCKADDR_IN_LEN) < 0) this.sendErrors++
  }

  /** Synchronous sends, so the TTL is back to the default before anything else leaves. */
  sendWithTtl (packet: Buffer, targets: ReadonlyArray<{ address: string, port: number }>, ttl: number): void {
    if (this.fd < 0 || targets.length === 0 || !this.setInt(IP_TTL, ttl)) return
    for (const t of targets) this.send(packet, t.port, t.address)
    this.setInt(IP_TTL, DEFAULT_TTL)
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    const fd = this.fd
    this.fd = -1
    if (this.poll === null) return
    // libuv must stop watching before the descriptor goes (uv_poll_init(3): closing it first is undefined).
    void this.poll.close().then(() => { this.c.close(fd) })
  }

  private drain (): void {
    const c = this.c
    for (let i = 0; i < MAX_PER_WAKE && this.fd >= 0; i++) {
      this.fromLen.writeUInt32LE(SOCKADDR_IN_LEN)
      const n = c.recvfrom(this.fd, this.rx, this.from, this.fromLen)
      if (n < 0) {
        const e = errno()
        if (e === EAGAIN) return
        if (e === EINTR) continue
        // ECONNREFUSED and the like (an ICMP error queued for an earlier send): read on.
        continue
      }
      if (this.from.readUInt16LE(0) !== AF_INET) continue
      const a = this.from.readUInt32BE(4)
      if (a !== this.fromAddr) { this.fromAddr = a; this.fromText = `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}` }
      this.onPacket(this.rx.subarray(0, n), this.fromText, this.from.readUInt16BE(2))
    }
  }

  /** Writes port and IPv4 literal into the scratch sockaddr without allocating; false if not a literal. */
  private target (port: number, address: string): boolean {
    let v = 0
    let part = 0
    let dots = 0
    let digits = 0
    for (let i = 0; i < address.length; i++) {
      const ch = address.charCodeAt(i)
      if (ch === 46) {
        if (digits === 0 || ++dots > 3) return false
        v = v * 256 + part
        part = digits = 0
      } else if (ch >= 48 && ch <= 57 && digits < 3) {
        part = part * 10 + ch - 48
        digits++
        if (part > 255) return false
      } else return false
    }
    if (dots !== 3 || digits === 0) return false
    this.to.writeUInt16BE(port, 2)
    this.to.writeUInt32BE(v * 256 + part, 4)
    return true
  }

  private setInt (name: number, value: number): boolean {
    this.int.writeInt32LE(value)
    return this.c.setsockopt(this.fd, IPPROTO_IP, name, this.int, 4) === 0
  }
}

/** A LinuxUdpBind when the native binding loads; null otherwise (the caller falls back to node:dgram). */
export const linuxUdpBind = (port: number): Bind | null => {
  const c = libc()
  return c === null ? null : new LinuxUdpBind(c, port)
}
