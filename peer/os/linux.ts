/**
 * Linux implementation of the OS boundary.
 *
 * TAP: open /dev/net/tun O_RDWR|O_NONBLOCK, ioctl(TUNSETIFF, IFF_TAP|IFF_NO_PI)
 * (Documentation/networking/tuntap.rst). Reads are driven by Node's own event loop: a
 * uv_poll handle on the TAP fd (core/libc.ts) wakes the main thread when frames wait, with
 * no thread-pool hand-off on the latency path; then read(2) drains frames until EAGAIN
 * straight into a slab in the wire batch format, so one wake-up hands many frames over
 * without a copy. read/write return errno instead of throwing (a thrown EAGAIN costs µs).
 * Why this way, measured: README "Performance" (the TAP read path).
 * Writes are non-blocking, one frame per write(); EAGAIN is a counted drop.
 *
 * Link configuration, routes and nftables rules: peer/os/linux-net.ts.
 */
import { closeSync, constants, openSync } from 'node:fs'
import { EAGAIN, EINTR, errno, libc, uvPoll, type UvPoll } from '../../core/libc.js'
import { OverlanError, errnoCode } from '../../core/errors.js'
import { dgramFd } from '../../core/socket-fd.js'
import { BATCH_LEN_PREFIX, MAX_FRAME_LEN } from '../../core/protocol.js'
import type { Socket } from 'node:dgram'
import { TapCounters, type BatchHandler, type HostOs, type LinkConfig, type TapDevice } from './host-os.js'
import { linuxUdpBind } from './linux-udp.js'
import { hostMulticastGroups, installBroadcastCopy, installGameRoutes, removeBroadcastCopy, removeGameRoutes, run } from './linux-net.js'

const TUNSETIFF = 0x400454ca
const IFF_TAP = 0x0002
const IFF_NO_PI = 0x1000
const IFREQ_LEN = 40
const IFNAMSIZ = 16
/** Not in Node's fs.constants typings; Linux value. */
const O_CLOEXEC = 0o2000000
/** eventfd(2): the same bits as O_NONBLOCK and O_CLOEXEC. */
const EFD_NONBLOCK = constants.O_NONBLOCK
const EFD_CLOEXEC = O_CLOEXEC

/** Slab for reads; a new one starts when less than one maximal frame fits. */
const SLAB_BYTES = 1024 * 1024
/** Hand a batch over at this size even if more frames are waiting (keeps latency low). */
const BATCH_FLUSH_BYTES = 60 * 1024
/** Frames read per wake-up before yielding to the event loop (fairness with the WebSocket side). */
const MAX_FRAMES_PER_WAKE = 512

class LinuxTap implements TapDevice {
  // set at construction
  readonly name: string
  readonly counters = new TapCounters()
  private readonly fd: number
  private readonly poll: UvPoll

  // owned by the read loop
  private onBatch: BatchHandler | null = null
  private onStop: ((why: string) => void) | null = null
  private slab = Buffer.allocUnsafe(SLAB_BYTES)
  private slabOff = 0
  private closed = false
  /** Reading stopped on an error: keep-warm must not read (and report) again. */
  private readStopped = false
  /** keep-warm's private file (an eventfd), made on first use. */
  private warmFd = -1
  private readonly warmWord = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0])

  constructor (name: string, fd: number, poll: UvPoll) {
    this.name = name
    this.fd = fd
    this.poll = poll
  }

  start (onBatch: BatchHandler, onStop?: (why: string) => void): void {
    if (this.onBatch !== null) throw new Error('tap already started')
    // A throw inside koffi's callback would vanish and leave the TAP unread: count it, read on.
    this.onBatch = (batch, frames) => { try { onBatch(batch, frames) } catch { this.counters.handlerErrors++ } }
    this.onStop = onStop ?? null
    this.poll.start(this.fd, (status) => {
      if (this.closed) return
      if (status < 0) { this.stopReading(`uv_poll reported ${status}`); return }
      this.drain()
    })
  }

  write (buf: Buffer, off: number, len: number): boolean {
    if (this.closed) return false
    const n = libc()!.write(this.fd, buf, off, len)
    if (n === len) {
      this.counters.writeFrames++
      this.counters.writeBytes += len
      return true
    }
    // EAGAIN (queue full), EIO (link down): a frame is cheap to lose.
    this.counters.writeDrops++
    return false
  }

  /**
   * The TAP's own calls: its drain (a frame already waiting is handled as a wake-up would), and
   * a write and a read through the same binding on a private eventfd (no frame is written).
   */
  warm (): void {
    if (this.closed) return
    if (this.onBatch !== null && !this.readStopped) this.drain()
    const c = libc()!
    if (this.warmFd < 0) this.warmFd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
    if (this.warmFd < 0) return // out of descriptors, say: tried again next tick
    c.write(this.warmFd, this.warmWord, 0, 8)
    c.read(this.warmFd, this.warmWord, 0, 8)
    this.warmWord.writeBigUInt64LE(1n)
  }

  drainNow (): void {
    if (!this.closed && this.onBatch !== null && !this.readStopped) this.drain()
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.poll.close()
    try { closeSync(this.fd) } finally { if (this.warmFd >= 0) closeSync(this.warmFd) }
    this.onStop?.('closed')
  }

  private stopReading (why: string): void {
    if (this.closed || this.readStopped) return
    this.readStopped = true
    void this.poll.close()
    this.onStop?.(why)
  }

  /** Reads until EAGAIN (or the per-wake limit), handing over batches. */
  private drain (): void {
    const onBatch = this.onBatch!
    const c = libc()!
    let start = this.slabOff
    let frames = 0
    for (let i = 0; i < MAX_FRAMES_PER_WAKE; i++) {
      if (this.slab.length - this.slabOff < BATCH_LEN_PREFIX + MAX_FRAME_LEN) {
        if (frames > 0) onBatch(this.slab.subarray(start, this.slabOff), frames)
        frames = 0
        // The old slab stays alive while the WebSocket still holds its batches.
        this.slab = Buffer.allocUnsafe(SLAB_BYTES)
        this.slabOff = start = 0
      }
      const n = c.read(this.fd, this.slab, this.slabOff + BATCH_LEN_PREFIX, MAX_FRAME_LEN)
      // After a frame, -1 is the queue drained: errno is not asked (one more call to a binding
      // the caches forgot, on every idle wake-up); a real error meets the next wake-up's first read.
      if (n < 0 && i > 0) break
      if (n <= 0) {
        const e = n < 0 ? errno() : 0
        if (n < 0 && e !== EAGAIN && e !== EINTR) this.stopReading(`read failed with errno ${e}`)
        break // EAGAIN: drained
      }
      this.slab.writeUInt16BE(n, this.slabOff)
      this.slabOff += BATCH_LEN_PREFIX + n
      this.counters.readFrames++
      this.counters.readBytes += n
      frames++
      if (this.slabOff - start >= BATCH_FLUSH_BYTES) {
        onBatch(this.slab.subarray(start, this.slabOff), frames)
        start = this.slabOff
        frames = 0
      }
    }
    if (frames > 0) onBatch(this.slab.subarray(start, this.slabOff), frames)
  }
}

