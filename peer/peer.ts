/**
 * The peer: one TAP, one WebSocket to the hub, frames pumped both ways.
 *
 *   TAP ──batch (slab, no copy)──► ws.send      (dropped, counted, when not connected or
 *                                                the socket holds > SEND_HIGH_WATER_BYTES)
 *   ws message ──► countFrames ──► tap.write per frame (bounds-checked; EAGAIN = drop)
 *
 * Connection lifecycle: connect ─► hello ─► welcome (configure TAP once, or again if the
 * lease changed) ─► connected ─► any loss ─► backoff (1 s … 60 s, jittered) ─► connect…
 * A refusal (`error` + 4xxx close) ends the peer with that code. Before the first welcome
 * an unreachable hub is retried until joinTimeoutMs, then HUB_UNREACHABLE.
 * The TAP and its address stay up across reconnects, so applications keep their sockets.
 */
import type { TLSSocket } from 'node:tls'
import { WebSocket, type ClientOptions, type RawData } from 'ws'
import { Backoff } from '../core/backoff.js'
import { zeroCounts } from '../core/counts.js'
import { OverlanError, errnoCode, type ErrorCode } from '../core/errors.js'
import { RateLimitedLog, type Logger } from '../core/log.js'
import {
  CLOSE_NORMAL, MAX_ENDPOINTS, MAX_MESSAGE_BYTES, countFrames, PROTOCOL_VERSION, SUBPROTOCOL, decodeControl, encodeBatch, encodeControl, isRefusalCode, type ControlMessage, type Member, type RoomMessage, type TestResultMessage, type WelcomeMessage
} from '../core/protocol.js'
import { parseMac } from '../l2/ethernet.js'
import { CLASS_UNICAST } from '../l2/packet-classes.js'
import { gratuitousArp } from '../l2/arp.js'
import { unsolicitedNeighborAdvert } from '../l2/ndp.js'
import { parseIpv4 } from '../core/ipv4.js'
import { proveJoin, type KeyPair } from '../core/keys.js'
import { RttStats } from '../core/rtt.js'
import { runSpeedTest, type SpeedTestResult, type TestLink } from './speed-test.js'
import { Reflexive } from './reflexive.js'
import { UdpBind, type Bind } from './udp-bind.js'
import { DirectLink, macNumber } from './direct-link.js'
import { localCandidates } from './candidates.js'
import { Pinger, type PingResult } from './ping.js'
import { FramePath, type ClassCounters } from './frame-path.js'
import type { HostOs, TapDevice } from './os/host-os.js'
import type { PeerSettings } from './config.js'
import { checkPin, tlsFailureReason, tlsTrustFor, type TlsTrust } from './tls-trust.js'
import { limitTcpQueues } from '../core/tcp-queues.js'

/** ws send options, one object for every send (no allocation per frame). */
const BINARY = { binary: true } as const

/** Unsent bytes allowed in the WebSocket before TAP frames are dropped (latency over depth). */
export const SEND_HIGH_WATER_BYTES = 64 * 1024
/** Keepalive and RTT probe towards the hub. */
const KEEPALIVE_CHECK_MS = 2_000
const SOFTWARE = 'overlan-peer/0.1'
/** How often the direct path's timers run (heartbeats are 1 s; loss is noticed within this of 3 s). */
const DIRECT_TICK_MS = 250
const UNICAST_CLASS = Uint8Array.of(CLASS_UNICAST)
/** How long a hello waits for the direct path's candidates (the reflector answers in one RTT). */
const EARLY_CANDIDATES_MS = 150

/** The port of a ws:// or wss:// URL (the hub's UDP reflector listens there by default). */
const urlPort = (url: string): number => { const u = new URL(url); return u.port !== '' ? Number(u.port) : u.protocol === 'wss:' ? 443 : 80 }

export type PeerState = 'starting' | 'connecting' | 'connected' | 'reconnecting' | 'stopped'
/** Drops counted here (also metric labels); oversize drops are counted by the frame path. */
export const PEER_DROP_REASONS = ['disconnected', 'queue_full', 'bad_batch', 'tap_full'] as const
export type PeerDropReason = typeof PEER_DROP_REASONS[number]

