/**
 * RFC 6455 frames in, messages out (§5): an incremental parser fed whatever the socket read.
 * Pure: bytes in, sink calls out, synchronously.
 *
 * A whole unfragmented frame inside one read (the common case: a batch of game frames) reaches
 * the sink as a view of the read buffer, unmasked in place, with no copy. Only a frame split
 * across reads, or a fragmented message, is assembled in a buffer of its own, never larger than
 * `maxMessage`. Views are valid only during the sink call: the reader reuses its buffer.
 *
 * Fails the connection (§7.1.7), with the close code the RFC asks for, on: reserved bits
 * (no extension is negotiated), unknown opcodes, a client frame unmasked or a server frame
 * masked (§5.1), oversized or fragmented control frames (§5.5), a continuation with no message
 * or a new message inside one (§5.4), a message over `maxMessage` (1009), text or a close
 * reason that is not UTF-8 (1007, §8.1), a close code no one may send (§7.4).
 */
import {
  CLOSE_INVALID_DATA, CLOSE_NO_STATUS, CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG, MAX_CONTROL_PAYLOAD,
  OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT, maskInPlace
} from './frame.js'

export interface FrameSink {
  /** A whole binary message, buf[off, off+len); valid only during the call. */
  binary: (buf: Buffer, off: number, len: number) => void
  text: (text: string) => void
  /** A ping's payload (a copy: the caller may keep it for the pong). */
  ping: (payload: Buffer) => void
  pong: () => void
  /** The other end's close frame; code 1005 when it gave none. */
  close: (code: number, reason: string) => void
}

/** Why the parser failed the connection: the close code to send, and what was wrong. */
export class WsProtocolError extends Error {
  constructor (readonly closeCode: number, message: string) { super(message) }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** §7.4.1/§7.4.2: codes an endpoint may put in a close frame. */
export const validCloseCode = (c: number): boolean =>
  (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999)

const HEADER = 0
const PAYLOAD = 1

export class FrameParser {
  /** Set once the stream failed; everything after is ignored. */
  failed: WsProtocolError | null = null
  private state = HEADER
  // the header being read (it may be split across reads too)
  private readonly head = Buffer.alloc(14)
  private headLen = 0
  // the frame whose payload is being read
  private fin = false
  private opcode = 0
  private masked = false
  private key = 0
  private frameLen = 0
  private frameDone = 0
  // the message being assembled (a split frame or fragments); null on the fast path
  private msg: Buffer | null = null
  private msgLen = 0
  /** Opcode of the fragmented message in progress, 0 when none. */
  private fragmented = 0
  private readonly control = Buffer.alloc(MAX_CONTROL_PAYLOAD)

  /** `server`: frames must be masked (they come from clients), else they must not be. */
  constructor (private readonly server: boolean, private readonly maxMessage: number, private readonly sink: FrameSink) {}

  /** Feeds buf[off, end); payload bytes are unmasked in place. False once the stream failed. */
  push (buf: Buffer, off: number, end: number): boolean {
    while (off < end && this.failed === null) {
      if (this.state === HEADER) off = this.readHeader(buf, off, end)
      else off = this.readPayload(buf, off, end)
    }
    return this.failed === null
  }

  private fail (code: number, message: string): number {
    this.failed = new WsProtocolError(code, message)
    this.msg = null
    return Number.MAX_SAFE_INTEGER
  }

  /** Takes header bytes; once whole, checks it and moves to the payload. */
  private readHeader (buf: Buffer, off: number, end: number): number {
    const h = this.head
    // The header's length is known from its first two bytes (and the mask bit).
    while (this.headLen < 2 && off < end) h[this.headLen++] = buf[off++]!
    if (this.headLen < 2) return off
    const b1 = h[1]!
    const len7 = b1 & 0x7f
    const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0)
    while (this.headLen < need && off < end) h[this.headLen++] = buf[off++]!
    if (this.headLen < need) return off
    this.headLen = 0

    const b0 = h[0]!
    if ((b0 & 0x70) !== 0) return this.fail(CLOSE_PROTOCOL_ERROR, 'reserved bits set (no extension was negotiated)')
    this.fin = (b0 & 0x80) !== 0
    this.opcode = b0 & 0x0f
    this.masked = (b1 & 0x80) !== 0
    if (this.masked !== this.server) return this.fail(CLOSE_PROTOCOL_ERROR, this.server ? 'client frame not masked' : 'server frame masked')
    let len = len7
    let p = 2
    if (len7 === 126) { len = h.readUInt16BE(2); p = 4 } else if (len7 === 127) {
      const hi = h.readUInt32BE(2)
      // Over 2^53 cannot be a length; anything near it is over maxMessage anyway.
      if (hi > 0x1fffff) return this.fail(CLOSE_TOO_BIG, 'frame length over 2^53')
      len = hi * 0x100000000 + h.readUInt32BE(6)
      p = 10
    }
    this.key = this.masked ? h.readInt32LE(p) >>> 0 : 0
    this.frameLen = len
    this.frameDone = 0

