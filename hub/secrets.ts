/**
 * Secrets the hub keeps (invite secrets) are stored only as scrypt hashes (RFC 7914, from
 * node:crypto): "scrypt$N$r$p$salt$hash", base64url. Checking one costs ~20-40 ms of the
 * libuv thread pool, never the event loop; at most MAX_CHECKS run at once, so a flood of
 * invite guesses waits its turn (the join rate per address bounds it further).
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto'

const N = 16_384
const R = 8
const P = 1
const KEY_LEN = 32
const MAX_CHECKS = 2

const scrypt = (secret: string, salt: Buffer, len: number, o: ScryptOptions): Promise<Buffer> =>
  new Promise((resolve, reject) => { scryptCb(secret, salt, len, o, (e, k) => { if (e !== null) reject(e); else resolve(k) }) })

export const hashSecret = async (secret: string): Promise<string> => {
  const salt = randomBytes(16)
  const key = await scrypt(secret, salt, KEY_LEN, { N, r: R, p: P })
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`
}

let running = 0
const waiting: Array<() => void> = []

/** Does `secret` match `hash`? False for malformed hashes. Constant time in the comparison. */
export const verifySecret = async (secret: string, hash: string): Promise<boolean> => {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(hash)
  if (m === null) return false
  const [n, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (n > 1 << 20 || r > 32 || p > 16) return false
  if (running >= MAX_CHECKS) await new Promise<void>(resolve => { waiting.push(resolve) })
  running++
  try {
    const want = Buffer.from(m[5]!, 'base64url')
    const got = await scrypt(secret, Buffer.from(m[4]!, 'base64url'), want.length, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 })
    return timingSafeEqual(got, want)
  } finally {
    running--
    waiting.shift()?.()
  }
}