export class PeerCounters {
  /** Frames read from the TAP and sent to the hub. */
  sentFrames = 0
  sentBytes = 0
  /** Frames received from the hub and written to the TAP. */
  receivedFrames = 0
  receivedBytes = 0
  reconnects = 0
  readonly drops = zeroCounts(PEER_DROP_REASONS)
}

export interface PeerDeps {
  os: HostOs
  log: Logger
  identity: string
  /** The peer's X25519 key pair: presented in hello and proven when the hub challenges. */
  key?: KeyPair
  now?: () => number
  /** The direct path's socket (default: a udp4 socket on settings.directPort). */
  bind?: Bind
  /** Called after every welcome, once the TAP is configured (presence hooks in here). */
  onJoined?: (m: WelcomeMessage) => void
}

export interface PeerStatus {
  state: PeerState
  room: string
  name: string
  hub: string
  iface: string
  address: string | null
  mac: string | null
  mtu: number | null
  /** Every other member of the room, kept current by the hub's pushes. */
  members: Array<Member & { path: 'direct' | 'relay', rttMs: number | null }>
  /** RTT to the hub: last, median, p95 (ms). */
  hubRtt: ReturnType<RttStats['toJSON']>
  /** The direct path: on or off, its UDP socket's port and candidates, members reached, counters. */
  direct: { enabled: boolean, reflexive: string | null, localPort: number | null, endpoints: string[], reaching: number, counters: Record<string, unknown> }
  startedAt: number
  connectedAt: number | null
  uptimeS: number
  connectedS: number | null
  lastError: string | null
  /** PeerCounters, with the frame path's oversize drops added to `drops`. */
  counters: Omit<PeerCounters, 'drops'> & { drops: Record<string, number> }
  /** Frames and bytes by traffic class, each way; MSS rewrites and oversize drops. */
  sentByClass: ReturnType<ClassCounters['toJSON']>
  receivedByClass: ReturnType<ClassCounters['toJSON']>
  mssClamped: number
  tap: { readFrames: number, readBytes: number, writeFrames: number, writeBytes: number, writeDrops: number }
}

export class Peer {
  // set at construction
  readonly settings: PeerSettings
  private readonly deps: PeerDeps
  private readonly now: () => number
  private readonly backoff: Backoff
  private readonly trust: TlsTrust
  readonly counters = new PeerCounters()
  readonly path = new FramePath()
  private readonly errorLog = new RateLimitedLog(10_000, 5)

  // owned by the connection lifecycle
  private tap: TapDevice | null = null
  private ws: WebSocket | null = null
  state: PeerState = 'starting'
  private welcome: WelcomeMessage | null = null
  private configured: string | null = null
  private connectedAt: number | null = null
  private readonly startedAt: number
  private lastError: string | null = null
  private refusal: OverlanError | null = null
  private lastRx = 0
  /** During `peer test`: pings of the probe (answered in order), discarding the hub's filler, results waited for. */
  private probes: Array<(at: number) => void> = []
  private sinking = false
  private testing = false
  private testResults: Array<{ direction: 'up' | 'down', resolve: (m: TestResultMessage) => void }> = []
  /** This attempt's upgrade was answered with an HTTP status (lastError says which). */
  private upgradeRefused = false
  /** RTT to the hub (WebSocket ping/pong every KEEPALIVE_CHECK_MS). */
  readonly hubRtt = new RttStats()
  private pingSentAt = 0
  /** The direct path (peer/direct-link.ts): its socket, reflexive address, sessions. */
  private readonly bind: Bind
  readonly reflexive: Reflexive
  readonly direct: DirectLink | null
  private directEnabled = false
  /** The hub's reflector port from the last welcome (null before one). */
  private udpPort: number | null = null
  private endpoints: string[] = []
  private announced = ''
  private directTimer: NodeJS.Timeout | null = null
  private readonly pinger = new Pinger()
  /** The room's members as the hub last pushed them (the welcome's list until then). */
  private members: Member[] = []
  private listWaiters: Array<(m: RoomMessage) => void> = []
  private retryTimer: NodeJS.Timeout | null = null
  private keepaliveTimer: NodeJS.Timeout | null = null
  private firstJoin: { resolve: () => void, reject: (e: Error) => void, deadline: number } | null = null
  private ended: { resolve: () => void, reject: (e: Error) => void } | null = null
  /** Settles when the peer ends: resolves after stop(), rejects with a refusal. */
  readonly done: Promise<void>

