/**
 * A throwaway PostgreSQL 15 for tests: initdb and pg_ctl as the `postgres` user (the server
 * refuses root) in a temporary directory, listening on 127.0.0.1 on a free port, or on port
 * 5432 inside a network namespace the test made (then only that namespace reaches it). fsync is off
 * (an OS crash is not a test case) but commits are synchronous: down() is an immediate stop,
 * a server crash, and must lose nothing committed.
 * Every wait is bounded; stop() removes the directory. Restart keeps the data (a database
 * restart under load is a test case).
 */
import { execFile } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { freePort } from './loopback.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const BIN = '/usr/lib/postgresql/15/bin'

/** Why PostgreSQL tests cannot run here, or null. */
export const postgresUnavailable = (): string | null => {
  if (!existsSync(join(BIN, 'initdb'))) return `PostgreSQL 15 server binaries missing (${BIN}; apt-get install postgresql-15)`
  if (process.getuid?.() !== 0) return 'needs root (to run the server as the postgres user)'
  return null
}

const run = (netns: string | null, args: string[], timeoutMs = 30_000): Promise<string> => new Promise((resolve, reject) => {
  const asPostgres = ['runuser', '-u', 'postgres', '--', ...args]
  const [cmd, ...rest] = netns === null ? asPostgres : ['ip', 'netns', 'exec', netns, ...asPostgres]
  execFile(cmd!, rest, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
    if (err === null) resolve(stdout)
    else reject(new Error(`${args[0]}: ${stderr.trim() || err.message}`))
  })
})

export class TestPostgres {
  readonly dir = mkdtempSync(join(tmpdir(), 'overlan-pg-'))
  port = 0
  /** `netns`: the server runs in that namespace (its loopback), started and stopped from here. */
  constructor (private readonly netns: string | null = null) {}
  get url (): string { return `postgres://overlan@127.0.0.1:${this.port}/overlan` }
  private get data (): string { return join(this.dir, 'data') }

  async start (): Promise<void> {
    chmodSync(this.dir, 0o700)
    const ids = await new Promise<string>((resolve, reject) => { execFile('id', ['-u', 'postgres'], (e, o) => { if (e !== null) reject(e); else resolve(o.trim()) }) })
    const gid = await new Promise<string>((resolve, reject) => { execFile('id', ['-g', 'postgres'], (e, o) => { if (e !== null) reject(e); else resolve(o.trim()) }) })
    chownSync(this.dir, Number(ids), Number(gid))
    this.port = this.netns === null ? await freePort() : 5432
    await run(this.netns, [join(BIN, 'initdb'), '-D', this.data, '-A', 'trust', '-U', 'overlan', '--no-sync', '-E', 'UTF8'], 60_000)
    await this.up()
    await run(this.netns, [join(BIN, 'createdb'), '-h', '127.0.0.1', '-p', String(this.port), '-U', 'overlan', 'overlan'])
  }

  /** Starts the server on the same data and port (after stopServer). */
  async up (): Promise<void> {
    await run(this.netns, [join(BIN, 'pg_ctl'), '-D', this.data, '-l', join(this.dir, 'log'), '-w', '-t', '30', '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`, 'start'], 40_000)
  }

  /** Stops the server now (immediate: as a crash would). */
  async down (): Promise<void> {
    await run(this.netns, [join(BIN, 'pg_ctl'), '-D', this.data, '-m', 'immediate', '-w', '-t', '30', 'stop'], 40_000).catch(() => {})
  }

  async stop (): Promise<void> {
    await this.down()
    rmSync(this.dir, { recursive: true, force: true })
  }
}
