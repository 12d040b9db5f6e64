/**
 * The hub's HTTP side on the WebSocket port: `GET /healthz` for anyone; `GET /status`,
 * `GET /metrics` (Prometheus text, hub/metrics.ts) and `/admin/*` for admins only. Who is an admin:
 *
 *   adminToken set         ─► `Authorization: Bearer <adminToken>` (constant-time), nothing else
 *   no token, TLS on       ─► requests from loopback (no reverse proxy can stand in front)
 *   no token, --no-tls     ─► nobody, unless trustedProxies are named: then a client whose
 *                             X-Forwarded-For address is loopback (the proxy's own host)
 *
 * Every body is validated (400 with a stable `code`, never a crash); unknown rooms are 404.
 *
 * Members (the same operations as `hub peers|kick|ban|unban|lease|invite`, hub/member-admin.ts):
 *   GET  /admin/rooms/R/peers              POST /admin/rooms/R/kick|ban|unban {name}
 *   POST /admin/rooms/R/leases/release {name}
 *   GET  /admin/rooms/R/invites            POST /admin/rooms/R/invites {name?, uses?, expires?}
 *   DELETE /admin/invites/ID
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from '../core/log.js'
import { tokenMatches } from './auth.js'
import { isLoopback, plainAddress, type Doors } from './doors.js'
import type { RunControl } from './control-socket.js'
import { DashboardFeed, type Snapshot } from './dashboard-feed.js'
import { DASHBOARD_PAGE, LOGIN_PAGE } from './dashboard-page.js'
import { DashboardSessions } from './dashboard-sessions.js'
import { validateImpairment } from './impairment.js'
import type { AuditLog } from './audit.js'
import type { Room } from './room.js'

/** Largest admin request body. */
export const MAX_ADMIN_BODY_BYTES = 4096

export interface HttpApiDeps {
  rooms: ReadonlyMap<string, Room>
  doors: Doors
  log: Logger
  adminToken: string | undefined
  tls: boolean
  health: () => Record<string, unknown>
  status: () => unknown
  /** Runs one member operation (hub/control-socket.ts), or null while the hub starts. */
  control: () => RunControl | null
  metrics: () => Promise<{ contentType: string, body: string }>
  audit?: AuditLog
}

type Reply = (code: number, body: Record<string, unknown>) => void

export class HttpApi {
  private readonly sessions = new DashboardSessions()
  readonly feed: DashboardFeed