  constructor (settings: PeerSettings, deps: PeerDeps) {
    this.settings = settings
    this.deps = deps
    this.now = deps.now ?? Date.now
    this.startedAt = this.now()
    this.backoff = new Backoff({ minMs: settings.reconnectMinMs, maxMs: settings.reconnectMaxMs })
    this.trust = tlsTrustFor(settings)
    this.done = new Promise<void>((resolve, reject) => { this.ended = { resolve, reject } })
    this.done.catch(() => {}) // observed by callers that care
    this.bind = deps.bind ?? new UdpBind(settings.directPort)
    this.reflexive = new Reflexive(this.bind)
    this.direct = deps.key !== undefined && settings.directPath
      ? new DirectLink({ bind: this.bind, key: deps.key, log: deps.log.child('direct'), now: this.now, deliver: this.fromDirect })
      : null
    const onDirect = this.bind.onPacket
    this.bind.onPacket = (msg, address, port) => { if (!this.reflexive.handle(msg)) onDirect(msg, address, port) }
  }

  /** Opens the TAP and joins; resolves on the first welcome, rejects on refusal or timeout. */
  async start (): Promise<void> {
    this.tap = this.deps.os.openTap(this.settings.iface)
    this.tap.start((batch, frames) => { this.fromTap(batch, frames) }, (why) => {
      if (why === 'closed') this.deps.log.info('tap.read_stopped', { why })
      else this.deps.log.error('tap.read_stopped', { why })
    })
    this.deps.log.info('tap.open', { iface: this.tap.name })
    this.keepaliveTimer = setInterval(() => { this.checkKeepalive() }, KEEPALIVE_CHECK_MS)
    this.keepaliveTimer.unref()
    if (this.direct !== null) {
      this.directTimer = setInterval(() => { this.directTick() }, DIRECT_TICK_MS)
      this.directTimer.unref()
    }
    const joined = new Promise<void>((resolve, reject) => {
      this.firstJoin = { resolve, reject, deadline: this.now() + this.settings.joinTimeoutMs }
    })
    this.state = 'connecting'
    this.connect()
    // The deadline holds even while an attempt hangs in its TLS or WebSocket handshake.
    const deadline = setTimeout(() => {
      if (this.firstJoin === null) return
      const ws = this.ws
      this.ws = null
      ws?.terminate()
      if (this.retryTimer !== null) { clearTimeout(this.retryTimer); this.retryTimer = null }
      this.fatal(new OverlanError('HUB_UNREACHABLE', `could not join ${this.settings.hub} within ${Math.round(this.settings.joinTimeoutMs / 1000)} s: ${this.lastError ?? 'no answer'}`))
    }, this.settings.joinTimeoutMs)
    try {
      await joined
      clearTimeout(deadline)
    } catch (e) {
      clearTimeout(deadline)
      await this.shutdown(false)
      throw e
    }
  }

  /** Says bye, closes the WebSocket and removes the TAP. Idempotent. */
  async stop (): Promise<void> {
    await this.shutdown(true)
    this.ended?.resolve()
  }

  /** A getter, so checks after an await are not narrowed away by the compiler. */
  private get stopped (): boolean { return this.state === 'stopped' }

  get iface (): string { return this.tap?.name ?? this.settings.iface }

  /** Asks the hub who is in the room and what they offer; adds how this peer reaches each. */
  async list (timeoutMs = 3000): Promise<RoomMessage> {
    const r = await this.askRoom(timeoutMs)
    const paths = new Map(this.status().members.map(m => [m.mac, m]))
    return { ...r, members: r.members.map(({ endpoints: _e, ...m }) => { const p = paths.get(m.mac); return p !== undefined ? { ...m, path: p.path, rttMs: p.rttMs } : m }) }
  }

  private async askRoom (timeoutMs: number): Promise<RoomMessage> {
    if (this.state !== 'connected') throw new OverlanError('HUB_UNREACHABLE', `not connected to the hub (${this.state})`)
    return await new Promise<RoomMessage>((resolve, reject) => {
      const t = setTimeout(() => {
        this.listWaiters = this.listWaiters.filter(w => w !== done)
        reject(new OverlanError('HUB_UNREACHABLE', `the hub did not answer within ${timeoutMs} ms`))
      }, timeoutMs)
      const done = (m: RoomMessage): void => { clearTimeout(t); resolve(m) }
      this.listWaiters.push(done)
      this.send({ type: 'list' })
    })
  }

