/**
 * How received bytes reach a WebSocket without Node's stream machinery. A socket's 'data'
 * events pass every read through Readable.push, addChunk and a nextTick (maybeReadMore), and
 * after the callback Node drains that tick queue: on an idle path that is most of what a
 * pass costs after the bytes are decrypted (a perf profile of a relayed pass: README
 * "Performance"). net.Socket's `onread` option skips all of it: the bytes land in a buffer of
 * ours and one callback runs.
 *
 *   client sockets    tls.connect / net.connect with the public `onread` option
 *   server sockets    the HTTP server made them, and Node offers no public way to set it
 *                     afterwards. `onread` is two fields of net.Socket under internal symbols
 *                     plus the handle's useUserBuffer(): found on a probe socket built with
 *                     the public option, set on the upgraded socket. If a Node release
 *                     changes them, the probe fails and the socket is read with 'data' events
 *                     (slower, same behaviour); `readerKind` says which runs.
 *
 * One read buffer serves every socket of the process: a read is handled whole, synchronously,
 * before the next one, and nothing keeps a view of it (core/websocket/parser.ts copies what
 * must outlive the call).
 */
import { Socket } from 'node:net'

/** 64 KiB: a TLS read hands over at most 16 KiB, a plain TCP read fills what it is given. */
export const READ_BUFFER_BYTES = 64 * 1024
const shared = Buffer.allocUnsafe(READ_BUFFER_BYTES)

/** Where a socket's bytes go: a connection, or a client's handshake before it. */
export interface ByteSink { receive: (buf: Buffer, off: number, len: number) => void }

const kSink = Symbol('overlan.byteSink')
type WithSink = Socket & { [kSink]?: ByteSink }

/**
 * The one read callback of every socket: Node calls it as a method of the socket it read
 * (`stream[kBufferCb](n, buf)`), so it finds the sink there. One function for all: the JIT
 * optimises it once, and any connection's traffic keeps it warm for the others.
 */
function deliver (this: WithSink, n: number, buf: Buffer): void { this[kSink]!.receive(buf, 0, n) }

/** Sets (or moves, after a client's handshake) where `socket`'s bytes go. */
export const setSink = (socket: Socket, sink: ByteSink): void => { (socket as WithSink)[kSink] = sink }

/** The `onread` option for net/tls.connect: the shared buffer and the one callback (setSink before data can arrive). */
export const onreadOption = (): { buffer: Buffer, callback: (n: number, buf: Buffer) => void } => ({ buffer: shared, callback: deliver })

export type ReaderKind = 'onread' | 'stream'

interface OnreadSymbols { buffer: symbol, callback: symbol }
let symbols: OnreadSymbols | null | undefined

/** net.Socket's onread fields, as a socket built with the public option holds them; null when not found. */
const onreadSymbols = (): OnreadSymbols | null => {
  if (symbols !== undefined) return symbols
  symbols = null
  try {
    const buffer = Buffer.alloc(1)
    const callback = (): void => {}
    // @types/node 20 lacks `onread` on the constructor's options; Node has had it since 12.
    const probe = new Socket({ onread: { buffer, callback } } as ConstructorParameters<typeof Socket>[0])
    const own = Object.getOwnPropertySymbols(probe)
    const rec = probe as unknown as Record<symbol, unknown>
    const b = own.find(s => s.description === 'kBuffer' && rec[s] === buffer)
    const c = own.find(s => s.description === 'kBufferCb' && rec[s] === callback)
    probe.destroy()
    if (b !== undefined && c !== undefined) symbols = { buffer: b, callback: c }
  } catch {}
  return symbols
}

/** false forces the 'data' path for server sockets accepted from now on (tests of the fallback); true probes again. */
export const useServerOnread = (on: boolean): void => { symbols = on ? undefined : null }

/**
 * Reads an upgraded server socket into `handler`: through onread where Node allows it, else
 * 'data' events. Call once, before any byte after the upgrade was read by anyone else.
 */
export const readServerSocket = (socket: Socket, sink: ByteSink): ReaderKind => {
  setSink(socket, sink)
  const s = onreadSymbols()
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (b: Buffer) => void } | null })._handle
  // Bytes already in the stream's buffer would be skipped: that socket keeps the stream path.
  if (s !== null && typeof handle?.useUserBuffer === 'function' && socket.readableLength === 0) {
    const rec = socket as unknown as Record<symbol, unknown>
    rec[s.callback] = deliver
    rec[s.buffer] = shared
    handle.useUserBuffer(shared)
    socket.resume()
    return 'onread'
  }
  socket.on('data', (chunk: Buffer) => { sink.receive(chunk, 0, chunk.length) })
  return 'stream'
}
