/**
 * The hub: lifecycle, the listener and the connections on it. The doors (hub/doors.ts)
 * decide who may connect and how often; admission (hub/admission.ts) and the join desk
 * (hub/join.ts) turn a `hello` into a place in a room; the HTTP API (hub/http-api.ts) serves health, status and admin;
 * each Room switches its frames.
 *
 *   TCP accept ─► doors ─► TLS (tlsHandshakeTimeoutMs) ─► upgrade: subprotocol (400 if not
 *   overlan.*) ─► hello within HELLO_TIMEOUT_MS ─► join rate ─► join desk ─► welcome
 *   └► any refusal: `error` {code, message}, close with its CLOSE_* code; nothing the
 *      connection sends afterwards is processed
 *
 * Every message from a peer is handled inside one guard: a decoder that throws drops
 * that message (`internal_error`, logged rate-limited with its stack), never the process.
 */
import type { IncomingMessage, Server } from 'node:http'
import type { Socket } from 'node:net'
import { OPEN } from '../core/websocket/connection.js'
import { acceptUpgrade, refuseUpgrade } from '../core/websocket/server.js'
import type { ReaderKind } from '../core/websocket/reader.js'
import { OverlanError, type ErrorCode } from '../core/errors.js'
import { RateLimitedLog, type Logger } from '../core/log.js'
import {
  CLOSE_BAD_MESSAGE, CLOSE_GOING_AWAY, CLOSE_HELLO_TIMEOUT, CLOSE_NORMAL, CLOSE_REDIRECT, HELLO_TIMEOUT_MS,
  MAX_MESSAGE_BYTES, REFUSAL_CLOSE_CODES, SUBPROTOCOL, decodeControl, encodeControl, type RefusalCode
} from '../core/protocol.js'
import { loadOrCreateKeyPair, type KeyPair } from '../core/keys.js'
import { ensureDir } from '../core/state-file.js'
import type { HubSettings, RoomSettings } from './config.js'
import { DirectoryStore, SAVE_MS } from './directory-store.js'
import { Doors } from './doors.js'
import { HttpApi } from './http-api.js'
import { AuditLog } from './audit.js'
import { AutoToken } from './auto-token.js'
import { runControl, serveControl, type RunControl } from './control-socket.js'
import { MemberAdmin } from './member-admin.js'
import { publicUrlOf } from './public-url.js'
import { pinOf } from '../core/tls-pin.js'
import { WarmLoop } from '../core/websocket/warm-loop.js'
import { warmRoom } from './warm-room.js'
import { createListener, listenOn } from './listener.js'
import { JoinDesk } from './join.js'
import { Admission } from './admission.js'
import { MemberStore } from './members.js'
import { parseEndpoint } from '../core/direct/wire.js'
import { TickClock } from '../core/stall.js'
import { Cluster } from './cluster/cluster.js'
import { AdminRelay } from './cluster/admin-relay.js'
import { HubMetrics } from './metrics.js'
import { isImpaired } from './impairment.js'
import { LeaseStore } from './leases.js'
import { Room } from './room.js'
import { roomAnswer } from './room-answer.js'
import { speedTestPhase } from './speed-test.js'
import { UdpReflector } from './udp-reflector.js'
import type { TlsMaterial } from './self-signed-cert.js'
import { Session } from './session.js'
import { PeerEvents, type PeerSide } from './peer-events.js'
import { hubStatus, type HubStatus } from './status.js'

export { tokenMatches } from './auth.js'

export interface HubDeps {
  log: Logger
  /** Monotonic-enough ms clock; injected in tests. */
  now?: () => number
}

/** Room housekeeping (querier, join queries, aging, empty-room expiry) and door sweeps. */
const TICK_MS = 1000
/** A refused connection that does not finish the close handshake is cut after this. */
const REFUSAL_LINGER_MS = 2000

export class Hub {
  // set at construction
  readonly settings: HubSettings
  private readonly log: Logger
  private readonly now: () => number
  private readonly refusalLog = new RateLimitedLog(10_000, 20)
  private readonly internalLog = new RateLimitedLog(10_000, 5)
  readonly doors: Doors
  readonly metrics: HubMetrics