  /** `peer test`: the bufferbloat test towards the hub (peer/speed-test.ts). */
  async speedTest (phaseMs = 5000): Promise<SpeedTestResult> {
    if (this.state !== 'connected' || this.ws === null) throw new OverlanError('HUB_UNREACHABLE', `not connected to the hub (${this.state})`)
    const ws = this.ws
    const filler = encodeBatch(Array.from({ length: 32 }, () => Buffer.alloc(1414)))
    // Frames the hub counts and drops: addressed nowhere, from this peer's MAC (it checks the source only when switching).
    const link: TestLink = {
      start: (direction, ms) => { this.send({ type: 'test', direction, ms }) },
      sendFiller: () => { if (ws.readyState !== 1 || ws.bufferedAmount > SEND_HIGH_WATER_BYTES) return false; ws.send(filler, BINARY); return true },
      ping: () => new Promise((resolve, reject) => {
        if (ws.readyState !== 1) { reject(new OverlanError('HUB_UNREACHABLE', 'the connection to the hub went away during the test')); return }
        const at = performance.now()
        this.probes.push((done) => { resolve(done - at) })
        ws.ping()
      }),
      result: (direction) => new Promise((resolve, reject) => {
        const t = setTimeout(() => { reject(new OverlanError('HUB_UNREACHABLE', 'the hub sent no test result (is it older than this peer?)')) }, phaseMs + 5000)
        this.testResults.push({ direction, resolve: (m) => { clearTimeout(t); resolve(m) } })
      }),
      sink: (on) => { this.sinking = on }
    }
    if (this.testing) throw new OverlanError('USAGE', 'a test is already running')
    this.testing = true
    this.pingSentAt = 0
    try {
      return await runSpeedTest(link, phaseMs)
    } finally {
      this.testing = false
      this.sinking = false
      this.probes = []
    }
  }

  status (): PeerStatus {
    const now = this.now()
    const w = this.welcome
    return {
      state: this.state,
      room: this.settings.room,
      name: this.welcome?.name ?? this.settings.name,
      hub: this.settings.hub,
      iface: this.iface,
      address: w !== null ? `${w.ip}/${w.prefixLength}` : null,
      mac: w?.mac ?? null,
      mtu: w?.mtu ?? null,
      // Every other member, and how it is reached: peer to peer (its RTT measured by the
      // path's heartbeats) or through the hub (this peer's RTT to the hub plus the member's).
      members: this.members.filter(x => x.mac !== w?.mac).map(({ endpoints: _e, ...x }) => {
        const d = this.direct?.pathOf(x.mac) ?? null
        if (d !== null && d.path === 'direct') return { ...x, path: 'direct' as const, rttMs: d.rttMs, endpoint: d.endpoint }
        return {
          ...x,
          path: 'relay' as const,
          rttMs: this.hubRtt.median !== null && x.hubRttMs !== undefined && x.hubRttMs !== null ? Math.round((this.hubRtt.median + x.hubRttMs) * 1000) / 1000 : null
        }
      }),
      hubRtt: this.hubRtt.toJSON(),
      direct: {
        enabled: this.directEnabled,
        reflexive: this.reflexive.address,
        localPort: this.bind.localPort,
        endpoints: this.endpoints,
        reaching: this.direct?.reaching ?? 0,
        counters: this.direct !== null ? { ...this.direct.counters, drops: { ...this.direct.counters.drops }, sendErrors: this.bind.sendErrors } : {}
      },
      startedAt: this.startedAt,
      connectedAt: this.connectedAt,
      uptimeS: Math.round((now - this.startedAt) / 1000),
      connectedS: this.connectedAt !== null ? Math.round((now - this.connectedAt) / 1000) : null,
      lastError: this.lastError,
      counters: { ...this.counters, drops: { ...this.counters.drops, oversize: this.path.oversizeOut + this.path.oversizeIn } },
      sentByClass: this.path.sent.toJSON(),
      receivedByClass: this.path.received.toJSON(),
      mssClamped: this.path.mssClamped,
      tap: { ...(this.tap?.counters ?? { readFrames: 0, readBytes: 0, writeFrames: 0, writeBytes: 0, writeDrops: 0 }) }
    }
  }

  // --- data path ---

