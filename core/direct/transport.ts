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
import { aeadDecrypt, aeadEncrypt } from './noise.js'
import { ReplayWindow, REKEY_AFTER_MESSAGES } from './replay.js'

export const TYPE_HANDSHAKE_INIT = 1
export const TYPE_HANDSHAKE_RESP = 2
export const TYPE_DATA = 4
export const DATA_HEADER_LEN = 13
export const TAG_LEN = 16
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
    const header = Buffer.allocUnsafe(DATA_HEADER_LEN)
    header[0] = TYPE_DATA
    header.writeUInt32LE(this.remoteIndex >>> 0, 1)
    const n = this.counter++
    header.writeBigUInt64LE(BigInt(n), 5)
    return Buffer.concat([header, aeadEncrypt(this.sendKey, BigInt(n), header, plaintext)])
  }

  /** The plaintext of a DATA packet for this session, or null (forged, damaged, replayed, too old). */
  open (packet: Buffer): Buffer | null {
    if (packet.length < DATA_HEADER_LEN + TAG_LEN || packet[0] !== TYPE_DATA) return null
    const n = packet.readBigUInt64LE(5)
    if (n >= 2n ** 53n) { this.rejectedReplay++; return null }
    const header = packet.subarray(0, DATA_HEADER_LEN)
    const plain = aeadDecrypt(this.receiveKey, n, header, packet.subarray(DATA_HEADER_LEN))
    if (plain === null) { this.rejectedAuth++; return null }
    // Only an authentic packet may move the window (a forged counter must not shift it).
    if (!this.window.accept(Number(n))) { this.rejectedReplay++; return null }
    return plain
  }
}

/** The receiver index of a HANDSHAKE_RESP or DATA packet, or -1. */
export const receiverOf = (packet: Buffer): number =>
  packet.length >= 5 && (packet[0] === TYPE_DATA || packet[0] === TYPE_HANDSHAKE_RESP) ? packet.readUInt32LE(1) : -1
