/**
 * The one native binding of the tree (Linux): libc and the libuv of the running Node,
 * through koffi. Everything that needs a system call Node does not offer (TUNSETIFF,
 * SO_BINDTODEVICE, TCP_NOTSENT_LOWAT, eventfd, non-throwing read/write) or a file
 * descriptor watched by Node's own event loop comes here; nothing else loads koffi.
 *
 * Calls return -1 and leave the reason in errno() instead of throwing: a thrown EAGAIN costs
 * microseconds per drain on the hot path.
 *
 * libuv: Node exports its libuv (the symbols addons link against), and koffi.load(null)
 * reaches them. uv_poll on the default loop wakes the main thread when a descriptor is
 * readable, with no thread-pool hand-off (issue 13's measured alternatives are in the README).
 */
import koffi from 'koffi'

export interface Libc {
  setsockopt: (fd: number, level: number, name: number, val: Buffer, len: number) => number
  ioctl: (fd: number, req: number, arg: Buffer) => number
  eventfd: (initval: number, flags: number) => number
  close: (fd: number) => number
  /** read(2) into buf[off, off+len): bytes, or -1 (errno()). */
  read: (fd: number, buf: Buffer, off: number, len: number) => number
  /** write(2) of buf[off, off+len): bytes, or -1 (errno()). */
  write: (fd: number, buf: Buffer, off: number, len: number) => number
  socket: (domain: number, type: number, protocol: number) => number
  /** bind(2) to the sockaddr in `addr`. */
  bind: (fd: number, addr: Buffer, len: number) => number
  /** getsockname(2) into `addr`; `len` is a 4-byte in/out length. */
  getsockname: (fd: number, addr: Buffer, len: Buffer) => number
  /** sendto(2) of the whole `buf` to the sockaddr in `addr`: bytes, or -1 (errno()). */
  sendto: (fd: number, buf: Buffer, addr: Buffer, addrLen: number) => number
  /** recvmsg(2) with the msghdr at the start of `msg` (its pointers into the same memory): bytes, or -1 (errno()). */
  recvmsg: (fd: number, msg: NativeMemory, flags: number) => number
}

/** Memory outside the JS heap, for structures the kernel follows pointers in (msghdr, iovec, cmsg). */
export interface NativeMemory {
  /** The memory as a Buffer (a view, no copy); valid until free(). */
  readonly buf: Buffer
  /** Its address, for the pointers written into it. */
  readonly address: bigint
  /** Opaque: what the binding passes as the pointer. */
  readonly ptr: unknown
  free: () => void
}

/** `len` bytes of native memory, zeroed; null off Linux. */
export const nativeMemory = (len: number): NativeMemory | null => {
  if (libc() === null) return null
  const ptr = koffi.alloc('uint8_t', len)
  const buf = Buffer.from(koffi.view(ptr, len))
  buf.fill(0)
  let freed = false
  return { buf, address: BigInt(koffi.address(ptr)), ptr, free: () => { if (!freed) { freed = true; koffi.free(ptr) } } }
}

export const EAGAIN = 11
export const EINTR = 4
export const EMSGSIZE = 90
export const EIO = 5

let cached: Libc | null | undefined

/** The libc binding, or null off Linux (callers fall back or report). */
export const libc = (): Libc | null => {
  if (cached !== undefined) return cached
  if (process.platform !== 'linux') { cached = null; return cached }
  try {
    const lib = koffi.load('libc.so.6')
    const read = lib.func('long read(int fd, _Out_ uint8_t *buf, unsigned long count)') as (fd: number, buf: Buffer, n: number) => number
    const write = lib.func('long write(int fd, const uint8_t *buf, unsigned long count)') as (fd: number, buf: Buffer, n: number) => number
    const sendto = lib.func('long sendto(int fd, const uint8_t *buf, unsigned long len, int flags, const uint8_t *addr, unsigned int alen)') as (fd: number, buf: Buffer, n: number, flags: number, addr: Buffer, alen: number) => number
    const recvmsg = lib.func('long recvmsg(int fd, void *msg, int flags)') as (fd: number, msg: unknown, flags: number) => number
    cached = {
      setsockopt: lib.func('int setsockopt(int fd, int level, int name, const uint8_t *val, unsigned int len)') as Libc['setsockopt'],
      ioctl: lib.func('int ioctl(int fd, unsigned long req, _Inout_ uint8_t *arg)') as Libc['ioctl'],
      eventfd: lib.func('int eventfd(unsigned int initval, int flags)') as Libc['eventfd'],
      close: lib.func('int close(int fd)') as Libc['close'],
      // koffi passes a Buffer's start; a subarray is a view at the offset, not a copy.
      read: (fd, buf, off, len) => Number(read(fd, off === 0 && len === buf.length ? buf : buf.subarray(off, off + len), len)),
      write: (fd, buf, off, len) => Number(write(fd, off === 0 && len === buf.length ? buf : buf.subarray(off, off + len), len)),
      socket: lib.func('int socket(int domain, int type, int protocol)') as Libc['socket'],
      bind: lib.func('int bind(int fd, const uint8_t *addr, unsigned int len)') as Libc['bind'],
      getsockname: lib.func('int getsockname(int fd, _Inout_ uint8_t *addr, _Inout_ uint8_t *len)') as Libc['getsockname'],
      sendto: (fd, buf, addr, addrLen) => Number(sendto(fd, buf, buf.length, 0, addr, addrLen)),
      recvmsg: (fd, msg, flags) => Number(recvmsg(fd, msg.ptr, flags))
    }
  } catch {
    cached = null
  }
  return cached
}