  // set by start()
  private server: Server | null = null
  /** How the last accepted connection is read (core/websocket/reader.ts): 'onread', or 'stream' where Node lacks it. */
  private reader: ReaderKind | null = null
  private leases: LeaseStore | null = null
  private desk: JoinDesk | null = null
  private admission: Admission | null = null
  /** The hub's X25519 key (challenges); its public half goes to peers. */
  key: KeyPair | null = null
  members: MemberStore | null = null
  audit: AuditLog = AuditLog.none()
  admin: MemberAdmin | null = null
  /** The URL peers use and the pin of the hub's key ("sha256:…"; null without TLS). */
  publicUrl = ''
  pin: string | null = null
  private control: import('node:net').Server | null = null
  private api: HttpApi | null = null
  readonly reflector = new UdpReflector()
  /** The UDP port peers ask their reflexive address at (null: off). */
  udpPort: number | null = null
  /** This hub as a member of a cluster (hub --store), or null (one hub, state in files). */
  cluster: Cluster | null = null
  /** A cluster's admin commands for rooms other hubs own go to the owner. */
  private relay: AdminRelay | null = null
  /** Every member operation (control socket, HTTP API, dashboard) runs here. */
  private readonly runAdmin: RunControl = async (r, by) => this.relay !== null ? await this.relay.runAnywhere(r, by) : await this.runHere(r, by)
  /** A member operation on this hub's own rooms. */
  private readonly runHere: RunControl = async (r, by) => await runControl(this.admin!, r, by)
  /** One pending members push per room (pushMembers). */
  private readonly pushTimers = new Map<Room, NodeJS.Timeout>()
  private directories: DirectoryStore | null = null
  private timers: NodeJS.Timeout[] = []
  tls: TlsMaterial | null = null
  /** Keeps the relay's code cached while traffic is sparse (core/websocket/warm-loop.ts). */
  private warmLoop: WarmLoop | null = null
  /** The auto rooms' token in the clear, when known (given, or generated at this start). */
  autoToken: string | undefined
  private autoTokens: AutoToken | null = null
  startedAt = 0

  // owned by the connection handlers
  private readonly rooms = new Map<string, Room>()
  private readonly pending = new Set<Session>()
  private nextPort = 1
  private stopping = false
  private starting: Promise<number> | null = null
  private ready = false
  /** When keepalive rounds run; a late one means this process was stalled (core/stall.ts). */
  private keepaliveClock = new TickClock(1, 0)
  /** Messages that made a decoder throw (each dropped). */
  internalErrors = 0

  constructor (settings: HubSettings, deps: HubDeps) {
    this.settings = settings
    this.log = deps.log
    this.now = deps.now ?? Date.now
    this.doors = new Doors(settings.doors)
    this.metrics = new HubMetrics({ rooms: () => this.rooms.values(), doors: this.doors, internalErrors: () => this.internalErrors })
  }

  /** Starts listening; resolves with the bound port. Bad state (file or directory) fails here, not at the first join. */
  async start (): Promise<number> {
    const starting = this.startOnce()
    this.starting = starting
    try {
      return await starting
    } catch (e) {
      // A start that fails half way (the store unreachable, the control socket taken) closes what it opened.
      await this.stop()
      throw e
    }
  }