  private fromTap (batch: Buffer, frames: number): void {
    if (this.welcome === null) { this.counters.drops.disconnected += frames; return }
    const out = this.path.outgoing(batch, frames, this.now())
    if (out === null) return
    let toHub: Buffer | null = out
    let n = this.path.lastFrames
    // Plain unicast for members with a direct path goes peer to peer, even while the hub is away.
    if (this.direct !== null) {
      toHub = this.direct.route(out, n, this.path.lastClasses)
      if (toHub === null) return
      if (toHub !== out) n = countFrames(toHub)
    }
    const ws = this.ws
    if (this.state !== 'connected' || ws === null || ws.readyState !== 1) {
      this.counters.drops.disconnected += n
      return
    }
    if (ws.bufferedAmount > SEND_HIGH_WATER_BYTES) {
      this.counters.drops.queue_full += n
      return
    }
    this.counters.sentFrames += n
    this.counters.sentBytes += toHub.length
    ws.send(toHub, BINARY)
  }

  private fromHub (msg: Buffer): void {
    if (this.path.incoming(msg, this.writeFromHub) < 0) this.counters.drops.bad_batch++
  }

  private readonly writeFromHub = (buf: Buffer, off: number, len: number): void => {
    if (!this.pinger.catch(buf, off, len, 'relay')) this.writeToTap(buf, off, len)
  }

  /** A frame the direct link checked (from the member's MAC, for ours). */
  private readonly fromDirect = (buf: Buffer, off: number, len: number): void => {
    if (this.pinger.catch(buf, off, len, 'direct')) return
    if (this.path.incomingFrame(buf, off, len)) this.writeToTap(buf, off, len)
  }

  private readonly writeToTap = (buf: Buffer, off: number, len: number): void => {
    if (this.tap!.write(buf, off, len)) { this.counters.receivedFrames++; this.counters.receivedBytes += len }
    else this.counters.drops.tap_full++
  }

  /** Gratuitous ARP and an unsolicited NA, so other peers' neighbour caches follow at once (RFC 5227 §3, RFC 4861 §7.2.6). */
  private announce (m: WelcomeMessage): void {
    const mac = parseMac(m.mac)
    const ip = parseIpv4(m.ip)
    if (mac === null || ip === null || this.ws?.readyState !== 1) return
    this.ws.send(encodeBatch([gratuitousArp(mac, ip), unsolicitedNeighborAdvert(mac)]), BINARY)
  }

  // --- connection lifecycle ---

  private connect (): void {
    if (this.state === 'stopped') return
    this.refusal = null
    this.upgradeRefused = false
    const ws = new WebSocket(this.settings.hub, [SUBPROTOCOL], {
      perMessageDeflate: false,
      maxPayload: MAX_MESSAGE_BYTES,
      handshakeTimeout: 10_000,
      ...(this.trust.options as ClientOptions)
    })
    this.ws = ws
    // The direct path's candidates, found while TLS and the upgrade are under way.
    const early = this.direct !== null ? this.findCandidates(this.udpPort ?? urlPort(this.settings.hub)) : Promise.resolve([])
    ws.on('open', () => {
      const socket = (ws as unknown as { _socket: TLSSocket })._socket
      if (this.trust.pin !== null) {
        const wrong = checkPin(socket, this.trust.pin)
        if (wrong !== null) { this.lastError = wrong.message; this.refusal = wrong; ws.terminate(); return }
      }
      limitTcpQueues(socket)
      this.lastRx = this.now()
      void this.sayHello(ws, early)
    })
    ws.on('message', (data: RawData, isBinary: boolean) => {
      this.lastRx = this.now()
      if (isBinary) {
        if (this.state === 'connected' && !this.sinking) this.fromHub(data as Buffer)
        return
      }
      this.handleControl(ws, (data as Buffer).toString('utf8'))
    })
    ws.on('ping', () => { this.lastRx = this.now() })
    ws.on('pong', () => {
      this.lastRx = this.now()
      const probe = this.probes.shift()
      if (probe !== undefined) { probe(performance.now()); return }
      if (this.pingSentAt > 0) { this.hubRtt.add(performance.now() - this.pingSentAt); this.pingSentAt = 0 }
    })
    ws.on('unexpected-response', (_req, res) => {
      // Our hub refuses an upgrade with 400 (no overlan subprotocol), 429 or 503, saying why in
      // a text/plain body; anything else comes from something in front of it.
      const status = res.statusCode ?? 0
      const fromHub = /overlan|subprotocol|hub shutting down|too many connections/.test(String(res.headers['content-type'] ?? '')) || [400, 429, 503].includes(status)
      this.lastError = fromHub
        ? `hub answered HTTP ${status} instead of upgrading`
        : `HTTP ${status} from the proxy: is WebSocket upgrade forwarded? (Upgrade and Connection headers, HTTP/1.1 to the hub)`
      if (status === 400) this.refusal = new OverlanError('PROTOCOL_VERSION', `${this.lastError}: is ${this.settings.hub} an overlan hub of a compatible version?`)
      this.upgradeRefused = true
      res.resume()
      ws.terminate()
    })
    ws.on('error', (e: Error) => { this.onSocketError(e) })
    ws.on('close', (code: number, reason: Buffer) => { this.onClose(ws, code, reason.toString()) })
  }

