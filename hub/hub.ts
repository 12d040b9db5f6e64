/**
 * The hub: its lifecycle (start, stop), the listener and what hangs off it — state files,
 * the HTTP API (health, status, admin, dashboard), the control socket, the cluster, the UDP
 * reflector, the keep-warm loop — and the rooms' housekeeping. The doors (hub/doors.ts) decide
 * who may connect and how often; the peer sessions (hub/peer-sessions.ts) take a connection
 * from the upgrade to the close; admission (hub/admission.ts) and the join desk (hub/join.ts)
 * turn a `hello` into a place in a room; each Room switches its frames.
 */
import type { Server } from 'node:http'
import { OverlanError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { CLOSE_GOING_AWAY, CLOSE_REDIRECT, encodeControl } from '../core/protocol.js'
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
import { Cluster } from './cluster/cluster.js'
import { AdminRelay } from './cluster/admin-relay.js'
import { HubMetrics } from './metrics.js'
import { isImpaired } from './impairment.js'
import { LeaseStore } from './leases.js'
import { Room } from './room.js'
import { UdpReflector } from './udp-reflector.js'
import type { TlsMaterial } from './self-signed-cert.js'
import { PeerSessions } from './peer-sessions.js'
import { hubStatus, type HubStatus } from './status.js'

export { tokenMatches } from './auth.js'

export interface HubDeps {
  log: Logger
  /** Monotonic-enough ms clock; injected in tests. */
  now?: () => number
}

/** Room housekeeping (querier, join queries, aging, empty-room expiry) and door sweeps. */
const TICK_MS = 1000

export class Hub {
  // set at construction
  readonly settings: HubSettings
  private readonly log: Logger
  private readonly now: () => number
  readonly doors: Doors
  readonly metrics: HubMetrics
  private readonly sessions: PeerSessions

  // set by start()
  private server: Server | null = null
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

  private readonly rooms = new Map<string, Room>()
  private stopping = false
  private starting: Promise<number> | null = null
  private ready = false

  constructor (settings: HubSettings, deps: HubDeps) {
    this.settings = settings
    this.log = deps.log
    this.now = deps.now ?? Date.now
    this.doors = new Doors(settings.doors)
    this.metrics = new HubMetrics({ rooms: () => this.rooms.values(), doors: this.doors, internalErrors: () => this.sessions.internalErrors })
    const hub = this // read when used: start() sets these
    this.sessions = new PeerSessions({
      settings, rooms: this.rooms, doors: this.doors, metrics: this.metrics, log: this.log, now: this.now,
      pushMembers: (r, now) => { this.pushMembers(r, now) },
      hub: {
        get ready () { return hub.ready },
        get stopping () { return hub.stopping },
        get admission () { return hub.admission },
        get audit () { return hub.audit }
      }
    })
  }

  /** Starts listening; resolves with the bound port. Bad state (file or directory) fails here, not at the first join. */
  async start (): Promise<number> {
    if (this.stopping || this.starting !== null) throw new OverlanError('USAGE', this.stopping ? 'the hub was stopped; make a new one' : 'the hub is started already')
    const starting = this.startOnce()
    this.starting = starting
    try {
      return await starting
    } catch (e) {
      // A start that fails half way (the store unreachable, the control socket taken) closes
      // what it opened; the start's error is the one reported.
      await this.stop().catch(() => {})
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
      upgrade: (req, socket, head) => { this.sessions.upgrade(req, socket, head) }
    })
    this.server = front.server
    this.tls = front.tls

    if (this.tls !== null) this.pin = pinOf(this.tls.cert)
    this.admin = new MemberAdmin({
      rooms: this.rooms, leases: this.leases, members: this.members, audit: this.audit, now: this.now,
      disconnect: (sess, code, message) => { this.sessions.disconnect(sess, code, message) },
      publicUrl: () => this.publicUrl,
      pin: () => this.pin
    })
    this.admission = new Admission({
      desk: this.desk, leases: this.leases, members: this.members, key: this.key, doors: this.doors, audit: this.audit,
      metrics: this.metrics, log: this.log, now: this.now, pending: this.sessions.pending,
      cluster: () => this.cluster,
      udpPort: () => this.udpPort,
      stopping: () => this.stopping,
      refuse: (sess, code, message, closeCode) => { this.sessions.refuse(sess, code, message, closeCode) },
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
      this.sessions.cluster = this.cluster
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
    this.sessions.warmLoop = this.warmLoop
    await this.warmLoop.start()
    this.startedAt = this.now()
    this.sessions.startKeepalive(this.startedAt, s.keepaliveIntervalMs)
    this.timers.push(setInterval(() => { this.sessions.keepalive() }, s.keepaliveIntervalMs))
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
    const all = this.sessions.all()
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
      ...hubStatus(this.rooms.values(), this.sessions.pending.size, this.now(), this.startedAt),
      doors: { connections: this.doors.connections, preAuth: this.doors.preAuthConnections, refused: { ...this.doors.refused } },
      udp: this.udpPort === null ? null : { port: this.udpPort, answered: this.reflector.counters.answered, drops: { ...this.reflector.counters.drops } },
      internalErrors: this.sessions.internalErrors,
      memory: memoryMiB(),
      keepWarm: this.warmLoop?.status() ?? null,
      wsReader: this.sessions.reader,
      cluster: this.cluster?.status() ?? null
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
}

const MIB = 1048576
const memoryMiB = (): { rssMiB: number, heapUsedMiB: number, externalMiB: number } => {
  const m = process.memoryUsage()
  return { rssMiB: Math.round(m.rss / MIB * 10) / 10, heapUsedMiB: Math.round(m.heapUsed / MIB * 10) / 10, externalMiB: Math.round(m.external / MIB * 10) / 10 }
}
