/**
 * RFC 6455 framing, the pieces both ends share (§5.2): opcodes, header lengths, a header
 * written in front of its payload, and masking (§5.3). Pure.
 *
 *   byte 0   FIN | RSV1-3 | opcode        byte 1   MASK | 7-bit length (126: u16 follows, 127: u64)
 *   then the masking key (client frames only), then the payload
 */
export const OP_CONTINUATION = 0x0
export const OP_TEXT = 0x1
export const OP_BINARY = 0x2
export const OP_CLOSE = 0x8
export const OP_PING = 0x9
export const OP_PONG = 0xa

/** §5.5: control frames carry at most 125 bytes and are never fragmented. */
export const MAX_CONTROL_PAYLOAD = 125
/** The longest header: 2 + 8 (64-bit length) + 4 (masking key). Room callers leave before a payload. */
export const MAX_HEADER = 14

/** §7.4.1 close codes this implementation sends or reports. */
export const CLOSE_NO_STATUS = 1005
export const CLOSE_ABNORMAL = 1006
export const CLOSE_PROTOCOL_ERROR = 1002
export const CLOSE_INVALID_DATA = 1007
export const CLOSE_TOO_BIG = 1009

/**
 * A close frame's reason as UTF-8, cut to fit the frame (§5.5: 125 bytes with the code) at a
 * character boundary: a receiver must fail a connection whose reason is not valid UTF-8 (§8.1).
 */
export const closeReasonBytes = (reason: string): Buffer => {
  const b = Buffer.from(reason, 'utf8')
  let end = Math.min(b.length, MAX_CONTROL_PAYLOAD - 2)
  if (end < b.length) while (end > 0 && (b[end]! & 0xc0) === 0x80) end-- // b[end] continues a character: cut before it starts
  return b.subarray(0, end)
}

export const headerLength = (len: number, masked: boolean): number =>
  (len < 126 ? 2 : len < 65536 ? 4 : 10) + (masked ? 4 : 0)

/**
 * Writes a final frame's header so that it ends exactly at `payloadOff`; returns where it
 * starts (at least `payloadOff - MAX_HEADER`). `key` is the masking key as the u32 read
 * little-endian from its four bytes (client frames), or null (server frames).
 */
export const writeHeader = (buf: Buffer, payloadOff: number, opcode: number, len: number, key: number | null): number => {
  const start = payloadOff - headerLength(len, key !== null)
  buf[start] = 0x80 | opcode
  const maskBit = key !== null ? 0x80 : 0
  let p = start + 2
  if (len < 126) {
    buf[start + 1] = maskBit | len
  } else if (len < 65536) {
    buf[start + 1] = maskBit | 126
    buf.writeUInt16BE(len, p)
    p += 2
  } else {
    buf[start + 1] = maskBit | 127
    buf.writeUInt32BE(Math.floor(len / 0x100000000), p)
    buf.writeUInt32BE(len >>> 0, p + 4)
    p += 8
  }
  if (key !== null) buf.writeInt32LE(key | 0, p)
  return start
}

/** Payloads shorter than this are masked byte by byte (a word view costs more than it saves). */
const WORD_MIN = 32
let wordsOf: ArrayBufferLike | null = null
let words: Uint32Array<ArrayBufferLike> = new Uint32Array(0)

/**
 * XORs buf[off, off+len) with the masking key (§5.3), in place; `phase` is how many payload
 * bytes of the frame came before `off` (a frame read in pieces). The key is the u32 read
 * little-endian from its four bytes. Aligned 32-bit words go through a cached Uint32Array
 * view of the buffer's memory (this host is little-endian, as every Node platform we run).
 */
export const maskInPlace = (buf: Buffer, off: number, len: number, key: number, phase = 0): void => {
  let i = 0
  if (len >= WORD_MIN) {
    const abs = buf.byteOffset + off
    // Bytes up to the first aligned word.
    const lead = (4 - (abs & 3)) & 3
    for (; i < lead; i++) buf[off + i]! ^= (key >>> (((phase + i) & 3) << 3)) & 0xff
    if (wordsOf !== buf.buffer) {
      wordsOf = buf.buffer
      words = new Uint32Array(buf.buffer, 0, buf.buffer.byteLength >>> 2)
    }
    const r = (phase + i) & 3
    // The key rotated so that its byte r lands on the word's lowest byte.
    const w = r === 0 ? key : ((key >>> (8 * r)) | (key << (32 - 8 * r))) >>> 0
    const first = (abs + i) >>> 2
    const n = (len - i) >>> 2
    for (let j = 0; j < n; j++) words[first + j]! ^= w
    i += n * 4
  }
  for (; i < len; i++) buf[off + i]! ^= (key >>> (((phase + i) & 3) << 3)) & 0xff
}
