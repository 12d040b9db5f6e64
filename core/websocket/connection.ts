/**
 * One open WebSocket (RFC 6455) on a net or TLS socket, after the handshake: the data path of
 * the relay on both ends (the peer's link to its hub, the hub's session per peer). Why our own
 * and not the `ws` package's: README "Performance" (a relayed pass through ws's Receiver and
 * Sender, both Node streams, against one parser call and one socket.write).
 *
 *   OPEN ─close() / a close frame / a protocol error─► CLOSING ─TCP closed─► CLOSED
 *   OPEN ─terminate() / TCP error or end─► CLOSED
 *
 * Reading: the owner's reader hands bytes to `receive` (core/websocket/reader.ts). Sending:
 * each message is one frame, built in the shared send arena (one copy; client frames masked
 * there with a fresh random key, §5.3) or in place behind headroom the caller left
 * (`sendFramed`), and one socket.write. `bufferedAmount` is what the socket still holds: the
 * owners bound their queues by it and drop instead of growing.
 */
import { randomFillSync } from 'node:crypto'
import type { Socket } from 'node:net'
import {
  CLOSE_ABNORMAL, CLOSE_NO_STATUS, closeReasonBytes, MAX_CONTROL_PAYLOAD, MAX_HEADER, OP_BINARY, OP_CLOSE, OP_PING,
  OP_PONG, OP_TEXT, maskInPlace, writeHeader
} from './frame.js'
import { FrameParser, type FrameSink, type WsProtocolError } from './parser.js'
import { sendArena } from './send-arena.js'

export const OPEN = 1
export const CLOSING = 2
export const CLOSED = 3
/** After our close frame, the other end has this long to answer and close before the TCP connection is cut. */
export const CLOSE_TIMEOUT_MS = 2000

export interface WsHandlers {
  /** A binary message, buf[off, off+len): valid only during the call. */
  binary: (buf: Buffer, off: number, len: number) => void
  text: (text: string) => void
  /** A ping arrived (answered already). */
  ping?: () => void
  pong: () => void
  /** Once, when the TCP connection is gone: the close code received (1006 when none, §7.1.5), or the one we failed it with. */
  closed: (code: number, reason: string) => void
  /** A socket error (the connection then closes), or the protocol error that failed it. */
  error?: (e: Error) => void
}

// Masking keys: 2048 at a time from the CSPRNG (§5.3 asks for unpredictable ones).
const keys = Buffer.allocUnsafe(8192)
let keyAt = keys.length
const nextKey = (): number => {
  if (keyAt === keys.length) { randomFillSync(keys); keyAt = 0 }
  const k = keys.readUInt32LE(keyAt)
  keyAt += 4
  return k
}

/** A region of the send arena for a `len`-byte payload and its header: the payload's offset, word-aligned (masking goes a word at a time). */
const arenaPayload = (len: number): number => (sendArena.take(len + MAX_HEADER + 4) + MAX_HEADER + 3) & ~3

/**
 * Send-queue bytes above which pings go unanswered: far above any session's data bound (the
 * hub's default is 128 KiB), so a pong under load is still sent, while a ping flood from a far
 * end that does not read stops here.
 */
export const PONG_BACKLOG_MAX = 1024 * 1024

export class WsConnection {
  readyState = OPEN
  private readonly parser: FrameParser
  private closeReceived = false
  private code = CLOSE_ABNORMAL
  private reason = ''
  private closeTimer: NodeJS.Timeout | null = null
  private waiters: Array<() => void> = []

  /** `client`: our frames are masked, the other end's must not be. */
  constructor (readonly socket: Socket, private readonly client: boolean, maxMessage: number, readonly h: WsHandlers) {
    socket.setNoDelay(true)
    this.parser = new FrameParser(!client, maxMessage, new ConnectionSink(this))
    socket.on('error', (e) => { h.error?.(e) })
    socket.on('close', () => {
      if (this.closeTimer !== null) clearTimeout(this.closeTimer)
      this.readyState = CLOSED
      h.closed(this.code, this.reason)
      for (const w of this.waiters) w()
      this.waiters = []
    })
  }

  /** Received bytes, from the reader (core/websocket/reader.ts). */
  receive (buf: Buffer, off: number, len: number): void {
    if (this.readyState === CLOSED) return
    if (!this.parser.push(buf, off, off + len)) this.protocolError(this.parser.failed!)
  }

  /** After a close frame, a protocol error or terminate() nothing more is delivered. */
  get delivering (): boolean { return !this.closeReceived && !this.terminated }
  private terminated = false

  /**
   * §5.5.2: a ping is answered with its payload — unless a ping flood from a far end that does not
   * read would grow our send queue without bound (§5.5.3 lets us skip pongs).
   */
  answerPing (payload: Buffer): void { if (this.socket.writableLength <= PONG_BACKLOG_MAX) this.control(OP_PONG, payload) }

  /** Bytes written but not yet handed to the kernel. */
  get bufferedAmount (): number { return this.socket.writableLength }