  /** hello, with the direct path's candidates if they are found within EARLY_CANDIDATES_MS. */
  private async sayHello (ws: WebSocket, early: Promise<string[]>): Promise<void> {
    let endpoints: string[] = []
    const wait = new Promise<void>(resolve => { setTimeout(resolve, EARLY_CANDIDATES_MS).unref() })
    await Promise.race([early.then(e => { endpoints = e }, () => {}), wait])
    if (this.ws !== ws || ws.readyState !== 1 || this.stopped) return // re-checked after the await
    this.send({
      type: 'hello',
      version: PROTOCOL_VERSION,
      room: this.settings.room,
      token: this.settings.token,
      identity: this.deps.identity,
      name: this.settings.name,
      ...(this.settings.address !== undefined ? { address: this.settings.address } : {}),
      ...(this.welcome !== null ? { lease: { mac: this.welcome.mac, ip: this.welcome.ip } } : {}),
      software: SOFTWARE,
      ...(this.deps.key !== undefined ? { key: this.deps.key.publicKey } : {}),
      // An invite is spent by the first welcome; reconnects prove the enrolled key instead.
      ...(this.deps.key !== undefined && this.settings.invite !== undefined && this.welcome === null ? { invite: this.settings.invite } : {}),
      ...(endpoints.length > 0 ? { endpoints } : {})
    })
  }

  private handleControl (ws: WebSocket, text: string): void {
    const r = decodeControl(text)
    if (!r.ok) {
      // Before welcome nothing works without the hub's answer; after it, one odd message
      // (a larger or newer hub's) is no reason to cut every application's traffic.
      if (this.welcome === null) { this.deps.log.warn('hub.bad_message', { reason: r.reason }); ws.close(4000, 'BAD_MESSAGE'); return }
      const suppressed = this.errorLog.allow(this.now())
      if (suppressed >= 0) this.deps.log.warn('hub.bad_message_ignored', { reason: r.reason, suppressed: suppressed || undefined })
      return
    }
    const m = r.message
    if (m === null) { this.deps.log.debug('hub.unknown_message', { type: r.unknownType }); return }
    switch (m.type) {
      case 'welcome':
        // The members now; a push that arrives while the link is configured replaces them.
        this.members = m.members
        void this.handleWelcome(ws, m)
        break
      case 'error': {
        const code: ErrorCode = isRefusalCode(m.code) ? m.code : 'BAD_MESSAGE'
        this.lastError = `${m.code}: ${m.message}`
        // Rate limiting is a "later", not a "no": reconnect with backoff.
        if (code !== 'RATE_LIMITED') this.refusal = new OverlanError(code, m.message)
        break
      }
      case 'challenge': {
        if (this.deps.key === undefined) { ws.close(4000, 'BAD_MESSAGE'); break }
        try { this.send({ type: 'proof', proof: proveJoin(this.deps.key, m.hubKey, m.nonce) }) } catch (e) { this.lastError = String(e); ws.close(4000, 'BAD_MESSAGE') }
        break
      }
      case 'members':
        if (m.room !== this.settings.room) break
        this.members = m.members
        this.direct?.setMembers(m.members, this.now())
        break
      case 'test_result': {
        const i = this.testResults.findIndex(w => w.direction === m.direction)
        if (i >= 0) this.testResults.splice(i, 1)[0]!.resolve(m)
        break
      }
      case 'test': break
      case 'bye': this.deps.log.info('hub.bye', { reason: m.reason }); break
      case 'room': {
        const waiting = this.listWaiters
        this.listWaiters = []
        for (const w of waiting) w(m)
        break
      }
      case 'hello': case 'list': case 'proof': break
    }
  }

