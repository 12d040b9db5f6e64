/**
 * The direct path's handshake: Noise IK (Noise_IK_25519_ChaChaPoly_SHA256, the Noise Protocol
 * Framework rev. 34 §7.5), as WireGuard uses it. The initiator knows the responder's static key
 * (the hub hands every member the room's public keys), so one round trip authenticates both
 * sides and agrees fresh keys with forward secrecy:
 *
 *   <- s
 *   ...
 *   -> e, es, s, ss    payload: timestamp (12 B, rejects replayed first messages) || sender index (4 B)
 *   <- e, ee, se       payload: sender index (4 B)
 *
 * Split() gives each side a send and a receive key for transport messages (transport.ts).
 * Known primitives only: X25519, SHA-256 and HMAC from node:crypto, ChaCha20-Poly1305 from aead.ts
 * (libsodium, or node:crypto where it cannot load). No new primitive.
 */
import { createHash, createHmac, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { AEAD_TAG_LEN, openInto, sealInPlace } from './aead.js'
import { parsePublicKey, publicKeyOf, type KeyPair } from '../keys.js'

export const PROTOCOL_NAME = 'Noise_IK_25519_ChaChaPoly_SHA256'
const HASHLEN = 32
const DHLEN = 32
const TAGLEN = AEAD_TAG_LEN
export const MSG1_PAYLOAD_LEN = 16
export const MSG2_PAYLOAD_LEN = 4
/** e (32) + encrypted s (32 + 16) + encrypted payload (16 + 16). */
export const MSG1_LEN = DHLEN + DHLEN + TAGLEN + MSG1_PAYLOAD_LEN + TAGLEN
/** e (32) + encrypted payload (4 + 16). */
export const MSG2_LEN = DHLEN + MSG2_PAYLOAD_LEN + TAGLEN

const hash = (...parts: Buffer[]): Buffer => { const h = createHash('sha256'); for (const p of parts) h.update(p); return h.digest() }
const hmac = (key: Buffer, ...parts: Buffer[]): Buffer => { const h = createHmac('sha256', key); for (const p of parts) h.update(p); return h.digest() }

/** Noise HKDF (§4.3): two (or three) outputs from a chaining key and input key material. */
export const hkdf = (ck: Buffer, ikm: Buffer, n: 2 | 3): Buffer[] => {
  const temp = hmac(ck, ikm)
  const o1 = hmac(temp, Buffer.from([1]))
  const o2 = hmac(temp, o1, Buffer.from([2]))
  return n === 2 ? [o1, o2] : [o1, o2, hmac(temp, o2, Buffer.from([3]))]
}

/** ChaCha20-Poly1305 with Noise's nonce (4 zero bytes, the 64-bit counter little-endian): aead.ts, shared with the data packets. */
export const aeadEncrypt = (key: Buffer, n: bigint, ad: Buffer, plaintext: Buffer): Buffer => {
  const b = Buffer.allocUnsafe(plaintext.length + AEAD_TAG_LEN)
  plaintext.copy(b)
  sealInPlace(key, Number(n), ad, b, 0, plaintext.length)
  return b
}
/** The plaintext, or null when the tag does not verify (a forged or damaged message). */
export const aeadDecrypt = (key: Buffer, n: bigint, ad: Buffer, ciphertext: Buffer): Buffer | null => {
  if (ciphertext.length < AEAD_TAG_LEN) return null
  const out = Buffer.allocUnsafe(ciphertext.length - AEAD_TAG_LEN)
  return openInto(key, Number(n), ad, ciphertext, 0, ciphertext.length, out) < 0 ? null : out
}

const dh = (priv: KeyObject, pubRaw: Buffer): Buffer => {
  const pub = parsePublicKey(pubRaw.toString('base64url'))
  if (pub === null) throw new Error('bad public key')
  return diffieHellman({ privateKey: priv, publicKey: pub })
}
const raw = (k: KeyPair): Buffer => Buffer.from(k.publicKey, 'base64url')

/** SymmetricState of the Noise spec (§5.2). */
class Symmetric {
  ck: Buffer
  h: Buffer
  private k: Buffer | null = null
  private n = 0n

  constructor (prologue: Buffer) {
    const name = Buffer.from(PROTOCOL_NAME)
    this.h = name.length <= HASHLEN ? Buffer.concat([name, Buffer.alloc(HASHLEN - name.length)]) : hash(name)
    this.ck = this.h
    this.mixHash(prologue)
  }

  mixHash (data: Buffer): void { this.h = hash(this.h, data) }

  mixKey (ikm: Buffer): void {
    const [ck, k] = hkdf(this.ck, ikm, 2)
    this.ck = ck!
    this.k = k!
    this.n = 0n
  }

  encryptAndHash (plaintext: Buffer): Buffer {
    const c = this.k === null ? plaintext : aeadEncrypt(this.k, this.n++, this.h, plaintext)
    this.mixHash(c)
    return c
  }

  decryptAndHash (ciphertext: Buffer): Buffer | null {
    const p = this.k === null ? ciphertext : aeadDecrypt(this.k, this.n++, this.h, ciphertext)
    if (p === null) return null
    this.mixHash(ciphertext)
    return p
  }

  /** The transport keys: [initiator -> responder, responder -> initiator]. */
  split (): [Buffer, Buffer] {
    const [a, b] = hkdf(this.ck, Buffer.alloc(0), 2)
    return [a!, b!]
  }
}

export interface SessionKeys {
  send: Buffer
  receive: Buffer
  /** The handshake hash: the same on both sides (for tests and channel binding). */
  h: Buffer
}

/** The initiator's side: write message 1, then read message 2. */
export class Initiator {
  private readonly ss: Symmetric
  private readonly e = generateKeyPairSync('x25519').privateKey
  private readonly eRaw: Buffer

  constructor (private readonly s: KeyPair, private readonly rs: string, prologue: Buffer) {
    this.ss = new Symmetric(prologue)
    this.ss.mixHash(Buffer.from(rs, 'base64url')) // <- s (pre-message)
    this.eRaw = Buffer.from(publicKeyOf(this.e), 'base64url')
  }

  /** Message 1 carrying `payload` (MSG1_PAYLOAD_LEN bytes). */
  writeMessage1 (payload: Buffer): Buffer {
    const rs = Buffer.from(this.rs, 'base64url')
    this.ss.mixHash(this.eRaw) // e
    this.ss.mixKey(dh(this.e, rs)) // es
    const s = this.ss.encryptAndHash(raw(this.s)) // s
    this.ss.mixKey(dh(this.s.privateKey, rs)) // ss
    const p = this.ss.encryptAndHash(payload)
    return Buffer.concat([this.eRaw, s, p])
  }

  /** Reads message 2; the keys and the responder's payload, or null when it does not verify. */
  readMessage2 (msg: Buffer): { keys: SessionKeys, payload: Buffer } | null {
    if (msg.length !== MSG2_LEN) return null
    const re = msg.subarray(0, DHLEN)
    try {
      this.ss.mixHash(re) // e
      this.ss.mixKey(dh(this.e, re)) // ee
      this.ss.mixKey(dh(this.s.privateKey, re)) // se
    } catch { return null }
    const payload = this.ss.decryptAndHash(msg.subarray(DHLEN))
    if (payload === null) return null
    const [send, receive] = this.ss.split()
    return { keys: { send, receive, h: this.ss.h }, payload }
  }
}

/** The responder's side: read message 1 (learning who it is from), then write message 2. */
export class Responder {
  private readonly ss: Symmetric
  private re: Buffer | null = null
  /** The initiator's static key (base64url), known once message 1 verified. */
  remoteStatic: string | null = null

  constructor (private readonly s: KeyPair, prologue: Buffer) {
    this.ss = new Symmetric(prologue)
    this.ss.mixHash(raw(s)) // <- s (pre-message)
  }

  /** The initiator's payload, or null when message 1 does not verify. */
  readMessage1 (msg: Buffer): Buffer | null {
    if (msg.length !== MSG1_LEN) return null
    const re = msg.subarray(0, DHLEN)
    try {
      this.ss.mixHash(re) // e
      this.ss.mixKey(dh(this.s.privateKey, re)) // es
    } catch { return null }
    const rs = this.ss.decryptAndHash(msg.subarray(DHLEN, DHLEN + DHLEN + TAGLEN)) // s
    if (rs === null) return null
    try { this.ss.mixKey(dh(this.s.privateKey, rs)) } catch { return null } // ss
    const payload = this.ss.decryptAndHash(msg.subarray(DHLEN + DHLEN + TAGLEN))
    if (payload === null) return null
    this.re = Buffer.from(re)
    this.remoteStatic = rs.toString('base64url')
    return payload
  }

  /** Message 2 carrying `payload` (MSG2_PAYLOAD_LEN bytes), and the session keys. */
  writeMessage2 (payload: Buffer): { msg: Buffer, keys: SessionKeys } {
    if (this.re === null || this.remoteStatic === null) throw new Error('message 1 first')
    const e = generateKeyPairSync('x25519').privateKey
    const eRaw = Buffer.from(publicKeyOf(e), 'base64url')
    this.ss.mixHash(eRaw) // e
    this.ss.mixKey(dh(e, this.re)) // ee
    this.ss.mixKey(dh(e, Buffer.from(this.remoteStatic, 'base64url'))) // se
    const p = this.ss.encryptAndHash(payload)
    const [toResponder, toInitiator] = this.ss.split()
    return { msg: Buffer.concat([eRaw, p]), keys: { send: toInitiator, receive: toResponder, h: this.ss.h } }
  }
}

/** 12-byte timestamp for message 1 (TAI64N-like: seconds and nanoseconds): must grow per initiator. */
export const timestamp = (nowMs: number): Buffer => {
  const b = Buffer.alloc(12)
  b.writeBigUInt64BE(BigInt(Math.floor(nowMs / 1000)) + 0x400000000000000an, 0)
  b.writeUInt32BE((nowMs % 1000) * 1_000_000, 8)
  return b
}