    const op = this.opcode
    if (op >= 0x8) {
      if (op !== OP_CLOSE && op !== OP_PING && op !== OP_PONG) return this.fail(CLOSE_PROTOCOL_ERROR, `unknown control opcode ${op}`)
      if (!this.fin) return this.fail(CLOSE_PROTOCOL_ERROR, 'fragmented control frame')
      if (len > MAX_CONTROL_PAYLOAD) return this.fail(CLOSE_PROTOCOL_ERROR, 'control frame over 125 bytes')
    } else if (op === OP_CONTINUATION) {
      if (this.fragmented === 0) return this.fail(CLOSE_PROTOCOL_ERROR, 'continuation frame with no message')
      if (this.msgLen + len > this.maxMessage) return this.fail(CLOSE_TOO_BIG, `message over ${this.maxMessage} bytes`)
    } else if (op === OP_TEXT || op === OP_BINARY) {
      if (this.fragmented !== 0) return this.fail(CLOSE_PROTOCOL_ERROR, 'new message inside a fragmented one')
      if (len > this.maxMessage) return this.fail(CLOSE_TOO_BIG, `message over ${this.maxMessage} bytes`)
      if (!this.fin) { this.fragmented = op; this.msgLen = 0 }
    } else {
      return this.fail(CLOSE_PROTOCOL_ERROR, `unknown opcode ${op}`)
    }
    this.state = PAYLOAD
    // An empty payload is whole already.
    if (len === 0) this.frameComplete(buf, off, 0)
    return off
  }

  private readPayload (buf: Buffer, off: number, end: number): number {
    const take = Math.min(end - off, this.frameLen - this.frameDone)
    if (this.masked) maskInPlace(buf, off, take, this.key, this.frameDone)
    const op = this.opcode
    // The fast path: a whole unfragmented data frame in this read.
    if (op < 0x8 && this.frameDone === 0 && take === this.frameLen && this.fragmented === 0 && this.fin) {
      this.frameDone = take
      this.frameComplete(buf, off, take)
      return off + take
    }
    if (op >= 0x8) {
      buf.copy(this.control, this.frameDone, off, off + take)
    } else {
      this.reserve(this.msgLen + take)
      buf.copy(this.msg!, this.msgLen, off, off + take)
      this.msgLen += take
    }
    this.frameDone += take
    if (this.frameDone === this.frameLen) this.frameComplete(buf, off, take)
    return off + take
  }

  /** Room in the assembly buffer for `need` bytes: exact for one split frame, doubling (up to the limit) for fragments. */
  private reserve (need: number): void {
    const m = this.msg
    if (m !== null && m.length >= need) return
    const size = this.fragmented === 0 ? this.frameLen : Math.min(this.maxMessage, Math.max(need, 2 * (m?.length ?? 0), 4096))
    const next = Buffer.allocUnsafe(size)
    if (m !== null) m.copy(next, 0, 0, this.msgLen)
    this.msg = next
  }

  /** The frame's payload is all read: buf[off, off+len) when it came whole in this read. */
  private frameComplete (buf: Buffer, off: number, len: number): void {
    this.state = HEADER
    const op = this.opcode
    if (op >= 0x8) { this.controlFrame(op, this.frameLen); return }
    if (!this.fin) return // more fragments follow
    const whole = this.msg === null
    const kind = this.fragmented !== 0 ? this.fragmented : op
    const b = whole ? buf : this.msg!
    const o = whole ? off : 0
    const n = whole ? len : this.msgLen
    this.msg = null
    this.msgLen = 0
    this.fragmented = 0
    if (kind === OP_BINARY) { this.sink.binary(b, o, n); return }
    let text: string
    try { text = utf8.decode(b.subarray(o, o + n)) } catch { this.fail(CLOSE_INVALID_DATA, 'text message is not UTF-8'); return }
    this.sink.text(text)
  }

  private controlFrame (op: number, len: number): void {
    const c = this.control
    if (op === OP_PING) { this.sink.ping(Buffer.from(c.subarray(0, len))); return }
    if (op === OP_PONG) { this.sink.pong(); return }
    if (len === 0) { this.sink.close(CLOSE_NO_STATUS, ''); return }
    if (len === 1) { this.fail(CLOSE_PROTOCOL_ERROR, 'close frame with a 1-byte payload'); return }
    const code = c.readUInt16BE(0)
    if (!validCloseCode(code)) { this.fail(CLOSE_PROTOCOL_ERROR, `invalid close code ${code}`); return }
    let reason: string
    try { reason = utf8.decode(c.subarray(2, len)) } catch { this.fail(CLOSE_INVALID_DATA, 'close reason is not UTF-8'); return }
    this.sink.close(code, reason)
  }
}