  constructor (private readonly d: HttpApiDeps) {
    this.feed = new DashboardFeed(() => d.rooms.values(), () => Number((d.health() as { uptimeS?: number }).uptimeS ?? 0),
      () => (d.health() as { cluster?: Snapshot['cluster'] }).cluster)
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      this.route(req, res)
    } catch (e) {
      // A bad path escape or a bug in a route: a 400/500 for this request, never the process.
      if (!res.headersSent) { res.writeHead(e instanceof URIError ? 400 : 500, { 'content-type': 'application/json' }); res.end(JSON.stringify({ code: e instanceof URIError ? 'BAD_REQUEST' : 'INTERNAL', error: String(e) }) + '\n') }
    }
  }

  private route (req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const reply: Reply = (code, body) => {
      if (res.headersSent) return
      res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify(body) + '\n')
    }
    if (path === '/' || path === '/login' || path === '/logout' || path === '/events') { this.dashboard(req, res, path, reply); return }
    if (path === '/healthz') {
      if (req.method !== 'GET') { reply(405, { code: 'METHOD', error: 'use GET' }); return }
      reply(200, this.d.health())
      return
    }
    if (path === '/metrics') {
      const why = this.adminRefusal(req)
      if (why !== null) { reply(401, { code: 'ADMIN_ONLY', error: why }); return }
      this.d.metrics().then(m => { res.writeHead(200, { 'content-type': m.contentType, 'cache-control': 'no-store' }); res.end(m.body) },
        (e: unknown) => { reply(500, { code: 'INTERNAL', error: String(e) }) })
      return
    }
    if (path === '/status' || path.startsWith('/admin/')) {
      const why = this.adminRefusal(req)
      if (why !== null) { reply(401, { code: 'ADMIN_ONLY', error: why }); return }
      // A browser page of another site can POST a form to a hub that trusts loopback or a
      // cookie, but cannot send JSON or a custom header without CORS, which the hub never grants.
      const bearer = (req.headers.authorization ?? '').startsWith('Bearer ')
      const json = String(req.headers['content-type'] ?? '').startsWith('application/json') || req.headers['x-overlan'] === '1'
      if (req.method !== 'GET' && !bearer && !json) { reply(403, { code: 'CSRF', error: 'changes need "Content-Type: application/json" (or the Bearer token)' }); return }
      if (path.startsWith('/admin/rooms/') || path.startsWith('/admin/invites/')) { this.members(req, path, reply); return }
      if (path === '/status') {
        if (req.method !== 'GET') { reply(405, { code: 'METHOD', error: 'use GET' }); return }
        reply(200, this.d.status() as Record<string, unknown>)
        return
      }
      this.impairment(req, reply)
      return
    }
    reply(404, { code: 'NOT_FOUND', error: 'not found; peers connect with a WebSocket upgrade, health is at /healthz' })
  }

  /** The member operations over HTTP: each maps to one control request. */
  private members (req: IncomingMessage, path: string, reply: Reply): void {
    const control = this.d.control()
    if (control === null) { reply(503, { code: 'STARTING', error: 'the hub is starting' }); return }
    const parts = path.split('/').slice(2).map(p => decodeURIComponent(p)) // rooms, R, op… | invites, ID
    const by = `http ${this.d.doors.clientAddress(req)}`
    const run = (r: Record<string, unknown> & { cmd: string }): void => {
      control(r, by).then(result => { reply(200, { ok: true, result }) }, (e: unknown) => {
        const code = (e as { code?: string }).code ?? 'INTERNAL'
        reply(code === 'USAGE' ? 400 : 500, { code, error: (e as Error).message })
      })
    }
    if (parts[0] === 'invites' && parts.length === 2 && req.method === 'DELETE') { run({ cmd: 'revoke', id: parts[1] }); return }
    const [, room, op, sub] = parts
    if (room === undefined || op === undefined) { reply(404, { code: 'NOT_FOUND', error: 'expected /admin/rooms/ROOM/peers|kick|ban|unban|invites|leases/release' }); return }
    if (op === 'peers' && req.method === 'GET') { run({ cmd: 'peers', room }); return }
    if (op === 'invites' && req.method === 'GET') { run({ cmd: 'invites', room }); return }
    if (req.method !== 'POST') { reply(405, { code: 'METHOD', error: 'use POST (GET for peers and invites)' }); return }
    const cmd = op === 'invites' ? 'invite' : op === 'leases' && sub === 'release' ? 'release' : ['kick', 'ban', 'unban'].includes(op) ? op : null
    if (cmd === null) { reply(404, { code: 'NOT_FOUND', error: `no operation ${op}` }); return }
    readBody(req, MAX_ADMIN_BODY_BYTES, (text) => {
      if (text === null) { reply(413, { code: 'TOO_LARGE', error: `body over ${MAX_ADMIN_BODY_BYTES} bytes` }); return }
      let v: unknown
      try { v = text === '' ? {} : JSON.parse(text) } catch { reply(400, { code: 'BAD_REQUEST', error: 'body is not JSON' }); return }
      if (typeof v !== 'object' || v === null || Array.isArray(v)) { reply(400, { code: 'BAD_REQUEST', error: 'body must be a JSON object' }); return }
      const o = v as Record<string, unknown>
      this.d.log.info('admin.call', { op: cmd, room, by: this.d.doors.clientAddress(req) })
      run({ ...o, cmd, room })
    })
  }

  /**
   * The dashboard: `/` is the page for admins and a sign-in form for the others (with an
   * adminToken); `POST /login` sets the session cookie; `/events` is the live feed.
   */
  private dashboard (req: IncomingMessage, res: ServerResponse, path: string, reply: Reply): void {
    const html = (code: number, body: string, headers: Record<string, string> = {}): void => {
      res.writeHead(code, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'", 'x-content-type-options': 'nosniff', ...headers })
      res.end(body)
    }
    const see = (where: string, headers: Record<string, string> = {}): void => { res.writeHead(303, { location: where, ...headers }); res.end() }
    if (path === '/login') {
      if (req.method !== 'POST') { see('/'); return }
      readBody(req, 1024, (text) => {
        const token = new URLSearchParams(text ?? '').get('token') ?? ''
        const t = this.d.adminToken
        const id = t !== undefined ? this.sessions.login(token, t, Date.now()) : null
        if (id === null) { this.d.audit?.record('admin_login_failed', { by: this.d.doors.clientAddress(req) }); see('/?failed'); return }
        this.d.audit?.record('admin_login', { by: this.d.doors.clientAddress(req) })
        see('/', { 'set-cookie': this.sessions.cookie(id, this.d.tls) })
      })
      return
    }
    if (path === '/logout') { this.sessions.logout(req); see('/', { 'set-cookie': this.sessions.cookie('', this.d.tls).replace(/Max-Age=\d+/, 'Max-Age=0') }); return }
    const why = this.adminRefusal(req)
    if (path === '/events') {
      if (why !== null) { reply(401, { code: 'ADMIN_ONLY', error: why }); return }
      if (!this.feed.open(res)) { reply(503, { code: 'TOO_MANY', error: 'too many dashboards open' }); return }
      this.d.doors.joined(req.socket) // an admin's long-lived stream: not a connection waiting to join
      return
    }
    if (why === null) { html(200, DASHBOARD_PAGE); return }
    if (this.d.adminToken !== undefined) { html(200, LOGIN_PAGE); return }
    html(401, `<!doctype html><meta charset="utf-8"><title>overlan hub</title><p>${why.replace(/[<>&"]/g, c => `&#${c.charCodeAt(0)};`)}</p>`)
  }

  /** Null when `req` comes from an admin; else why not, as a sentence. */
  adminRefusal (req: IncomingMessage): string | null {
    const t = this.d.adminToken
    if (t !== undefined) {
      const h = req.headers.authorization ?? ''
      if (h.startsWith('Bearer ') && tokenMatches(h.slice(7), t)) return null
      // A dashboard session; what changes something must also carry the page's own header (CSRF).
      if (this.sessions.valid(req, Date.now()) && (req.method === 'GET' || req.headers['x-overlan'] === '1')) return null
      return 'needs "Authorization: Bearer <adminToken>" (or the dashboard\'s sign-in)'
    }
    const peer = plainAddress(req.socket.remoteAddress)
    // Behind a proxy every request arrives from the proxy: loopback proves nothing, only
    // what a trusted proxy says of the client does (and a missing header says nothing).
    if (this.d.doors.isTrustedProxy(peer)) {
      const client = this.d.doors.forwardedClient(req)
      return client !== null && isLoopback(client) ? null : 'needs "Authorization: Bearer <adminToken>" or a request from the proxy host itself'
    }
    if (this.d.tls) return isLoopback(peer) ? null : 'needs a request from loopback, or "Authorization: Bearer <adminToken>" once adminToken is set'
    return 'with --no-tls set adminToken (or name the reverse proxy in trustedProxies): behind a proxy every request looks local'
  }

  /**
   * GET: current impairment of every room. PUT {room, peer?, delayMs, jitterMs, lossPercent}:
   * sets it for the room (or one peer of it) at run time; all zeros clears.
   */
  private impairment (req: IncomingMessage, reply: Reply): void {
    const current = (): Record<string, unknown> => Object.fromEntries([...this.d.rooms].map(([name, r]) =>
      [name, { room: r.settings.impairment.room, peers: Object.fromEntries(r.settings.impairment.peers) }]))
    if (req.method === 'GET') { reply(200, current()); return }
    if (req.method !== 'PUT') { reply(405, { code: 'METHOD', error: 'use GET or PUT' }); return }
    readBody(req, MAX_ADMIN_BODY_BYTES, (text) => {
      if (text === null) { reply(413, { code: 'TOO_LARGE', error: `body over ${MAX_ADMIN_BODY_BYTES} bytes` }); return }
      let v: unknown
      try { v = JSON.parse(text) } catch { reply(400, { code: 'BAD_REQUEST', error: 'body is not JSON' }); return }
      if (typeof v !== 'object' || v === null || Array.isArray(v)) { reply(400, { code: 'BAD_REQUEST', error: 'body must be a JSON object {room, peer?, delayMs, jitterMs, lossPercent}' }); return }
      const o = v as Record<string, unknown>
      if (typeof o.room !== 'string') { reply(400, { code: 'BAD_REQUEST', error: 'room must be a room name' }); return }
      const room = this.d.rooms.get(o.room)
      if (room === undefined) { reply(404, { code: 'ROOM_UNKNOWN', error: `no room ${o.room.slice(0, 64)}` }); return }
      if (o.peer !== undefined && typeof o.peer !== 'string') { reply(400, { code: 'BAD_REQUEST', error: 'peer must be a peer name' }); return }
      const spec = validateImpairment(o)
      if (typeof spec === 'string') { reply(400, { code: 'BAD_REQUEST', error: spec }); return }
      room.setImpairment(o.peer ?? null, spec)
      this.d.audit?.record('impairment_set', { room: room.settings.name, peer: o.peer, delayMs: spec.delayMs, jitterMs: spec.jitterMs, lossPercent: spec.lossPercent, by: this.d.doors.clientAddress(req) })
      this.d.log.info('impairment.set', { room: room.settings.name, peer: o.peer, delayMs: spec.delayMs, jitterMs: spec.jitterMs, lossPercent: spec.lossPercent, by: this.d.doors.clientAddress(req) })
      reply(200, current())
    })
  }
}

/** Reads at most `max` bytes of body; `null` when it is longer (the request is then dropped). */
const readBody = (req: IncomingMessage, max: number, done: (text: string | null) => void): void => {
  let body = ''
  let over = false
  req.setEncoding('utf8')
  req.on('data', (d: string) => {
    if (over) return
    body += d
    if (body.length > max) { over = true; done(null); req.resume() }
  })
  req.on('end', () => { if (!over) done(body) })
  req.on('error', () => {})
}
