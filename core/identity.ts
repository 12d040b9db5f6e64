/** The peer identity: 128 random bits kept in the state directory; the key of its lease. */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { ensureDir, readJsonFile, writeFileAtomic } from './state-file.js'
import { OverlanError } from './errors.js'

export const IDENTITY_FILE = 'identity.json'

export const loadOrCreateIdentity = (stateDir: string): string => {
  ensureDir(stateDir)
  const file = join(stateDir, IDENTITY_FILE)
  const existing = readJsonFile(file) as { identity?: unknown } | undefined
  if (existing !== undefined) {
    if (typeof existing.identity === 'string' && /^[0-9a-f]{32}$/.test(existing.identity)) return existing.identity
    throw new OverlanError('STATE_IO', `${file} does not hold a valid identity; move it away to get a new one (and a new lease)`)
  }
  const identity = randomBytes(16).toString('hex')
  writeFileAtomic(file, JSON.stringify({ identity }) + '\n')
  return identity
}
