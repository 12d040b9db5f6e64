/**
 * The hub: HTTPS (or plain HTTP behind a TLS-terminating proxy) + WebSocket server,
 * authentication, leases, rooms and keepalive. Frames are switched by each Room.
 *
 *   upgrade ─► subprotocol check (400 if not overlan.*) ─► hello within HELLO_TIMEOUT_MS
 *          ─► version, room, token (constant time), room size, lease ─► welcome
 *          └► any refusal: `error` {code, message} then close with its CLOSE_* code
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { join } from 'node:path'
import { WebSocketServer, type WebSocket, type RawData } from 'ws'
import { OverlanError, errnoCode, isOverlanError, type ErrorCode } from '../core/errors.js'
import { RateLimitedLog, type Logger } from '../core/log.js'
import {
  CLOSE_BAD_MESSAGE, CLOSE_GOING_AWAY, CLOSE_HELLO_TIMEOUT, CLOSE_NORMAL, HELLO_TIMEOUT_MS, MAX_MESSAGE_BYTES,
  PROTOCOL_VERSION, REFUSAL_CLOSE_CODES, SUBPROTOCOL, decodeControl, encodeControl,
  type ControlMessage, type HelloMessage, type RefusalCode
} from '../core/protocol.js'
import { formatCidr } from '../core/ipv4.js'
import { ensureDir, readJsonFile, writeFileAtomic } from '../core/state-file.js'
import { LeaseStore } from './leases.js'
import { Room } from './room.js'
import { validateImpairment } from './impairment.js'
import { Session } from './session.js'
import type { HubSettings, RoomSettings } from './config.js'
import { loadTlsMaterial, type TlsMaterial } from './self-signed-cert.js'
import { hubStatus, type HubStatus } from './status.js'
import { limitTcpQueues } from '../core/tcp-queues.js'

export interface HubDeps {
  log: Logger
  /** Monotonic-enough ms clock; injected in tests. */
  now?: () => number
}

/** Room housekeeping: querier, join queries, aging. */
const ROOM_TICK_MS = 1000

