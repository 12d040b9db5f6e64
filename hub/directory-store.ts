/**
 * The rooms' directories across hub restarts (`<state>/directory.json`): daemons such as
 * avahi, nmbd or minidlna announce once and then only answer, so a hub that forgot the
 * directory would list peers without the services they still run. Saved when something
 * changed (every SAVE_MS) and on stop; restored entries keep their expiry, and those of
 * peers that do not come back within Room's grace period are dropped. A cache: an
 * unreadable file is logged and ignored, never fatal.
 */
import { join } from 'node:path'
import type { Logger } from '../core/log.js'
import { readJsonFile, writeFileAtomicAsync } from '../core/state-file.js'
import type { Room } from './room.js'

export const DIRECTORY_FILE = 'directory.json'
export const SAVE_MS = 30_000
const FILE_VERSION = 1

export class DirectoryStore {
  private readonly file: string
  private saved: Map<string, unknown[]>
  private lastVersions = new Map<string, number>()
  private writing: Promise<void> | null = null

  constructor (stateDir: string, private readonly log: Logger) {
    this.file = join(stateDir, DIRECTORY_FILE)
    this.saved = this.load()
  }

  /** Gives a room (configured, or created on first join) what was saved for it, once. */
  restoreInto (room: Room, now: number): void {
    const entries = this.saved.get(room.settings.name)
    if (entries === undefined) return
    this.saved.delete(room.settings.name)
    const n = room.restoreDirectory(entries, now)
    if (n > 0) this.log.info('directory.restored', { room: room.settings.name, entries: n })
  }

  /** Writes the directories if any changed since the last write (or `force`). */
  async save (rooms: Iterable<Room>, force = false): Promise<void> {
    if (this.writing !== null) { await this.writing; if (!force) return }
    const all = [...rooms]
    if (!force && all.every(r => this.lastVersions.get(r.settings.name) === r.directory.version) && all.length === this.lastVersions.size) return
    const now = Date.now()
    const data = { version: FILE_VERSION, rooms: Object.fromEntries(all.map(r => [r.settings.name, r.directory.list(now)])) }
    this.lastVersions = new Map(all.map(r => [r.settings.name, r.directory.version]))
    this.writing = writeFileAtomicAsync(this.file, JSON.stringify(data) + '\n')
      .catch((e: unknown) => { this.log.warn('directory.save_failed', { error: (e as Error).message }) })
      .finally(() => { this.writing = null })
    await this.writing
  }

  private load (): Map<string, unknown[]> {
    try {
      const data = readJsonFile(this.file) as { version?: unknown, rooms?: unknown } | undefined
      if (data === undefined) return new Map()
      if (typeof data !== 'object' || data === null || data.version !== FILE_VERSION || typeof data.rooms !== 'object' || data.rooms === null) throw new Error('not a version 1 directory file')
      return new Map(Object.entries(data.rooms as Record<string, unknown>).filter((e): e is [string, unknown[]] => Array.isArray(e[1])))
    } catch (e) {
      this.log.warn('directory.unreadable', { file: this.file, error: (e as Error).message })
      return new Map()
    }
  }
}