  private async handleWelcome (ws: WebSocket, m: WelcomeMessage): Promise<void> {
    const key = `${m.mac} ${m.ip}/${m.prefixLength} ${m.mtu}`
    try {
      if (this.configured !== key) {
        await this.deps.os.configureLink(this.iface, { mac: m.mac, mtu: m.mtu, address: m.ip, prefixLength: m.prefixLength })
        if (this.configured !== null) this.deps.log.warn('lease.changed', { from: this.configured, to: key })
        this.configured = key
      }
    } catch (e) {
      this.fatal(e instanceof OverlanError ? e : new OverlanError('LINK_CONFIG_FAILED', String(e)))
      return
    }
    // Re-checked after the await: stopped, or this connection gone, while the link was configured.
    if (this.stopped || this.ws !== ws || ws.readyState !== 1) return
    this.welcome = m
    this.path.setMtu(m.mtu)
    this.path.copy.address = parseIpv4(m.ip) ?? -1
    this.path.copy.mac = parseMac(m.mac) ?? -1
    this.state = 'connected'
    this.announce(m)
    this.connectedAt = this.now()
    this.backoff.reset()
    this.lastError = null
    this.deps.log.info('peer.joined', { room: m.room, iface: this.iface, ip: `${m.ip}/${m.prefixLength}`, mac: m.mac, mtu: m.mtu, members: m.members.length })
    this.firstJoin?.resolve()
    this.firstJoin = null
    this.deps.onJoined?.(m)
    this.directEnabled = this.direct !== null && m.directPath === true
    this.direct?.configure({ mac: macNumber(m.mac), mtu: m.mtu, bridging: m.allowBridging === true, enabled: this.directEnabled })
    this.direct?.setMembers(this.members, this.now())
    this.announced = ''
    const udpPort = m.udpPort ?? null
    const guessed = this.udpPort ?? urlPort(this.settings.hub)
    this.udpPort = udpPort
    if (!this.directEnabled || udpPort === null) return
    // Found before the hello with the right port: told already; else ask now.
    if (udpPort !== guessed || this.reflexive.address === null) void this.findCandidates(udpPort).then(() => { this.directTick() })
    else this.directTick()
  }

  /** Local addresses and the reflexive one: told to the hub, which passes them to the members. */
  private async findCandidates (udpPort: number): Promise<string[]> {
    const host = new URL(this.settings.hub).hostname.replace(/^\[|\]$/g, '')
    const port = await this.bind.open()
    if (port === null || this.stopped) return []
    const reflexive = await this.reflexive.ask(host, udpPort)
    if (this.stopped) return [] // re-checked after every await
    if (reflexive !== null && reflexive !== this.endpoints[0]) this.deps.log.info('direct.reflexive', { address: reflexive, localPort: port })
    const local = localCandidates(this.iface, port)
    this.endpoints = [...new Set([...(reflexive !== null ? [reflexive] : []), ...local])].slice(0, MAX_ENDPOINTS)
    return this.endpoints
  }

  /** Direct-path timers; tells the hub when the candidates or the count of direct members changed. */
  private directTick (): void {
    if (this.direct === null || this.state === 'stopped') return
    this.direct.tick(this.now())
    if (this.state !== 'connected' || !this.directEnabled || this.endpoints.length === 0) return
    const said = `${this.endpoints.join(',')} ${this.direct.reaching}`
    if (said === this.announced) return
    this.announced = said
    this.send({ type: 'direct', endpoints: this.endpoints, reaching: this.direct.reaching })
  }

  /** `peer ping NAME`: echo requests to a member through the overlay, each reply's path and RTT. */
  async ping (target: string, count = 4): Promise<PingResult> {
    const w = this.welcome
    const m = this.members.find(x => x.name === target || x.ip === target)
    if (w === null) throw new OverlanError('HUB_UNREACHABLE', `not joined yet (${this.state})`)
    if (m === undefined || m.mac === w.mac) throw new OverlanError('USAGE', `no other member "${target}" in room ${this.settings.room} (peer list shows who is there)`)
    const a = { srcMac: macNumber(w.mac), dstMac: macNumber(m.mac), srcIp: parseIpv4(w.ip) ?? 0, dstIp: parseIpv4(m.ip) ?? 0 }
    return await this.pinger.run(m, a, Math.max(1, Math.min(count, 100)), (frame) => {
      const batch = encodeBatch([frame])
      if (this.direct !== null && this.direct.route(batch, 1, UNICAST_CLASS) === null) return 'direct'
      if (this.ws?.readyState !== 1 || this.state !== 'connected') return null
      this.ws.send(batch, BINARY)
      return 'relay'
    })
  }

