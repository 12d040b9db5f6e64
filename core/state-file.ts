/**
 * Small JSON state files (leases, identities), written atomically: write a temp file
 * beside the target, fsync it, rename over the target, fsync the directory. A crash
 * leaves either the old or the new file, never a torn one.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { dirname, join, basename } from 'node:path'
import { OverlanError, errnoCode } from './errors.js'

export const ensureDir = (dir: string, mode = 0o700): void => {
  try {
    mkdirSync(dir, { recursive: true, mode })
  } catch (e) {
    throw new OverlanError('STATE_IO', `cannot create state directory ${dir}: ${errnoCode(e) ?? (e as Error).message}`, { cause: e })
  }
}

export const writeFileAtomic = (file: string, data: string | Buffer, mode = 0o600): void => {
  const dir = dirname(file)
  const tmp = join(dir, `.${basename(file)}.${process.pid}.tmp`)
  try {
    const fd = openSync(tmp, 'w', mode)
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, file)
    const dfd = openSync(dir, 'r')
    try { fsyncSync(dfd) } finally { closeSync(dfd) }
  } catch (e) {
    throw new OverlanError('STATE_IO', `cannot write ${file}: ${errnoCode(e) ?? (e as Error).message}`, { cause: e })
  }
}

/** Reads a JSON file; `undefined` when it does not exist. Throws STATE_IO when it is corrupt. */
export const readJsonFile = (file: string): unknown => {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined
    throw new OverlanError('STATE_IO', `cannot read ${file}: ${errnoCode(e) ?? (e as Error).message}`, { cause: e })
  }
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new OverlanError('STATE_IO', `state file ${file} is not valid JSON (${(e as Error).message}); move it away to start fresh`, { cause: e })
  }
}
