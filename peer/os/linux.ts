/**
 * Linux implementation of the OS boundary.
 *
 * TAP: open /dev/net/tun O_RDWR|O_NONBLOCK, ioctl(TUNSETIFF, IFF_TAP|IFF_NO_PI) via koffi
 * (Documentation/networking/tuntap.rst). Reads are event-driven: poll() on the libuv
 * threadpool (koffi async call) waits for the TAP fd or an eventfd used to wake it on
 * close; then readSync drains frames until EAGAIN, straight into a slab in the wire batch
 * format. One wake-up moves many frames (measured ~3.5 µs/frame, DEPENDENCIES.md §10).
 * Writes are non-blocking writeSync, one frame per write(); EAGAIN is a counted drop.
 *
 * Link configuration, routes and nftables rules: peer/os/linux-net.ts.
 */
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs'
import koffi from 'koffi'
import { OverlanError, errnoCode } from '../../core/errors.js'
import { BATCH_LEN_PREFIX, MAX_FRAME_LEN } from '../../core/protocol.js'
import type { Socket } from 'node:dgram'
import { TapCounters, type BatchHandler, type HostOs, type LinkConfig, type TapDevice } from './host-os.js'
import { hostMulticastGroups, installBroadcastCopy, installGameRoutes, removeBroadcastCopy, removeGameRoutes, run } from './linux-net.js'

const TUNSETIFF = 0x400454ca
const IFF_TAP = 0x0002
const IFF_NO_PI = 0x1000
const IFREQ_LEN = 40
const IFNAMSIZ = 16
const POLLIN = 0x0001
const EFD_NONBLOCK = 0o4000
const EFD_CLOEXEC = 0o2000000
/** Not in Node's fs.constants typings; Linux value. */
const O_CLOEXEC = 0o2000000

/** Slab for reads; a new one starts when less than one maximal frame fits. */
const SLAB_BYTES = 1024 * 1024
/** Hand a batch over at this size even if more frames are waiting (keeps latency low). */
const BATCH_FLUSH_BYTES = 60 * 1024
/** Frames read per wake-up before yielding to the event loop (fairness with the WebSocket side). */
const MAX_FRAMES_PER_WAKE = 512

type KoffiFunction = ReturnType<ReturnType<typeof koffi.load>['func']>

interface Libc {
  setsockopt: KoffiFunction
  ioctl: KoffiFunction
  poll: KoffiFunction
  eventfd: KoffiFunction
  close: KoffiFunction
  write: KoffiFunction
}

let libcCache: Libc | null = null
const libc = (): Libc => {
  if (libcCache !== null) return libcCache
  const lib = koffi.load('libc.so.6')
  koffi.struct('overlan_pollfd', { fd: 'int', events: 'short', revents: 'short' })
  libcCache = {
    setsockopt: lib.func('int setsockopt(int fd, int level, int name, const char *val, unsigned int len)'),
    ioctl: lib.func('int ioctl(int fd, unsigned long req, _Inout_ uint8_t *arg)'),
    poll: lib.func('int poll(_Inout_ overlan_pollfd *fds, unsigned long nfds, int timeout)'),
    eventfd: lib.func('int eventfd(unsigned int initval, int flags)'),
    close: lib.func('int close(int fd)'),
    write: lib.func('long write(int fd, const uint8_t *buf, unsigned long count)')
  }
  return libcCache
}

class LinuxTap implements TapDevice {
  // set at construction
  readonly name: string
  readonly counters = new TapCounters()
  private readonly fd: number
  private readonly wakeFd: number
  private readonly pollFds: Array<{ fd: number, events: number, revents: number }>

  // owned by the read loop
  private onBatch: BatchHandler | null = null
  private slab = Buffer.allocUnsafe(SLAB_BYTES)
  private slabOff = 0
  private polling = false
  private closed = false
  private closeWaiter: (() => void) | null = null

  constructor (name: string, fd: number, wakeFd: number) {
    this.name = name
    this.fd = fd
    this.wakeFd = wakeFd
    this.pollFds = [{ fd, events: POLLIN, revents: 0 }, { fd: wakeFd, events: POLLIN, revents: 0 }]
  }