/** errno of the last failed call on this thread. */
export const errno = (): number => koffi.errno()

export interface UvPoll {
  /** Watches `fd` for readability on Node's main loop; `onReadable` runs in the main thread. */
  start: (fd: number, onReadable: (status: number) => void) => void
  /** The handle no longer keeps the process alive (as a socket's unref()). */
  unref: () => void
  /** Stops watching and frees the handle; resolves once libuv closed it. Idempotent. */
  close: () => Promise<void>
}

const UV_POLL = 8 // uv_handle_type UV_POLL
const UV_READABLE = 1

interface Uv {
  defaultLoop: () => unknown
  handleSize: (type: number) => number
  pollInit: (loop: unknown, handle: Buffer, fd: number) => number
  pollStart: (handle: Buffer, events: number, cb: unknown) => number
  pollStop: (handle: Buffer) => number
  unref: (handle: Buffer) => void
  close: (handle: Buffer, cb: unknown) => void
  pollCb: ReturnType<typeof koffi.proto>
  closeCb: ReturnType<typeof koffi.proto>
}

let uvCached: Uv | null | undefined

const uv = (): Uv | null => {
  if (uvCached !== undefined) return uvCached
  try {
    const self = koffi.load(null as unknown as string)
    const pollCb = koffi.proto('void overlan_uv_poll_cb(void *handle, int status, int events)')
    const closeCb = koffi.proto('void overlan_uv_close_cb(void *handle)')
    uvCached = {
      defaultLoop: self.func('void *uv_default_loop(void)') as Uv['defaultLoop'],
      handleSize: ((f: (t: number) => number | bigint) => (t: number) => Number(f(t)))(self.func('size_t uv_handle_size(int type)') as (t: number) => number),
      pollInit: self.func('int uv_poll_init(void *loop, _Inout_ uint8_t *handle, int fd)') as Uv['pollInit'],
      pollStart: self.func('int uv_poll_start(_Inout_ uint8_t *handle, int events, overlan_uv_poll_cb *cb)') as Uv['pollStart'],
      pollStop: self.func('int uv_poll_stop(_Inout_ uint8_t *handle)') as Uv['pollStop'],
      unref: self.func('void uv_unref(_Inout_ uint8_t *handle)') as Uv['unref'],
      close: self.func('void uv_close(_Inout_ uint8_t *handle, overlan_uv_close_cb *cb)') as Uv['close'],
      pollCb,
      closeCb
    }
  } catch {
    uvCached = null
  }
  return uvCached
}

/** A uv_poll handle on Node's main loop, or null when libuv cannot be reached (then use another way). */
export const uvPoll = (): UvPoll | null => {
  const u = uv()
  if (u === null) return null
  // The handle is libuv memory owned by us: it must stay alive (and unmoved) until closed.
  const handle = Buffer.alloc(u.handleSize(UV_POLL))
  let cb: unknown = null
  let closed: Promise<void> | null = null
  return {
    start: (fd, onReadable) => {
      if (cb !== null) throw new Error('uv poll already started')
      const rc = u.pollInit(u.defaultLoop(), handle, fd)
      if (rc < 0) throw new Error(`uv_poll_init failed (${rc})`)
      cb = koffi.register((_h: unknown, status: number) => { onReadable(status) }, koffi.pointer(u.pollCb))
      const s = u.pollStart(handle, UV_READABLE, cb)
      if (s < 0) throw new Error(`uv_poll_start failed (${s})`)
    },
    unref: () => { if (cb !== null) u.unref(handle) },
    close: async () => {
      if (closed !== null) return await closed
      if (cb === null) { closed = Promise.resolve(); return }
      closed = new Promise<void>(resolve => {
        u.pollStop(handle)
        const done = koffi.register(() => {
          koffi.unregister(cb as never)
          koffi.unregister(done as never)
          handle.length // keep the handle referenced until libuv is done with it
          resolve()
        }, koffi.pointer(u.closeCb))
        u.close(handle, done)
      })
      return await closed
    }
  }
}