  private async startOnce (): Promise<number> {
    const s = this.settings
    ensureDir(s.stateDir)
    this.leases = new LeaseStore(s.stateDir, { onWriteError: (e) => { this.log.error('leases.write_failed', { error: e.message }) } })
    this.members = new MemberStore(s.stateDir, (e) => { this.log.error('members.write_failed', { error: e.message }) })
    this.key = loadOrCreateKeyPair(s.stateDir)
    this.audit = new AuditLog(s.stateDir, this.log)
    // A generated token is one hub's own: after a failover the next hub would refuse it.
    if (s.store !== null && s.autoCreateRooms && s.autoRoom.token === undefined) {
      throw new OverlanError('CONFIG_INVALID', 'a hub in a cluster (--store) with auto-created rooms needs the join token given (--token or token: in hub.yaml), the same on every hub')
    }
    if (s.autoCreateRooms) {
      const t = s.autoRoom.token !== undefined ? AutoToken.given(s.autoRoom.token) : await AutoToken.load(s.stateDir)
      this.autoTokens = t
      this.autoToken = t.plain ?? undefined
    }
    const directories = this.directories = new DirectoryStore(s.stateDir, this.log)
    for (const rs of s.rooms.values()) {
      this.addRoom(rs)
      // An impairment left in a config slows friends silently: say so at every start.
      const imp = rs.impairment
      if (isImpaired(imp.room)) this.log.warn('impairment.active', { room: rs.name, ...imp.room })
      for (const [peer, spec] of imp.peers) if (isImpaired(spec)) this.log.warn('impairment.active', { room: rs.name, peer, ...spec })
    }
    this.desk = new JoinDesk({
      settings: s, rooms: this.rooms, leases: this.leases, members: this.members, now: this.now, log: this.log,
      autoToken: async (given) => this.autoTokens !== null && await this.autoTokens.matches(given),
      onRoomCreated: (room) => { directories.restoreInto(room, this.now()) }
    })

    const api = this.api = new HttpApi({
      rooms: this.rooms,
      doors: this.doors,
      log: this.log,
      adminToken: s.adminToken,
      tls: s.tls !== null,
      health: () => this.health(),
      status: () => this.status(),
      control: () => this.admin === null ? null : this.runAdmin,
      metrics: () => this.metrics.text(),
      audit: this.audit
    })
    const front = createListener(s, api.handle, {
      admit: (socket) => !this.stopping && this.doors.admit(socket, this.now()),
      upgrade: (req, socket, head) => { this.handleUpgrade(req, socket, head) }
    })
    this.server = front.server
    this.tls = front.tls

    if (this.tls !== null) this.pin = pinOf(this.tls.cert)
    this.admin = new MemberAdmin({
      rooms: this.rooms, leases: this.leases, members: this.members, audit: this.audit, now: this.now,
      disconnect: (sess, code, message) => { this.disconnect(sess, code, message) },
      publicUrl: () => this.publicUrl,
      pin: () => this.pin
    })
    this.admission = new Admission({
      desk: this.desk, leases: this.leases, members: this.members, key: this.key, doors: this.doors, audit: this.audit,
      metrics: this.metrics, log: this.log, now: this.now, pending: this.pending,
      cluster: () => this.cluster,
      udpPort: () => this.udpPort,
      stopping: () => this.stopping,
      refuse: (sess, code, message, closeCode) => { this.refuse(sess, code, message, closeCode) },
      pushMembers: (r, now) => { this.pushMembers(r, now) },
      // A new claim: the room is empty here (a lost room's sessions were dropped with it).
      adoptRoom: (rs) => { if ((this.rooms.get(rs.name)?.size ?? 0) === 0) this.addRoom(rs) }
    })
    const port = await listenOn(this.server, s.listenHost, s.listenPort)
    this.publicUrl = publicUrlOf(s, port)
    if (s.store !== null) {
      this.cluster = new Cluster(s.store, s.stateDir, s.hubId, this.publicUrl, this.log.child('cluster'), {
        lost: (room, url) => { this.roomLost(room, url) },
        load: () => { let n = 0; for (const r of this.rooms.values()) n += r.size; return n }
      })
      await this.cluster.start()
      await this.cluster.publishRooms(s.rooms.values())
      // Enrolments and bans are written through, so whichever hub owns a room next knows them.
      const store = this.cluster.store
      this.members!.onChange = (room, c) => { store.memberChange(room, c).catch((e: Error) => { this.log.error('cluster.member_write_failed', { room, kind: c.kind, error: e.message }) }) }
      this.members!.sharedInvites = store.invites
      this.relay = new AdminRelay(store, this.cluster.hubId, this.runHere, (room) => this.cluster?.ownsNow(room) === true, this.log.child('cluster'))
      this.relay.start()
    }
    if (s.udpListen !== null) {
      // Port 0 (tests) means "the WebSocket's": a peer finds the reflector where it found the hub.
      try {
        this.udpPort = await this.reflector.start(s.udpListen.host, s.udpListen.port === 0 ? port : s.udpListen.port)
      } catch (e) {
        // The direct path is a bonus: without UDP every frame simply goes through the hub.
        this.log.warn('hub.udp_unavailable', { error: (e as Error).message })
      }
    }
    this.control = await serveControl(s.stateDir, this.runAdmin)
    // Its message is switched through a scratch room, as a relayed batch is (hub/warm-room.ts).
    this.warmLoop = new WarmLoop({ periodMs: s.keepWarmMs, tls: this.tls, log: this.log, offEvent: 'hub.keep_warm_off', ...warmRoom(s.autoRoom, this.now) })
    await this.warmLoop.start()
    this.startedAt = this.now()
    this.keepaliveClock = new TickClock(s.keepaliveIntervalMs, this.startedAt)
    this.timers.push(setInterval(() => { this.keepalive() }, s.keepaliveIntervalMs))
    this.timers.push(setInterval(() => { this.tick() }, TICK_MS))
    this.timers.push(setInterval(() => { void this.directories?.save(this.rooms.values()) }, SAVE_MS))
    for (const t of this.timers) t.unref()
    if (this.doors.maxConnections < s.doors.maxConnections) this.log.warn('hub.connections_capped', { maxConnections: this.doors.maxConnections, configured: s.doors.maxConnections, why: 'open-file limit (raise LimitNOFILE / ulimit -n)' })
    this.ready = true
    this.log.info('hub.start', { listen: `${s.listenHost}:${port}`, tls: s.tls !== null, state: s.stateDir, autoRooms: s.autoCreateRooms, maxConnections: this.doors.maxConnections })
    return port
  }

