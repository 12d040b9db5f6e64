/**
 * The audit trail: joins, refusals (reason and source address), kicks, bans, invites made
 * and used, admin calls — one structured line each, in the hub log and appended to
 * `<state>/audit.log` (JSON lines). The file is bounded: past MAX_BYTES it is rotated to
 * audit.log.1 (one generation kept), so a flood of refusals cannot fill the disk.
 */
import { appendFileSync, renameSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { LogFields, Logger } from '../core/log.js'

export const AUDIT_FILE = 'audit.log'
export const MAX_BYTES = 5 * 1024 * 1024

export class AuditLog {
  private size = 0

  constructor (private readonly dir: string | null, private readonly log: Logger | null) {
    if (dir !== null) { try { this.size = statSync(join(dir, AUDIT_FILE)).size } catch { this.size = 0 } }
  }

  /** A log that records nothing (before start, in tests). */
  static none (): AuditLog { return new AuditLog(null, null) }

  record (event: string, fields: LogFields): void {
    if (this.dir === null) return
    this.log?.info(`audit.${event}`, fields)
    const line = JSON.stringify({ at: new Date().toISOString(), event, ...fields }) + '\n'
    const file = join(this.dir, AUDIT_FILE)
    try {
      if (this.size + line.length > MAX_BYTES) { renameSync(file, `${file}.1`); this.size = 0 }
      appendFileSync(file, line, { mode: 0o600 })
      this.size += Buffer.byteLength(line)
    } catch (e) {
      this.log?.warn('audit.write_failed', { error: (e as Error).message })
    }
  }
}