/** Compares secrets in constant time whatever their lengths. */
export const tokenMatches = (given: string, expected: string): boolean => {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

export class Hub {
  // set at construction
  readonly settings: HubSettings
  private readonly log: Logger
  private readonly now: () => number
  private readonly refusalLog = new RateLimitedLog(10_000, 20)

  // set by start()
  private server: Server | null = null
  private wss: WebSocketServer | null = null
  private leases: LeaseStore | null = null
  private timers: NodeJS.Timeout[] = []
  tls: TlsMaterial | null = null
  autoToken: string | undefined
  startedAt = 0

  // owned by the connection handlers
  private readonly rooms = new Map<string, Room>()
  private readonly pending = new Set<Session>()
  private nextPort = 1
  private stopping = false

  constructor (settings: HubSettings, deps: HubDeps) {
    this.settings = settings
    this.log = deps.log
    this.now = deps.now ?? Date.now
  }

  /** Starts listening; resolves with the bound port. */
  async start (): Promise<number> {
    const s = this.settings
    ensureDir(s.stateDir)
    this.leases = new LeaseStore(s.stateDir)
    if (s.autoCreateRooms) this.autoToken = s.autoRoom.token ?? this.loadOrCreateAutoToken()
    for (const [name, rs] of s.rooms) this.rooms.set(name, new Room(rs, this.now()))

    const onRequest = (req: IncomingMessage, res: ServerResponse): void => { this.handleHttp(req, res) }
    if (s.tls !== null) {
      this.tls = loadTlsMaterial({ ...s.tls, stateDir: s.stateDir, names: ['localhost', '127.0.0.1', '::1'], now: new Date() })
      this.server = createHttpsServer({ cert: this.tls.cert, key: this.tls.key, minVersion: 'TLSv1.2' }, onRequest)
    } else {
      this.server = createHttpServer(onRequest)
    }
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_MESSAGE_BYTES,
      perMessageDeflate: false,
      // Pick overlan.1, or any overlan.N so a peer of another version gets a PROTOCOL_VERSION error.
      handleProtocols: (protocols) => protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : [...protocols].find(p => p.startsWith('overlan.')) ?? false
    })
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      limitTcpQueues(socket)
      this.handleUpgrade(req, socket, head)
    })
    this.server.on('clientError', (_err, socket) => { socket.destroy() })

    const port = await new Promise<number>((resolve, reject) => {
      const server = this.server!
      server.once('error', (e) => {
        reject(new OverlanError('LISTEN_FAILED', `cannot listen on ${s.listenHost}:${s.listenPort}: ${errnoCode(e) ?? e.message}${errnoCode(e) === 'EACCES' ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : ''}`, { cause: e }))
      })
      server.listen(s.listenPort, s.listenHost, () => {
        const a = server.address()
        resolve(typeof a === 'object' && a !== null ? a.port : s.listenPort)
      })
    })
    this.startedAt = this.now()
    this.timers.push(setInterval(() => { this.keepalive() }, s.keepaliveIntervalMs))
    this.timers.push(setInterval(() => { const now = this.now(); for (const r of this.rooms.values()) r.tick(now) }, ROOM_TICK_MS))
    for (const t of this.timers) t.unref()
    this.log.info('hub.start', { listen: `${s.listenHost}:${port}`, tls: s.tls !== null, state: s.stateDir, autoRooms: s.autoCreateRooms })
    return port
  }

  /** Says bye to every peer, closes the listener. Idempotent. */
  async stop (): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    const all = [...this.pending, ...[...this.rooms.values()].flatMap(r => [...r.list()])]
    for (const s of all) {
      this.sendControl(s.ws, { type: 'bye', reason: 'hub shutting down' })
      s.ws.close(CLOSE_GOING_AWAY, 'hub shutting down')
    }
    const closed = Promise.all(all.map(s => new Promise<void>(resolve => {
      if (s.ws.readyState === 3) resolve()
      else s.ws.once('close', () => { resolve() })
    })))
    const deadline = new Promise<void>(resolve => { setTimeout(resolve, 2000).unref() })
    await Promise.race([closed, deadline])
    for (const s of all) s.ws.terminate()
    this.wss?.close()
    await new Promise<void>(resolve => {
      if (this.server === null) { resolve(); return }
      this.server.close(() => { resolve() })
      this.server.closeAllConnections()
    })
    this.log.info('hub.stop', {})
  }

  status (): HubStatus {
    return hubStatus(this.rooms.values(), this.pending.size, this.now(), this.startedAt)
  }

  // --- HTTP ---

  private handleHttp (req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]
    const json = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify(body) + '\n')
    }
    if (path === '/admin/impairment') { this.handleImpairment(req, json); return }
    if (req.method !== 'GET') { json(405, { error: 'method not allowed' }); return }
    if (path === '/healthz') {
      let peers = 0
      for (const r of this.rooms.values()) peers += r.size
      json(200, { status: 'ok', rooms: this.rooms.size, peers, uptimeS: Math.round((this.now() - this.startedAt) / 1000) })
      return
    }
    if (path === '/status') {
      if (!this.adminAllowed(req)) { json(401, { error: 'status needs "Authorization: Bearer <adminToken>" (or a request from loopback when no adminToken is set)' }); return }
      json(200, this.status())
      return
    }
    json(404, { error: 'not found; peers connect with a WebSocket upgrade, health is at /healthz' })
  }

  /**
   * GET: current impairment of every room. PUT {room, peer?, delayMs, jitterMs, lossPercent}:
   * sets it for the room (or one peer of it) at run time; all zeros clears. Admin only.
   */
  private handleImpairment (req: IncomingMessage, json: (code: number, body: unknown) => void): void {
    if (!this.adminAllowed(req)) { json(401, { error: 'needs "Authorization: Bearer <adminToken>" (or loopback when no adminToken is set)' }); return }
    const current = (): unknown => Object.fromEntries([...this.rooms].map(([name, r]) => [name, { room: r.settings.impairment.room, peers: Object.fromEntries(r.settings.impairment.peers) }]))
    if (req.method === 'GET') { json(200, current()); return }
    if (req.method !== 'PUT') { json(405, { error: 'use GET or PUT' }); return }
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (d: string) => { body += d; if (body.length > 4096) req.destroy() })
    req.on('end', () => {
      let v: Record<string, unknown>
      try { v = JSON.parse(body) as Record<string, unknown> } catch { json(400, { error: 'body is not JSON' }); return }
      const room = typeof v.room === 'string' ? this.rooms.get(v.room) : undefined
      if (room === undefined) { json(404, { error: `no room ${String(v.room)}` }); return }
      if (v.peer !== undefined && typeof v.peer !== 'string') { json(400, { error: 'peer must be a peer name' }); return }
      const spec = validateImpairment(v)
      if (typeof spec === 'string') { json(400, { error: spec }); return }
      room.setImpairment((v.peer as string | undefined) ?? null, spec)
      this.log.info('impairment.set', { room: room.settings.name, peer: v.peer as string | undefined, delayMs: spec.delayMs, jitterMs: spec.jitterMs, lossPercent: spec.lossPercent })
      json(200, current())
    })
  }

  private adminAllowed (req: IncomingMessage): boolean {
    const t = this.settings.adminToken
    if (t === undefined) {
      const ip = req.socket.remoteAddress ?? ''
      return ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1'
    }
    const h = req.headers.authorization ?? ''
    return h.startsWith('Bearer ') && tokenMatches(h.slice(7), t)
  }

  private handleUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map(p => p.trim())
    if (this.stopping || !offered.some(p => p.startsWith('overlan.'))) {
      const why = this.stopping ? '503 Service Unavailable' : '400 Bad Request'
      const body = this.stopping ? 'hub shutting down\n' : `WebSocket subprotocol ${SUBPROTOCOL} required\n`
      socket.end(`HTTP/1.1 ${why}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`)
      return
    }
    this.wss!.handleUpgrade(req, socket, head, (ws) => { this.handleConnection(ws, req) })
  }

  // --- sessions ---

  private handleConnection (ws: WebSocket, req: IncomingMessage): void {
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`
    const s = new Session(this.nextPort++, ws, remote, this.now(), this.settings.sendQueueBytes)
    this.pending.add(s)
    const helloTimer = setTimeout(() => {
      if (s.info === null) this.refuse(s, 'BAD_MESSAGE', `no hello within ${HELLO_TIMEOUT_MS} ms`, CLOSE_HELLO_TIMEOUT)
    }, HELLO_TIMEOUT_MS)
    helloTimer.unref()
    ws.on('message', (data: RawData, isBinary: boolean) => {
      s.lastSeen = this.now()
      const buf = data as Buffer
      if (isBinary) {
        if (s.info === null) { s.counters.drops.before_welcome++; this.refuse(s, 'BAD_MESSAGE', 'binary data before welcome', CLOSE_BAD_MESSAGE); return }
        this.rooms.get(s.info.room)?.forward(s, buf, s.lastSeen)
        return
      }
      this.handleControl(s, buf.toString('utf8'))
    })
    ws.on('pong', () => { s.lastSeen = this.now() })
    ws.on('error', (e) => { this.log.debug('peer.ws_error', { remote, error: e.message }) })
    ws.on('close', (code, reason) => {
      clearTimeout(helloTimer)
      this.pending.delete(s)
      if (s.info === null) return
      const room = this.rooms.get(s.info.room)
      room?.leave(s)
      this.log.info('peer.leave', { room: s.info.room, name: s.info.name, ip: s.info.ip, code, reason: reason.toString() })
    })
  }

  private handleControl (s: Session, text: string): void {
    const r = decodeControl(text)
    if (!r.ok) { this.refuse(s, 'BAD_MESSAGE', r.reason, CLOSE_BAD_MESSAGE); return }
    if (r.message === null) { this.log.debug('peer.unknown_message', { type: r.unknownType }); return }
    const m = r.message
    if (m.type === 'hello') {
      if (s.info !== null) { this.refuse(s, 'BAD_MESSAGE', 'second hello on one connection', CLOSE_BAD_MESSAGE); return }
      this.handleHello(s, m)
    } else if (m.type === 'bye') {
      s.ws.close(CLOSE_NORMAL, 'bye')
    } else if (m.type === 'list') {
      const room = s.info !== null ? this.rooms.get(s.info.room) : undefined
      if (room === undefined) { this.refuse(s, 'BAD_MESSAGE', 'list before welcome', CLOSE_BAD_MESSAGE); return }
      this.sendControl(s.ws, {
        type: 'room',
        room: room.settings.name,
        members: room.list().map(o => ({ name: o.info!.name, mac: o.info!.mac, ip: o.info!.ip })),
        services: room.directory.list(this.now())
      })
    } else {
      this.refuse(s, 'BAD_MESSAGE', `a peer may not send "${m.type}"`, CLOSE_BAD_MESSAGE)
    }
  }

  private handleHello (s: Session, m: HelloMessage): void {
    try {
      if (m.version !== PROTOCOL_VERSION) {
        throw new OverlanError('PROTOCOL_VERSION', `this hub speaks protocol version ${PROTOCOL_VERSION}, the peer sent ${m.version}; upgrade the older side`)
      }
      const room = this.roomFor(m)
      const existing = room.sessionOf(m.identity)
      if (existing === undefined && room.size >= room.settings.maxPeers) {
        throw new OverlanError('ROOM_FULL', `room ${m.room} is full (${room.settings.maxPeers} peers)`)
      }
      const lease = this.leases!.acquire({
        room: m.room,
        subnet: room.settings.subnet,
        identity: m.identity,
        name: m.name,
        ...(m.address !== undefined ? { address: m.address } : {}),
        ...(m.lease !== undefined ? { hint: m.lease } : {}),
        now: Date.now(),
        isConnected: (id) => room.sessionOf(id) !== undefined
      })
      if (existing !== undefined) {
        // The same identity again: the newer connection wins (the old one is usually dead).
        this.refuse(existing, 'DUPLICATE_SESSION', 'replaced by a newer connection of the same peer identity', REFUSAL_CLOSE_CODES.DUPLICATE_SESSION)
        room.leave(existing)
      }
      s.info = { room: m.room, identity: m.identity, name: m.name, mac: lease.mac, ip: lease.ip }
      this.pending.delete(s)
      const members = room.list().map(o => ({ name: o.info!.name, mac: o.info!.mac, ip: o.info!.ip }))
      room.join(s, this.now())
      this.sendControl(s.ws, {
        type: 'welcome',
        version: PROTOCOL_VERSION,
        room: m.room,
        mac: lease.mac,
        ip: lease.ip,
        prefixLength: room.settings.subnet.prefixLength,
        mtu: room.settings.mtu,
        members
      })
      this.log.info('peer.join', { room: m.room, name: m.name, ip: lease.ip, mac: lease.mac, remote: s.remote, peers: room.size })
    } catch (e) {
      if (isOverlanError(e) && e.code in REFUSAL_CLOSE_CODES) {
        this.refuse(s, e.code as RefusalCode, e.message, REFUSAL_CLOSE_CODES[e.code as RefusalCode])
        return
      }
      this.log.error('peer.hello_failed', { remote: s.remote, error: String(e) })
      s.ws.close(1011, 'internal error')
    }
  }

  /** Room for a hello, creating it on first join when allowed. Throws refusals. */
  private roomFor (m: HelloMessage): Room {
    let room = this.rooms.get(m.room)
    if (room !== undefined) {
      if (!tokenMatches(m.token, room.settings.token)) throw new OverlanError('AUTH_FAILED', `wrong join token for room ${m.room}`)
      return room
    }
    if (!this.settings.autoCreateRooms) throw new OverlanError('ROOM_UNKNOWN', `room ${m.room} does not exist on this hub`)
    if (!tokenMatches(m.token, this.autoToken!)) throw new OverlanError('AUTH_FAILED', `wrong join token for room ${m.room}`)
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(m.room)) throw new OverlanError('ROOM_UNKNOWN', 'room names are 1-64 letters, digits, ".", "_" or "-"')
    if (this.rooms.size >= this.settings.maxRooms) throw new OverlanError('ROOM_FULL', `this hub already has ${this.settings.maxRooms} rooms`)
    const settings: RoomSettings = { ...this.settings.autoRoom, name: m.room, token: this.autoToken! }
    room = new Room(settings, this.now())
    this.rooms.set(m.room, room)
    this.log.info('room.create', { room: m.room, subnet: formatCidr(settings.subnet) })
    return room
  }

  private refuse (s: Session, code: RefusalCode | ErrorCode, message: string, closeCode: number): void {
    const suppressed = this.refusalLog.allow(this.now())
    if (suppressed >= 0) this.log.warn('peer.refused', { remote: s.remote, code, message, suppressed: suppressed || undefined })
    this.sendControl(s.ws, { type: 'error', code, message })
    s.ws.close(closeCode, code)
  }

  private sendControl (ws: WebSocket, m: ControlMessage): void {
    if (ws.readyState === 1) ws.send(encodeControl(m))
  }

  /** Pings every connection; terminates those silent for longer than the timeout. */
  private keepalive (): void {
    const now = this.now()
    const limit = this.settings.keepaliveTimeoutMs
    const check = (s: Session): void => {
      if (now - s.lastSeen > limit) {
        this.log.warn('peer.timeout', { remote: s.remote, name: s.info?.name, silentMs: now - s.lastSeen })
        s.ws.terminate()
        if (s.info !== null) this.rooms.get(s.info.room)?.leave(s)
        return
      }
      if (s.ws.readyState === 1) s.ws.ping()
    }
    for (const s of this.pending) check(s)
    for (const r of this.rooms.values()) for (const s of r.list()) check(s)
  }

  private loadOrCreateAutoToken (): string {
    const file = join(this.settings.stateDir, 'join-token.json')
    const existing = readJsonFile(file) as { token?: unknown } | undefined
    if (typeof existing?.token === 'string' && existing.token.length >= 8) return existing.token
    const token = randomBytes(18).toString('base64url')
    writeFileAtomic(file, JSON.stringify({ token }) + '\n')
    return token
  }
}
