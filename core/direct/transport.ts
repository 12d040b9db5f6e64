/**
 * Direct-path packets on UDP, all little protocols of one byte's type:
 *
 *   HANDSHAKE_INIT  type(1) | Noise IK message 1 (noise.ts)          initiator -> responder
 *   HANDSHAKE_RESP  type(1) | receiver(4) | Noise IK message 2        responder -> initiator
 *   DATA            type(1) | receiver(4) | counter(8) | ChaCha20-Poly1305(frames) + tag(16)
 *
 * `receiver` is the index the other side chose for this session (its lookup key); the header
 * is the AEAD's associated data, so it cannot be altered; the counter is the nonce and passes
 * the receiver's replay window. Sessions rekey after REKEY_AFTER_MS or REKEY_AFTER_MESSAGES
 * and are refused after REJECT_AFTER_MS (WireGuard's timers).
 */
import { AEAD_TAG_LEN, openInto, sealInPlace } from './aead.js'
import { ReplayWindow, REKEY_AFTER_MESSAGES } from './replay.js'

export const TYPE_HANDSHAKE_INIT = 1
export const TYPE_HANDSHAKE_RESP = 2
export const TYPE_DATA = 4
export const DATA_HEADER_LEN = 13
export const TAG_LEN = AEAD_TAG_LEN
export const REKEY_AFTER_MS = 120_000
export const REJECT_AFTER_MS = 180_000

export class TransportSession {
  // set at construction
  readonly createdAt: number
  private readonly window = new ReplayWindow()

  // owned by the sender
  private counter = 0

  // counters
  rejectedReplay = 0
  rejectedAuth = 0

  constructor (
    /** The index the remote chose: put in our DATA headers. */
    readonly remoteIndex: number,
    private readonly sendKey: Buffer,
    private readonly receiveKey: Buffer,
    now: number
  ) {
    this.createdAt = now
  }

  /** Due for a new handshake (time or volume)? */
  needsRekey (now: number): boolean { return now - this.createdAt >= REKEY_AFTER_MS || this.counter >= REKEY_AFTER_MESSAGES }

  /** Too old to use at all. */
  expired (now: number): boolean { return now - this.createdAt >= REJECT_AFTER_MS }

  /** A DATA packet carrying `plaintext`. */
  seal (plaintext: Buffer): Buffer {
    const p = this.packet(plaintext.length)
    plaintext.copy(p, DATA_HEADER_LEN)
    return this.encrypt(p, plaintext.length)
  }

  /** A DATA packet carrying one inner-type byte and `len` bytes of `buf` from `off` (a frame: one copy, sealed in place). */
  sealFrame (inner: number, buf: Buffer, off: number, len: number): Buffer {
    const p = this.packet(1 + len)
    p[DATA_HEADER_LEN] = inner
    buf.copy(p, DATA_HEADER_LEN + 1, off, off + len)
    return this.encrypt(p, 1 + len)
  }

  /**
   * Opens a DATA packet for this session into `out`: the plaintext's length, or -1 (forged,
   * damaged, replayed, out of range). Only an authentic packet moves the replay window.
   */
  open (packet: Buffer, out: Buffer): number {
    if (packet.length < DATA_HEADER_LEN + TAG_LEN || packet[0] !== TYPE_DATA) return -1
    const lo = packet.readUInt32LE(5)
    const hi = packet.readUInt32LE(9)
    if (hi >= 0x10000) { this.rejectedReplay++; return -1 } // ≥ 2^48: far past REJECT_AFTER_MESSAGES
    const n = hi * 0x100000000 + lo
    const len = openInto(this.receiveKey, n, packet.subarray(0, DATA_HEADER_LEN), packet, DATA_HEADER_LEN, packet.length - DATA_HEADER_LEN, out)
    if (len < 0) { this.rejectedAuth++; return -1 }
    if (!this.window.accept(n)) { this.rejectedReplay++; return -1 }
    return len
  }

  /** A DATA packet with its header (the next counter) and room for the plaintext and tag. */
  private packet (plaintextLen: number): Buffer {
    const p = Buffer.allocUnsafe(DATA_HEADER_LEN + plaintextLen + TAG_LEN)
    p[0] = TYPE_DATA
    p.writeUInt32LE(this.remoteIndex >>> 0, 1)
    const n = this.counter++
    p.writeUInt32LE(n >>> 0, 5)
    p.writeUInt32LE(Math.floor(n / 0x100000000), 9)
    return p
  }

  /** Encrypts the plaintext in place under the header's counter (the header is the AD). */
  private encrypt (p: Buffer, plaintextLen: number): Buffer {
    const n = p.readUInt32LE(9) * 0x100000000 + p.readUInt32LE(5)
    sealInPlace(this.sendKey, n, p.subarray(0, DATA_HEADER_LEN), p, DATA_HEADER_LEN, plaintextLen)
    return p
  }
}

/** The receiver index of a HANDSHAKE_RESP or DATA packet, or -1. */
export const receiverOf = (packet: Buffer): number =>
  packet.length >= 5 && (packet[0] === TYPE_DATA || packet[0] === TYPE_HANDSHAKE_RESP) ? packet.readUInt32LE(1) : -1
