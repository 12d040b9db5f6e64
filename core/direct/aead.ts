/**
 * ChaCha20-Poly1305 (RFC 8439, IETF nonce) for the direct path's data packets, in place and
 * without allocating: libsodium through sodium-native, which ships its binary inside the
 * package. Measured here (encrypt + decrypt of one packet): 3.6 µs at 100 B and 7.6 µs at
 * 1400 B, against 23 and 28 µs with node:crypto's createCipheriv per packet — the cost that
 * decides a Node peer's packet rate. Where the addon cannot load, node:crypto does the same
 * (same bytes on the wire).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { createRequire } from 'node:module'

export const AEAD_TAG_LEN = 16

interface Sodium {
  crypto_aead_chacha20poly1305_ietf_encrypt: (c: Buffer, m: Buffer, ad: Buffer | null, nsec: null, npub: Buffer, k: Buffer) => number
  crypto_aead_chacha20poly1305_ietf_decrypt: (m: Buffer, nsec: null, c: Buffer, ad: Buffer | null, npub: Buffer, k: Buffer) => number
}

const loadSodium = (): Sodium | null => {
  try { return createRequire(import.meta.url)('sodium-native') as Sodium } catch { return null }
}
const sodium = loadSodium()
export const AEAD_IMPLEMENTATION = sodium !== null ? 'libsodium (sodium-native)' : 'node:crypto'

/** Scratch nonce: 4 zero bytes, the 64-bit counter little-endian (as Noise and WireGuard). */
const nonce = Buffer.alloc(12)
const setNonce = (counter: number): Buffer => { nonce.writeUInt32LE(counter >>> 0, 4); nonce.writeUInt32LE(Math.floor(counter / 0x100000000), 8); return nonce }

/**
 * Encrypts `len` bytes at `buf[off]` in place and writes the tag after them; `ad` is
 * authenticated, not encrypted. `buf` must have AEAD_TAG_LEN bytes of room after the plaintext.
 */
export const sealInPlace = (key: Buffer, counter: number, ad: Buffer, buf: Buffer, off: number, len: number): void => {
  const n = setNonce(counter)
  if (sodium !== null) {
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt(buf.subarray(off, off + len + AEAD_TAG_LEN), buf.subarray(off, off + len), ad, null, n, key)
    return
  }
  const c = createCipheriv('chacha20-poly1305', key, n, { authTagLength: AEAD_TAG_LEN })
  c.setAAD(ad, { plaintextLength: len })
  const ct = c.update(buf.subarray(off, off + len))
  c.final()
  ct.copy(buf, off)
  c.getAuthTag().copy(buf, off + len)
}

/** Decrypts ciphertext + tag at `buf[off, off+len)` into `out` (from 0); the plaintext length, or -1 when the tag does not verify. */
export const openInto = (key: Buffer, counter: number, ad: Buffer, buf: Buffer, off: number, len: number, out: Buffer): number => {
  if (len < AEAD_TAG_LEN || out.length < len - AEAD_TAG_LEN) return -1
  const n = setNonce(counter)
  try {
    if (sodium !== null) return sodium.crypto_aead_chacha20poly1305_ietf_decrypt(out.subarray(0, len - AEAD_TAG_LEN), null, buf.subarray(off, off + len), ad, n, key)
    const d = createDecipheriv('chacha20-poly1305', key, n, { authTagLength: AEAD_TAG_LEN })
    d.setAAD(ad, { plaintextLength: len - AEAD_TAG_LEN })
    d.setAuthTag(buf.subarray(off + len - AEAD_TAG_LEN, off + len))
    const p = d.update(buf.subarray(off, off + len - AEAD_TAG_LEN))
    d.final()
    p.copy(out)
    return p.length
  } catch {
    return -1 // forged or damaged
  }
}