  private onSocketError (e: Error): void {
    // The HTTP answer that refused the upgrade says more than the close that follows it.
    if (this.upgradeRefused) return
    const code = errnoCode(e)
    const tls = code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME|TLS/.test(code)
    this.lastError = tls
      ? `TLS verification of ${this.settings.hub} failed: ${tlsFailureReason(code, this.settings.hub)}`
      : `${code ?? ''} ${e.message}`.trim()
    if (tls && this.firstJoin !== null) this.refusal = new OverlanError('TLS_FAILED', this.lastError)
    const suppressed = this.errorLog.allow(this.now())
    if (suppressed >= 0) this.deps.log.warn('hub.connection_error', { hub: this.settings.hub, error: this.lastError, suppressed: suppressed || undefined })
  }

  private onClose (ws: WebSocket, code: number, reason: string): void {
    if (this.ws !== ws) return
    this.ws = null
    const wasConnected = this.state === 'connected'
    this.connectedAt = null
    if (this.state === 'stopped') return
    if (this.refusal !== null) { this.fatal(this.refusal); return }
    if (wasConnected) this.deps.log.warn('hub.disconnected', { code, reason: reason || undefined })
    if (this.firstJoin !== null && this.now() >= this.firstJoin.deadline) {
      this.fatal(new OverlanError('HUB_UNREACHABLE', `could not join ${this.settings.hub} within ${Math.round(this.settings.joinTimeoutMs / 1000)} s: ${this.lastError ?? `closed with ${code}`}`))
      return
    }
    this.state = this.welcome === null ? 'connecting' : 'reconnecting'
    const delay = this.backoff.next()
    if (wasConnected) this.counters.reconnects++ // outages, not attempts
    this.deps.log.info('hub.reconnect', { attempt: this.backoff.attempts, inMs: delay, hub: this.settings.hub })
    this.retryTimer = setTimeout(() => { this.retryTimer = null; this.connect() }, delay)
  }

  private checkKeepalive (): void {
    if (this.ws === null || this.ws.readyState !== 1) return
    const silent = this.now() - this.lastRx
    if (silent > this.settings.keepaliveTimeoutMs) {
      this.deps.log.warn('hub.silent', { silentMs: silent })
      this.ws.terminate()
      return
    }
    if (this.testing) return // the test's own pings keep the line alive; pongs must pair with them
    this.pingSentAt = performance.now()
    this.ws.ping()
  }

  private fatal (e: OverlanError): void {
    this.deps.log.error('peer.fatal', { code: e.code, error: e.message })
    if (this.firstJoin !== null) {
      this.firstJoin.reject(e)
      this.firstJoin = null
      return
    }
    void this.shutdown(false).then(() => this.ended?.reject(e))
  }

  private send (m: ControlMessage): void {
    if (this.ws?.readyState === 1) this.ws.send(encodeControl(m))
  }

  private async shutdown (sayBye: boolean): Promise<void> {
    if (this.state === 'stopped') return
    this.state = 'stopped'
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    if (this.keepaliveTimer !== null) clearInterval(this.keepaliveTimer)
    if (this.directTimer !== null) clearInterval(this.directTimer)
    this.bind.close()
    const ws = this.ws
    this.ws = null
    if (ws !== null) {
      if (sayBye && ws.readyState === 1) {
        ws.send(encodeControl({ type: 'bye', reason: 'peer leaving' }))
        await new Promise<void>(resolve => {
          const t = setTimeout(() => { ws.terminate(); resolve() }, 1000)
          ws.once('close', () => { clearTimeout(t); resolve() })
          ws.close(CLOSE_NORMAL, 'bye')
        })
      } else {
        ws.terminate()
      }
    }
    if (this.tap !== null) {
      await this.tap.close()
      this.deps.log.info('tap.close', { iface: this.tap.name })
    }
  }
}
