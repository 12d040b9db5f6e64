/**
 * Small JSON state files (leases, identities), written atomically: write a temp file
 * beside the target, fsync it, rename over the target, fsync the directory. A crash
 * leaves either the old or the new file, never a torn one.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs'
import { open, rename } from 'node:fs/promises'
import { dirname, join, basename } from 'node:path'
import { OverlanError, errnoCode } from './errors.js'

export const ensureDir = (dir: string, mode = 0o700): void => {
  try {
    mkdirSync(dir, { recursive: true, mode })
  } catch (e) {
    throw new OverlanError('STATE_IO', `cannot create state directory ${dir}: ${errnoCode(e) ?? (e as Error).message}`, { cause: e })
  }
}

const tempOf = (file: string): string => join(dirname(file), `.${basename(file)}.${process.pid}.tmp`)

export const writeFileAtomic = (file: string, data: string | Buffer, mode = 0o600): void => {
  const dir = dirname(file)
  const tmp = tempOf(file)
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

/** writeFileAtomic without blocking the event loop (for writes coalesced off the hot path). */
export const writeFileAtomicAsync = async (file: string, data: string | Buffer, mode = 0o600): Promise<void> => {
  const tmp = tempOf(file)
  try {
    const fh = await open(tmp, 'w', mode)
    try {
      await fh.writeFile(data)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, file)
    const dh = await open(dirname(file), 'r')
    try { await dh.sync() } finally { await dh.close() }
  } catch (e) {
    throw new OverlanError('STATE_IO', `cannot write ${file}: ${errnoCode(e) ?? (e as Error).message}`, { cause: e })
  }
}

/** Removes temp files a crash left beside `file` (".name.PID.tmp"); returns how many. */
export const removeStaleTemps = (file: string): number => {
  const prefix = `.${basename(file)}.`
  let n = 0
  for (const f of readdirSync(dirname(file))) {
    if (f.startsWith(prefix) && f.endsWith('.tmp')) { rmSync(join(dirname(file), f), { force: true }); n++ }
  }
  return n
}

/**
 * A state file written off the hot path: `markDirty()` schedules one atomic write within
 * `delayMs`; changes during a write are written right after it; `flush()` writes now.
 * A failed write is reported and retried with the next change.
 */
export class CoalescedFile {
  private dirty = false
  private timer: NodeJS.Timeout | null = null
  private writing: Promise<void> | null = null
  /** Writes done (tests and status). */
  writes = 0

  constructor (private readonly file: string, private readonly serialize: () => string, private readonly delayMs: number, private readonly onError: (e: Error) => void = () => {}) {}

  markDirty (): void {
    this.dirty = true
    if (this.timer === null && this.writing === null) {
      this.timer = setTimeout(() => { this.timer = null; void this.write() }, this.delayMs)
      this.timer.unref()
    }
  }

  async flush (): Promise<void> {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null }
    while (this.writing !== null) await this.writing
    if (this.dirty) await this.write()
  }

  private async write (): Promise<void> {
    this.dirty = false
    const done = writeFileAtomicAsync(this.file, this.serialize())
      .then(() => { this.writes++ }, (e: unknown) => { this.dirty = true; this.onError(e as Error) })
      .finally(() => { this.writing = null })
    this.writing = done
    await done
    if (this.dirty && this.timer === null) this.markDirty()
  }
}
