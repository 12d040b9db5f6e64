/**
 * The hub's local control socket, `<state>/control.sock` (mode 0600 in a 0700 directory:
 * whoever can read the hub's state may run it), for the `hub invite`, `hub peers`, `hub kick`…
 * commands on the hub's machine. One JSON request line, one JSON answer line:
 *   {"cmd":"invite","room":"friday","name":"bob","uses":1,"expires":"24h"}
 *   -> {"ok":true,"result":{…}} | {"ok":false,"code":"USAGE","message":"…"}
 */
import { chmodSync, existsSync, rmSync } from 'node:fs'
import { createConnection, createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { OverlanError, isOverlanError } from '../core/errors.js'
import { parseDuration } from '../core/invite.js'
import type { MemberAdmin } from './member-admin.js'

export const CONTROL_SOCKET = 'control.sock'
const MAX_REQUEST_BYTES = 64 * 1024
const TIMEOUT_MS = 10_000

export type ControlRequest = Record<string, unknown> & { cmd: string }
/** Runs one request: runControl on this hub, or through a cluster's owner (hub/cluster/admin-relay.ts). */
export type RunControl = (r: ControlRequest, by: string) => Promise<unknown>

const str = (v: unknown, what: string): string => { if (typeof v !== 'string' || v === '') throw new OverlanError('USAGE', `${what} is required`); return v }

/** Runs one request against the admin operations (also used by tests). */
export const runControl = async (admin: MemberAdmin, r: ControlRequest, by = 'control-socket'): Promise<unknown> => {
  switch (r.cmd) {
    case 'invite': {
      const uses = r.uses === undefined ? 1 : Number(r.uses)
      if (!Number.isInteger(uses) || uses < 1 || uses > 1000) throw new OverlanError('USAGE', '--uses is a whole number from 1 to 1000')
      const expires = parseDuration(typeof r.expires === 'string' ? r.expires : '24h')
      if (expires === null || expires > 365 * 86_400_000) throw new OverlanError('USAGE', '--expires is a duration like 30m, 24h or 7d (at most a year)')
      return await admin.invite(str(r.room, '--room'), { name: typeof r.name === 'string' ? r.name : null, uses, expiresInMs: expires }, by)
    }
    case 'invites': return admin.invites(str(r.room, '--room'))
    case 'revoke': admin.revokeInvite(str(r.id, 'the invite id'), by); return { revoked: r.id }
    case 'peers': return admin.peers(str(r.room, '--room'))
    case 'kick': admin.kick(str(r.room, '--room'), str(r.name, 'NAME'), by); return { kicked: r.name }
    case 'ban': admin.ban(str(r.room, '--room'), str(r.name, 'NAME'), by); return { banned: r.name }
    case 'unban': admin.unban(str(r.room, '--room'), str(r.name, 'NAME'), by); return { unbanned: r.name }
    case 'release': admin.releaseLease(str(r.room, '--room'), str(r.name, 'NAME'), by); return { released: r.name }
    default: throw new OverlanError('USAGE', `unknown control command ${String(r.cmd).slice(0, 32)}`)
  }
}

export const serveControl = async (stateDir: string, run: RunControl): Promise<Server> => {
  const path = join(stateDir, CONTROL_SOCKET)
  if (existsSync(path)) rmSync(path, { force: true }) // a socket a killed hub left
  const server = createServer(conn => {
    let buf = ''
    conn.setEncoding('utf8')
    conn.setTimeout(TIMEOUT_MS, () => { conn.destroy() })
    conn.on('error', () => {})
    conn.on('data', (d: string) => {
      buf += d
      if (buf.length > MAX_REQUEST_BYTES) { conn.destroy(); return }
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      const line = buf.slice(0, nl)
      conn.removeAllListeners('data')
      void (async () => {
        let answer: unknown
        try {
          const r = JSON.parse(line) as ControlRequest
          if (typeof r !== 'object' || r === null || typeof r.cmd !== 'string') throw new OverlanError('USAGE', 'a control request is a JSON object with "cmd"')
          answer = { ok: true, result: await run(r, 'control-socket') }
        } catch (e) {
          answer = isOverlanError(e) ? { ok: false, code: e.code, message: e.message } : { ok: false, code: 'INTERNAL', message: e instanceof SyntaxError ? 'the request is not JSON' : String(e) }
        }
        conn.end(JSON.stringify(answer) + '\n')
      })()
    })
  })
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(path, () => { server.off('error', reject); resolve() }) })
  chmodSync(path, 0o600)
  server.unref()
  return server
}

/** Client side (the `hub` subcommands): sends one request to the hub whose state is `stateDir`. */
export const callControl = (stateDir: string, r: ControlRequest): Promise<unknown> => new Promise((resolve, reject) => {
  const path = join(stateDir, CONTROL_SOCKET)
  const c = createConnection(path)
  let buf = ''
  c.setEncoding('utf8')
  c.setTimeout(TIMEOUT_MS, () => { c.destroy(new Error('timed out')) })
  c.on('connect', () => { c.write(JSON.stringify(r) + '\n') })
  c.on('data', (d: string) => { buf += d })
  c.on('error', (e) => {
    const code = (e as NodeJS.ErrnoException).code
    reject(code === 'ENOENT' || code === 'ECONNREFUSED'
      ? new OverlanError('HUB_UNREACHABLE', `no hub runs with state directory ${stateDir} (no ${path}); start it, or pass the hub's --state`)
      : new OverlanError('HUB_UNREACHABLE', `the hub's control socket ${path}: ${e.message}`))
  })
  c.on('end', () => {
    try {
      const a = JSON.parse(buf) as { ok: boolean, result?: unknown, code?: string, message?: string }
      if (a.ok) resolve(a.result)
      else reject(new OverlanError((a.code ?? 'INTERNAL') as 'USAGE', a.message ?? 'the hub refused'))
    } catch {
      reject(new OverlanError('INTERNAL', `the hub answered something else: ${buf.slice(0, 200)}`))
    }
  })
})
