/**
 * Long-lived X25519 key pairs (the peer's identity key; the hub's key) and the proof of
 * possession a peer gives when it joins with an enrolled key.
 *
 * The proof is a static-static Diffie-Hellman, as Noise's `ss` token and WireGuard's
 * handshake use it: the hub sends a fresh nonce and its public key; the peer answers
 *   HMAC-SHA256(key = X25519(peer private, hub public), "overlan-join-1" || nonce || hub public || peer public)
 * which only the holder of the peer's private key (or the hub's) can compute. The nonce is
 * single-use, so a recorded proof is worthless. No new primitive: X25519 and HMAC from
 * node:crypto. The same key serves the direct path later (issue 14).
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto'
import { join } from 'node:path'
import { OverlanError } from './errors.js'
import { ensureDir, readJsonFile, writeFileAtomic } from './state-file.js'

export const KEY_FILE = 'key.json'
export const NONCE_LEN = 32
const PROOF_LABEL = Buffer.from('overlan-join-1')
/** DER prefix of an X25519 SubjectPublicKeyInfo (RFC 8410): the raw 32 bytes follow. */
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')

export interface KeyPair {
  privateKey: KeyObject
  /** Raw 32-byte public key, base64url (what the wire carries). */
  publicKey: string
}

export const publicKeyOf = (privateKey: KeyObject): string =>
  createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).subarray(X25519_SPKI_PREFIX.length).toString('base64url')

/** A wire public key (base64url of 32 bytes) as a KeyObject, or null when malformed. */
export const parsePublicKey = (b64: string): KeyObject | null => {
  if (!/^[A-Za-z0-9_-]{43}$/.test(b64)) return null
  const raw = Buffer.from(b64, 'base64url')
  // One spelling per key: the last character's two spare bits must be zero (bans and
  // enrolments compare the strings).
  if (raw.length !== 32 || raw.toString('base64url') !== b64) return null
  try { return createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' }) } catch { return null }
}

/** Short, stable name of a key for people and logs: "sha256:" + 16 bytes of hex. */
export const keyFingerprint = (publicKey: string): string => `sha256:${createHash('sha256').update(Buffer.from(publicKey, 'base64url')).digest('hex').slice(0, 32)}`

export const generateKeyPair = (): KeyPair => {
  const { privateKey } = generateKeyPairSync('x25519')
  return { privateKey, publicKey: publicKeyOf(privateKey) }
}

/** The key pair in `stateDir` (created on first use, file mode 0600). */
export const loadOrCreateKeyPair = (stateDir: string): KeyPair => {
  ensureDir(stateDir)
  const file = join(stateDir, KEY_FILE)
  const existing = readJsonFile(file) as { x25519?: unknown } | undefined
  if (existing !== undefined) {
    try {
      if (typeof existing.x25519 !== 'string') throw new Error('no x25519 field')
      const privateKey = createPrivateKey({ key: Buffer.from(existing.x25519, 'base64'), format: 'der', type: 'pkcs8' })
      return { privateKey, publicKey: publicKeyOf(privateKey) }
    } catch (e) {
      throw new OverlanError('STATE_IO', `${file} does not hold a valid X25519 key (${(e as Error).message}); move it away to get a new one (it must then be enrolled again)`, { cause: e })
    }
  }
  const pair = generateKeyPair()
  writeFileAtomic(file, JSON.stringify({ x25519: pair.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64') }) + '\n', 0o600)
  return pair
}

export const newNonce = (): string => randomBytes(NONCE_LEN).toString('base64url')

const mac = (shared: Buffer, nonce: string, hubKey: string, peerKey: string): Buffer =>
  createHmac('sha256', shared).update(PROOF_LABEL).update(Buffer.from(nonce, 'base64url')).update(Buffer.from(hubKey, 'base64url')).update(Buffer.from(peerKey, 'base64url')).digest()

/** The peer's answer to a challenge (base64url). Throws on a malformed hub key. */
export const proveJoin = (peer: KeyPair, hubKey: string, nonce: string): string => {
  const hub = parsePublicKey(hubKey)
  if (hub === null) throw new OverlanError('BAD_MESSAGE', 'the hub sent a malformed key in its challenge')
  return mac(diffieHellman({ privateKey: peer.privateKey, publicKey: hub }), nonce, hubKey, peer.publicKey).toString('base64url')
}

/** Does `proof` show possession of `peerKey`'s private key for this challenge? Constant time. */
export const verifyJoin = (hub: KeyPair, peerKey: string, nonce: string, proof: string): boolean => {
  const peer = parsePublicKey(peerKey)
  if (peer === null || !/^[A-Za-z0-9_-]{43}$/.test(proof)) return false
  let shared: Buffer
  try { shared = diffieHellman({ privateKey: hub.privateKey, publicKey: peer }) } catch { return false } // a low-order point
  const want = mac(shared, nonce, hub.publicKey, peerKey)
  const got = Buffer.from(proof, 'base64url')
  return got.length === want.length && timingSafeEqual(got, want)
}