  start (onBatch: BatchHandler): void {
    if (this.onBatch !== null) throw new Error('tap already started')
    this.onBatch = onBatch
    this.drain()
    this.armPoll()
  }

  write (buf: Buffer, off: number, len: number): boolean {
    if (this.closed) return false
    try {
      writeSync(this.fd, buf, off, len)
      this.counters.writeFrames++
      this.counters.writeBytes += len
      return true
    } catch {
      // EAGAIN (queue full), EIO (link down): a frame is cheap to lose.
      this.counters.writeDrops++
      return false
    }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.polling) {
      const done = new Promise<void>(resolve => { this.closeWaiter = resolve })
      const one = Buffer.alloc(8)
      one.writeBigUInt64LE(1n)
      libc().write(this.wakeFd, one, 8)
      await done
    }
    closeSync(this.fd)
    libc().close(this.wakeFd)
  }

  private armPoll (): void {
    if (this.closed) return
    this.polling = true
    libc().poll.async(this.pollFds, 2, -1, (err: unknown) => {
      this.polling = false
      if (this.closed) { this.closeWaiter?.(); return }
      if (err !== null && err !== undefined) {
        this.closeWaiter?.()
        return
      }
      this.drain()
      // Re-arm on the next turn so the WebSocket side runs between wake-ups.
      setImmediate(() => { this.armPoll() })
    })
  }

  /** Reads until EAGAIN (or the per-wake limit), handing over batches. */
  private drain (): void {
    const onBatch = this.onBatch!
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
      let n: number
      try {
        n = readSync(this.fd, this.slab, this.slabOff + BATCH_LEN_PREFIX, MAX_FRAME_LEN, null)
      } catch {
        break // EAGAIN: drained
      }
      if (n <= 0) break
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
    if (c.ioctl(fd, TUNSETIFF, ifr) < 0) {
      const errno = koffi.errno()
      closeSync(fd)
      if (errno === 1) throw new OverlanError('TAP_PERMISSION', `creating TAP ${name} needs root or CAP_NET_ADMIN (EPERM)`)
      if (errno === 16) throw new OverlanError('TAP_OPEN_FAILED', `interface ${name} already exists and is busy (EBUSY): is another peer using it? pick another --iface`)
      throw new OverlanError('TAP_OPEN_FAILED', `ioctl(TUNSETIFF, ${name}) failed with errno ${errno}`)
    }
    const actual = ifr.toString('ascii', 0, IFNAMSIZ).replace(/\0.*$/s, '')
    const wakeFd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) as number
    if (wakeFd < 0) { closeSync(fd); throw new OverlanError('TAP_OPEN_FAILED', `eventfd failed with errno ${koffi.errno()}`) }
    return new LinuxTap(actual, fd, wakeFd)
  },

  bindToDevice (socket: Socket, iface: string): void {
    // Node exposes no SO_BINDTODEVICE; the fd of a bound dgram socket is on its handle.
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
    if (fd === undefined || fd < 0) throw new OverlanError('LINK_CONFIG_FAILED', 'socket has no file descriptor (bind it first)')
    const name = Buffer.from(iface + '\0')
    if (libc().setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, name.length) < 0) {
      throw new OverlanError('LINK_CONFIG_FAILED', `SO_BINDTODEVICE ${iface} failed with errno ${koffi.errno()}`)
    }
  },

  installGameRoutes,
  removeGameRoutes,
  installBroadcastCopy,
  removeBroadcastCopy,
  hostMulticastGroups,

  async configureLink (name: string, c: LinkConfig): Promise<void> {
    await run('ip', ['link', 'set', 'dev', name, 'address', c.mac, 'mtu', String(c.mtu)])
    await run('ip', ['-4', 'addr', 'flush', 'dev', name])
    // `broadcast +` sets the subnet's broadcast address: programs that take broadcast
    // addresses from getifaddrs / SIOCGIFBRDADDR (OpenTTD, Java, many games) need it.
    await run('ip', ['addr', 'add', `${c.address}/${c.prefixLength}`, 'broadcast', '+', 'dev', name])
    await run('ip', ['link', 'set', 'dev', name, 'up'])
  }
}