const SOL_SOCKET = 1
const SO_BINDTODEVICE = 25

export const linuxHostOs: HostOs = {
  openTap (name: string): TapDevice {
    if (Buffer.byteLength(name) >= IFNAMSIZ) throw new OverlanError('TAP_OPEN_FAILED', `interface name ${name} is longer than ${IFNAMSIZ - 1} bytes`)
    let fd: number
    try {
      fd = openSync('/dev/net/tun', constants.O_RDWR | constants.O_NONBLOCK | O_CLOEXEC)
    } catch (e) {
      const code = errnoCode(e)
      if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENXIO') throw new OverlanError('TAP_UNAVAILABLE', '/dev/net/tun is missing: load the tun module (modprobe tun) or, in a container, pass the device in (--device /dev/net/tun)', { cause: e })
      if (code === 'EACCES' || code === 'EPERM') throw new OverlanError('TAP_PERMISSION', 'opening /dev/net/tun was refused: run peer join as root (or with CAP_NET_ADMIN)', { cause: e })
      throw new OverlanError('TAP_OPEN_FAILED', `cannot open /dev/net/tun: ${code ?? (e as Error).message}`, { cause: e })
    }
    const ifr = Buffer.alloc(IFREQ_LEN)
    ifr.write(name, 0, IFNAMSIZ - 1, 'ascii')
    ifr.writeUInt16LE(IFF_TAP | IFF_NO_PI, IFNAMSIZ)
    const c = libc()
    const poll = uvPoll()
    if (c === null || poll === null) { closeSync(fd); throw new OverlanError('TAP_OPEN_FAILED', 'the native binding (koffi: libc and Node\'s libuv) could not be loaded') }
    if (c.ioctl(fd, TUNSETIFF, ifr) < 0) {
      const e = errno()
      closeSync(fd)
      if (e === 1) throw new OverlanError('TAP_PERMISSION', `creating TAP ${name} needs root or CAP_NET_ADMIN (EPERM)`)
      if (e === 16) throw new OverlanError('TAP_OPEN_FAILED', `interface ${name} already exists and is busy (EBUSY): is another peer using it? pick another --iface`)
      throw new OverlanError('TAP_OPEN_FAILED', `ioctl(TUNSETIFF, ${name}) failed with errno ${e}`)
    }
    const actual = ifr.toString('ascii', 0, IFNAMSIZ).replace(/\0.*$/s, '')
    return new LinuxTap(actual, fd, poll)
  },

  bindToDevice (socket: Socket, iface: string): void {
    const fd = dgramFd(socket)
    if (fd === null) throw new OverlanError('LINK_CONFIG_FAILED', 'socket has no file descriptor (bind it first)')
    const name = Buffer.from(iface + '\0')
    const c = libc()
    if (c === null || c.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, name.length) < 0) {
      throw new OverlanError('LINK_CONFIG_FAILED', `SO_BINDTODEVICE ${iface} failed${c === null ? ': no native binding' : ` with errno ${errno()}`}`)
    }
  },

  installGameRoutes,
  removeGameRoutes,
  installBroadcastCopy,
  removeBroadcastCopy,
  hostMulticastGroups,
  openUdpBind: linuxUdpBind,

  async configureLink (name: string, c: LinkConfig): Promise<void> {
    await run('ip', ['link', 'set', 'dev', name, 'address', c.mac, 'mtu', String(c.mtu)])
    await run('ip', ['-4', 'addr', 'flush', 'dev', name])
    // `broadcast +` sets the subnet's broadcast address: programs that take broadcast
    // addresses from getifaddrs / SIOCGIFBRDADDR (OpenTTD, Java, many games) need it.
    await run('ip', ['addr', 'add', `${c.address}/${c.prefixLength}`, 'broadcast', '+', 'dev', name])
    await run('ip', ['link', 'set', 'dev', name, 'up'])
  }
}