  /** One binary message, copied from buf[off, off+len). False when the connection is not open. */
  sendBinary (buf: Buffer, off: number, len: number): boolean {
    if (this.readyState !== OPEN) return false
    const payload = arenaPayload(len)
    buf.copy(sendArena.buf, payload, off, off + len)
    this.frame(sendArena.buf, payload, len, OP_BINARY)
    return true
  }

  /**
   * One binary message already in place at buf[payloadOff, payloadOff+len), MAX_HEADER bytes
   * before it ours to overwrite with the header: no copy. The bytes must stay unchanged
   * afterwards (the socket may still hold them); a client's are masked in place.
   */
  sendFramed (buf: Buffer, payloadOff: number, len: number): boolean {
    if (this.readyState !== OPEN) return false
    this.frame(buf, payloadOff, len, OP_BINARY)
    return true
  }

  sendText (text: string): boolean {
    if (this.readyState !== OPEN) return false
    const len = Buffer.byteLength(text)
    const payload = arenaPayload(len)
    sendArena.buf.write(text, payload, len, 'utf8')
    this.frame(sendArena.buf, payload, len, OP_TEXT)
    return true
  }

  ping (): boolean {
    if (this.readyState !== OPEN) return false
    this.control(OP_PING, null)
    return true
  }

  /** Starts the closing handshake (§7.1.2); the connection is cut if it does not finish in time. */
  close (code: number, reason = ''): void {
    if (this.readyState !== OPEN) return
    this.sendClose(code, reason)
    this.readyState = CLOSING
    this.armCloseTimer()
  }

  /** Resolves once the TCP connection is gone (at once if it is). */
  async whenClosed (): Promise<void> {
    if (this.readyState === CLOSED) return
    await new Promise<void>(resolve => { this.waiters.push(resolve) })
  }

  /** Cuts the TCP connection now (no closing handshake); bytes already read are not delivered. */
  terminate (): void {
    this.terminated = true
    if (this.readyState === CLOSED) return
    this.readyState = CLOSING
    this.socket.destroy()
  }

  private frame (buf: Buffer, payload: number, len: number, op: number): void {
    let key: number | null = null
    if (this.client) {
      key = nextKey()
      maskInPlace(buf, payload, len, key)
    }
    const start = writeHeader(buf, payload, op, len, key)
    this.socket.write(buf.subarray(start, payload + len))
  }

  /** A ping, pong or close frame (payload ≤ 125 bytes), sent in any state but closed. */
  private control (op: number, payload: Buffer | null): void {
    if (this.readyState === CLOSED || this.socket.destroyed) return
    const len = payload === null ? 0 : Math.min(payload.length, MAX_CONTROL_PAYLOAD)
    const p = arenaPayload(len)
    if (payload !== null) payload.copy(sendArena.buf, p, 0, len)
    this.frame(sendArena.buf, p, len, op)
  }

  private sendClose (code: number, reason: string): void {
    if (code === CLOSE_NO_STATUS) { this.control(OP_CLOSE, null); return }
    const r = closeReasonBytes(reason)
    const payload = Buffer.allocUnsafe(2 + r.length)
    payload.writeUInt16BE(code, 0)
    r.copy(payload, 2)
    this.control(OP_CLOSE, payload)
  }

  /** §5.5.1: answer a close with the same code, then end the TCP connection. */
  onCloseFrame (code: number, reason: string): void {
    if (this.closeReceived) return
    this.closeReceived = true
    this.code = code
    this.reason = reason
    if (this.readyState === OPEN) {
      this.sendClose(code, '')
      this.readyState = CLOSING
    }
    this.socket.end()
    this.armCloseTimer()
  }

  /** §7.1.7: fail the connection with the parser's close code. */
  private protocolError (e: WsProtocolError): void {
    if (this.closeReceived) return
    this.closeReceived = true // nothing more is delivered
    this.code = e.closeCode
    this.reason = e.message
    this.h.error?.(e)
    if (this.readyState === OPEN) this.sendClose(e.closeCode, e.message)
    this.readyState = CLOSING
    this.socket.end()
    this.armCloseTimer()
  }

  private armCloseTimer (): void {
    if (this.closeTimer !== null) return
    this.closeTimer = setTimeout(() => { this.socket.destroy() }, CLOSE_TIMEOUT_MS)
    this.closeTimer.unref()
  }
}

/**
 * The parser's sink for one connection. A class, not closures made per connection: every
 * connection then runs the same functions, which the JIT optimises once and a keep-warm
 * loop's connection keeps warm for all of them.
 */
class ConnectionSink implements FrameSink {
  constructor (private readonly c: WsConnection) {}
  binary (buf: Buffer, off: number, len: number): void { if (this.c.delivering) this.c.h.binary(buf, off, len) }
  text (text: string): void { if (this.c.delivering) this.c.h.text(text) }
  ping (payload: Buffer): void {
    if (!this.c.delivering) return
    this.c.answerPing(payload)
    this.c.h.ping?.()
  }

  pong (): void { if (this.c.delivering) this.c.h.pong() }
  close (code: number, reason: string): void { this.c.onCloseFrame(code, reason) }
}