  /** A room with its settings, its directory restored (configured at start, or claimed in a cluster). */
  private addRoom (rs: RoomSettings): void {
    const room = new Room(rs, this.now())
    this.directories!.restoreInto(room, this.now())
    this.rooms.set(rs.name, room)
  }

  /** Says bye to every peer, closes the listener, writes pending leases. Idempotent. */
  async stop (): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    // A stop during start() waits for it: what start() opens after an await (listener, control
    // socket, warm loop, timers) is then there to be closed, not left behind. New connections
    // are refused meanwhile (admit checks `stopping`).
    await this.starting?.catch(() => {})
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    for (const t of this.pushTimers.values()) clearTimeout(t)
    this.pushTimers.clear()
    // Before the goodbyes: leaving peers take their directory entries with them.
    await this.directories?.save(this.rooms.values(), true)
    const all = [...this.pending, ...[...this.rooms.values()].flatMap(r => [...r.list()])]
    for (const s of all) {
      s.sendControl(encodeControl({ type: 'bye', reason: 'hub shutting down' }))
      s.ws.close(CLOSE_GOING_AWAY, 'hub shutting down')
    }
    const closed = Promise.all(all.map(async s => { await s.ws.whenClosed() }))
    const deadline = new Promise<void>(resolve => { setTimeout(resolve, 2000).unref() })
    await Promise.race([closed, deadline])
    for (const s of all) s.ws.terminate()
    this.control?.close()
    this.reflector.stop()
    await this.warmLoop?.close()
    this.api?.feed.stop()
    await new Promise<void>(resolve => {
      if (this.server === null) { resolve(); return }
      this.server.close(() => { resolve() })
      this.server.closeAllConnections()
    })
    await this.leases?.flush()
    await this.members?.flush()
    await this.relay?.stop()
    await this.cluster?.stop()
    this.log.info('hub.stop', {})
  }

  health (): Record<string, unknown> {
    let peers = 0
    for (const r of this.rooms.values()) peers += r.size
    const c = this.cluster?.status()
    return {
      status: 'ok', rooms: this.rooms.size, peers, uptimeS: Math.round((this.now() - this.startedAt) / 1000),
      ...(c !== undefined ? { cluster: { hub: c.hub, owns: c.owned.map(o => o.room), hubs: c.hubs.filter(h => h.alive).map(h => h.id), store: c.lastError === null ? 'ok' : 'unreachable' } } : {})
    }
  }

  status (): HubStatus {
    return {
      ...hubStatus(this.rooms.values(), this.pending.size, this.now(), this.startedAt),
      doors: { connections: this.doors.connections, preAuth: this.doors.preAuthConnections, refused: { ...this.doors.refused } },
      udp: this.udpPort === null ? null : { port: this.udpPort, answered: this.reflector.counters.answered, drops: { ...this.reflector.counters.drops } },
      internalErrors: this.internalErrors,
      memory: memoryMiB(),
      keepWarm: this.warmLoop?.status() ?? null,
      wsReader: this.reader,
      cluster: this.cluster?.status() ?? null
    }
  }

  // --- connections ---

  private handleUpgrade (req: IncomingMessage, socket: Socket, head: Buffer): void {
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map(p => p.trim())
    const refuse = (status: string, body: string): void => { refuseUpgrade(socket, status, body) }
    if (this.stopping) { refuse('503 Service Unavailable', 'hub shutting down\n'); return }
    // Until start() is done (a cluster's store joined, the UDP port known) no peer is admitted.
    if (!this.ready) { refuse('503 Service Unavailable', 'hub starting\n'); return }
    if (!offered.some(p => p.startsWith('overlan.'))) { refuse('400 Bad Request', `WebSocket subprotocol ${SUBPROTOCOL} required\n`); return }
    const client = this.doors.clientAddress(req)
    if (!this.doors.admitProxied(socket, client)) { refuse('429 Too Many Requests', 'too many connections from this address\n'); return }
    // overlan.1, or any overlan.N so a peer of another version gets a PROTOCOL_VERSION error.
    const protocol = offered.includes(SUBPROTOCOL) ? SUBPROTOCOL : offered.find(p => p.startsWith('overlan.'))!
    this.handleConnection(req, socket, head, protocol, client)
  }

  private handleConnection (req: IncomingMessage, socket: Socket, head: Buffer, protocol: string, client: string): void {
    const events = new PeerEvents(this.peerSide, client, socket, `${client}:${req.socket.remotePort ?? 0}`)
    const accepted = acceptUpgrade(req, socket, head, protocol, MAX_MESSAGE_BYTES, events)
    if (accepted === null) return
    this.reader = accepted.reader
    const s = new Session(this.nextPort++, accepted.conn, events.remote, this.now(), this.settings.sendQueueBytes)
    events.s = s
    this.pending.add(s)
    events.helloTimer = setTimeout(() => {
      if (s.info === null && !s.refused) this.refuse(s, 'BAD_MESSAGE', `no hello within ${HELLO_TIMEOUT_MS} ms`, CLOSE_HELLO_TIMEOUT)
    }, HELLO_TIMEOUT_MS)
    events.helloTimer.unref()
  }

  /** What a session's connection reports, handled once for all sessions (PeerEvents calls it). */
  private readonly peerSide: PeerSide = {
    binary: (e, buf, off, len) => {
      const s = e.s!
      if (s.refused) return
      s.lastSeen = this.now()
      try {
        if (s.info === null) { s.counters.drops.before_welcome++; this.refuse(s, 'BAD_MESSAGE', 'binary data before welcome', CLOSE_BAD_MESSAGE); return }
        if (s.test !== null && s.test.direction === 'up') { s.test.bytes += len; return } // counted, not switched
        // A clustered hub switches a room only within its fence (hub/cluster/cluster.ts).
        if (this.cluster !== null && !this.cluster.ownsNow(s.info.room)) { s.counters.drops.not_owner++; return }
        // A view of the read buffer: the room copies what it sends on (hub/session.ts).
        const msg = buf.subarray(off, off + len)
        this.warmLoop?.touchBatch(msg)
        this.rooms.get(s.info.room)?.forward(s, msg, s.lastSeen)
      } catch (err) {
        this.internalError(s, err)
      }
    },
    text: (e, text) => {
      const s = e.s!
      if (s.refused) return
      s.lastSeen = this.now()
      try { this.handleControl(s, e.client, e.socket, text) } catch (err) { this.internalError(s, err) }
    },
    alive: (e) => { e.s!.lastSeen = this.now() },
    pong: (e) => {
      const s = e.s!
      s.lastSeen = this.now()
      if (s.pingSentAt > 0) {
        const ms = performance.now() - s.pingSentAt
        s.rtt.add(ms)
        this.metrics.rtt.observe(ms / 1000)
        s.pingSentAt = 0
      }
    },
    error: (e, err) => { this.log.debug('peer.ws_error', { remote: e.remote, error: err.message }) },
    closed: (e, code, reason) => {
      if (e.helloTimer !== null) clearTimeout(e.helloTimer)
      const s = e.s
      if (s === null) return
      this.pending.delete(s)
      if (s.info === null) return
      const room = this.rooms.get(s.info.room)
      if (room !== undefined) { room.leave(s, this.now()); if (!this.stopping) this.pushMembers(room, this.now()) }
      this.log.info('peer.leave', { room: s.info.room, name: s.info.name, ip: s.info.ip, code, reason })
    }
  }

  /** One peer's message made something throw: drop it, count it, keep serving everyone. */
  private internalError (s: Session, e: unknown): void {
    this.internalErrors++
    s.counters.drops.internal_error++
    const suppressed = this.internalLog.allow(this.now())
    if (suppressed >= 0) this.log.error('peer.internal_error', { remote: s.remote, name: s.info?.name, error: (e as Error)?.stack ?? String(e), suppressed: suppressed || undefined })
  }

  private handleControl (s: Session, client: string, socket: Socket, text: string): void {
    const r = decodeControl(text)
    if (!r.ok) { this.refuse(s, 'BAD_MESSAGE', r.reason, CLOSE_BAD_MESSAGE); return }
    if (r.message === null) { this.log.debug('peer.unknown_message', { type: r.unknownType }); return }
    const m = r.message
    if (m.type === 'hello') {
      if (s.info !== null || s.joining || s.challenge !== null) { this.refuse(s, 'BAD_MESSAGE', 'second hello on one connection', CLOSE_BAD_MESSAGE); return }
      this.admission!.hello(s, m, client, socket)
    } else if (m.type === 'direct') {
      const room = s.info !== null ? this.rooms.get(s.info.room) : undefined
      if (room === undefined) { this.refuse(s, 'BAD_MESSAGE', 'direct before welcome', CLOSE_BAD_MESSAGE); return }
      if (!s.allowDirect(this.now())) return
      s.reaching = m.reaching
      // Only well-formed candidates are passed on to the other members.
      const endpoints = m.endpoints.filter(e => parseEndpoint(e) !== null)
      if (endpoints.join(',') !== s.endpoints.join(',')) { s.endpoints = endpoints; room.candidatesChanged(); this.pushMembers(room, this.now()) }
    } else if (m.type === 'test') {
      if (s.info === null) { this.refuse(s, 'BAD_MESSAGE', 'test before welcome', CLOSE_BAD_MESSAGE); return }
      speedTestPhase(s, m.direction, m.ms, this.settings.sendQueueBytes)
    } else if (m.type === 'proof') {
      this.admission!.proof(s, m.proof, socket)
    } else if (m.type === 'bye') {
      s.ws.close(CLOSE_NORMAL, 'bye')
    } else if (m.type === 'list') {
      const room = s.info !== null ? this.rooms.get(s.info.room) : undefined
      if (room === undefined) { this.refuse(s, 'BAD_MESSAGE', 'list before welcome', CLOSE_BAD_MESSAGE); return }
      if (!s.allowList(this.now())) return
      s.sendControl(roomAnswer(room, this.now()))
    } else {
      this.refuse(s, 'BAD_MESSAGE', `a peer may not send "${m.type}"`, CLOSE_BAD_MESSAGE)
    }
  }

  /** A clustered room went to another hub (or this one lost its fence): its peers go there. */
  private roomLost (name: string, url: string | null): void {
    const room = this.rooms.get(name)
    if (room === undefined) return
    // What the room switched while it was ours, and what arrived after the fence and was dropped: the proof it switched nothing since.
    let fenced = 0
    for (const s of room.list()) fenced += s.counters.drops.not_owner
    this.log.warn('cluster.room_dropped', { room: name, peers: room.size, switchedUnicast: room.switch.counters.unicast, droppedAfterFence: fenced, to: url ?? undefined })
    for (const s of [...room.list()]) {
      if (url !== null) s.sendControl(encodeControl({ type: 'redirect', room: name, url }))
      s.refused = true
      s.ws.close(url !== null ? CLOSE_REDIRECT : CLOSE_GOING_AWAY, 'room moved')
      room.leave(s, this.now())
    }
    this.rooms.delete(name)
  }

  /** Ends a session now (kick, ban): a refusal, and it leaves its room at once. */
  disconnect (s: Session, code: RefusalCode, message: string): void {
    this.refuse(s, code, message, REFUSAL_CLOSE_CODES[code])
    if (s.info !== null) this.rooms.get(s.info.room)?.leave(s, this.now())
  }

  private refuse (s: Session, code: RefusalCode | ErrorCode, message: string, closeCode: number): void {
    if (s.refused) return
    s.refused = true
    this.metrics.refusals.inc({ code })
    const suppressed = this.refusalLog.allow(this.now())
    if (suppressed >= 0) {
      this.log.warn('peer.refused', { remote: s.remote, code, message, suppressed: suppressed || undefined })
      this.audit.record('refused', { remote: s.remote, code, room: s.info?.room, name: s.info?.name, suppressed: suppressed || undefined })
    }
    s.sendControl(encodeControl({ type: 'error', code, message }))
    s.ws.close(closeCode, code)
    setTimeout(() => { s.ws.terminate() }, REFUSAL_LINGER_MS).unref()
  }

  private tick (): void {
    const now = this.now()
    for (const [name, r] of this.rooms) {
      r.tick(now)
      this.pushMembers(r, now)
      if (r.settings.autoCreated && r.emptySince !== null && now - r.emptySince >= this.settings.emptyRoomTtlMs) {
        this.rooms.delete(name)
        this.log.info('room.expire', { room: name, emptyS: Math.round((now - r.emptySince) / 1000) })
      }
    }
    this.doors.sweep(now)
  }

  /** The members push, when due: right after a join or new candidates, else when the room's gap allows (a timer), or on the tick. */
  private pushMembers (r: Room, now: number): void {
    const push = r.membersPush(now)
    if (push !== null) for (const s of r.list()) s.sendControl(push)
    const wait = r.pushDelay(now)
    if (wait === null || wait === 0 || this.pushTimers.has(r)) return
    const t = setTimeout(() => { this.pushTimers.delete(r); if (!this.stopping && this.rooms.get(r.settings.name) === r) this.pushMembers(r, this.now()) }, wait)
    t.unref()
    this.pushTimers.set(r, t)
  }

  /**
   * Pings every connection; terminates those silent for longer than the timeout. A round that
   * runs late (this process was stalled: SIGSTOP, a VM pause) judges no one: the pongs that
   * arrived meanwhile are still unread in the sockets, the next round sees them.
   */
  private keepalive (): void {
    const now = this.now()
    const stalledMs = this.keepaliveClock.tick(now)
    const stalled = stalledMs > 0
    if (stalled) this.log.warn('hub.stalled', { lateMs: Math.round(stalledMs) })
    const limit = this.settings.keepaliveTimeoutMs
    const check = (s: Session): void => {
      if (!stalled && now - s.lastSeen > limit) {
        this.log.warn('peer.timeout', { remote: s.remote, name: s.info?.name, silentMs: now - s.lastSeen })
        s.ws.terminate()
        if (s.info !== null) this.rooms.get(s.info.room)?.leave(s, now)
        return
      }
      if (s.ws.readyState === OPEN) { s.pingSentAt = performance.now(); s.ws.ping() }
    }
    for (const s of this.pending) check(s)
    for (const r of this.rooms.values()) for (const s of r.list()) check(s)
  }

}

const MIB = 1048576
const memoryMiB = (): { rssMiB: number, heapUsedMiB: number, externalMiB: number } => {
  const m = process.memoryUsage()
  return { rssMiB: Math.round(m.rss / MIB * 10) / 10, heapUsedMiB: Math.round(m.heapUsed / MIB * 10) / 10, externalMiB: Math.round(m.external / MIB * 10) / 10 }
}
