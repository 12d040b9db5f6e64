/**
 * The join token of rooms created on first join, when the operator gave none: generated
 * once, shown once (in the banner of the start that made it), and kept only as its scrypt
 * hash in `<state>/join-token.json`. After a restart the hub checks it against the hash;
 * a token that checked out once is remembered (as its SHA-256, in memory) so later joins
 * cost a constant-time compare, not a scrypt. A file of an older hub holding the token in
 * the clear is converted to the hash at start.
 */
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { readJsonFile, writeFileAtomic } from '../core/state-file.js'
import { tokenMatches } from './auth.js'
import { hashSecret, verifySecret } from './secrets.js'

export const JOIN_TOKEN_FILE = 'join-token.json'
/** Distinct tokens remembered as verified (only the right one can get here, but bound it). */
const MAX_VERIFIED = 4

export class AutoToken {
  private readonly verified: string[] = []

  private constructor (
    /** The token in the clear: given by the operator, or just generated (null after a restart). */
    readonly plain: string | null,
    private readonly hash: string | null
  ) {}

  /** From the operator's token (config or --token): kept in memory only, as given. */
  static given (token: string): AutoToken { return new AutoToken(token, null) }

  /** The token of `stateDir`: made (and hashed to disk) on first start. */
  static async load (stateDir: string): Promise<AutoToken> {
    const file = join(stateDir, JOIN_TOKEN_FILE)
    const existing = readJsonFile(file) as { token?: unknown, scrypt?: unknown } | undefined
    if (typeof existing?.scrypt === 'string') return new AutoToken(null, existing.scrypt)
    const token = typeof existing?.token === 'string' && existing.token.length >= 8 ? existing.token : randomBytes(18).toString('base64url')
    const hash = await hashSecret(token)
    writeFileAtomic(file, JSON.stringify({ scrypt: hash }) + '\n')
    return new AutoToken(token, hash)
  }

  /** Does `given` match? Constant time for the clear token and remembered ones; scrypt otherwise. */
  async matches (given: string): Promise<boolean> {
    if (this.plain !== null) return tokenMatches(given, this.plain)
    const digest = createHash('sha256').update(given).digest('hex')
    let known = false
    for (const v of this.verified) if (tokenMatches(digest, v)) known = true
    if (known) return true
    if (this.hash === null || !await verifySecret(given, this.hash)) return false
    if (this.verified.length < MAX_VERIFIED) this.verified.push(digest)
    return true
  }
}
