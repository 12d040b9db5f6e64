/**
 * The peer: one TAP, the hub link (peer/hub-link.ts) and the direct path (peer/direct-path.ts),
 * frames pumped both ways by peer/data-pump.ts.
 *
 * Lifecycle (`state`), re-checked after every await:
 *   starting ─start()─► connecting ─welcome─► connected ─link lost─► reconnecting ─backoff─► …
 *   any ─stop() or a refusal─► stopped
 * A welcome configures the TAP (once, or again when the lease changed). A refusal (`error` +
 * 4xxx close) ends the peer with that code; before the first welcome an unreachable hub is
 * retried until joinTimeoutMs, then HUB_UNREACHABLE. Reconnects back off 1 s … 60 s, jittered.
 * The TAP and its address stay up across reconnects, so applications keep their sockets.
 */
import { Backoff } from '../core/backoff.js'
import { OverlanError, type ErrorCode } from '../core/errors.js'
import { RateLimitedLog, type Logger } from '../core/log.js'
import { decodeControl, encodeBatch, isRefusalCode, type HelloMessage, type Member, type RoomMessage, type WelcomeMessage } from '../core/protocol.js'
import { parseMac } from '../l2/ethernet.js'
import { gratuitousArp } from '../l2/arp.js'
import { unsolicitedNeighborAdvert } from '../l2/ndp.js'
import { parseIpv4 } from '../core/ipv4.js'
import { proveJoin, type KeyPair } from '../core/keys.js'
import { TickClock } from '../core/stall.js'
import type { SpeedTestResult } from './speed-test.js'
import { HubRequests } from './hub-requests.js'
import { UdpBind, type Bind } from './udp-bind.js'
import { macNumber } from './direct-link.js'
import { DIRECT_TICK_MS, DirectPath } from './direct-path.js'
import { HubLink } from './hub-link.js'
import { HubChoice } from './hub-choice.js'
import { helloMessage } from './hello.js'
import type { PingResult } from './ping.js'
import { DataPump } from './data-pump.js'
import { FramePath } from './frame-path.js'
import type { HostOs, TapDevice } from './os/host-os.js'
import type { PeerSettings } from './config.js'
import { tlsTrustFor } from './tls-trust.js'
import { PeerCounters, memberViews, type PeerState, type PeerStatus } from './peer-status.js'

export { SEND_HIGH_WATER_BYTES } from './hub-link.js'
export { PEER_DROP_REASONS, PeerCounters, type PeerDropReason, type PeerState, type PeerStatus } from './peer-status.js'

/** Keepalive and RTT probe towards the hub. */
const KEEPALIVE_CHECK_MS = 2_000
/** How long a hello waits for the direct path's candidates (the reflector answers in one RTT). */
const EARLY_CANDIDATES_MS = 150

/** The port of a ws:// or wss:// URL (the hub's UDP reflector listens there by default). */
const urlPort = (url: string): number => { const u = new URL(url); return u.port !== '' ? Number(u.port) : u.protocol === 'wss:' ? 443 : 80 }

export interface PeerDeps {
  os: HostOs
  log: Logger
  identity: string
  /** The peer's X25519 key pair: presented in hello, proven when the hub challenges, the direct path's identity. */
  key?: KeyPair
  now?: () => number
  /** The direct path's socket (default: the OS's, else node:dgram's, on settings.directPort). */
  bind?: Bind
  /** Called after every welcome, once the TAP is configured (presence hooks in here). */
  onJoined?: (m: WelcomeMessage) => void
}

export class Peer {
  // set at construction
  readonly settings: PeerSettings
  private readonly deps: PeerDeps
  private readonly now: () => number
  private readonly backoff: Backoff
  readonly counters = new PeerCounters()
  readonly path = new FramePath()
  private readonly errorLog = new RateLimitedLog(10_000, 5)
  private readonly link: HubLink
  private readonly requests: HubRequests
  /** The hubs to try, in turn (a cluster's); a redirect names the owner of the room for the next attempt. */
  private readonly hubs: HubChoice
  /** Null without a key or with directPath off. */
  readonly direct: DirectPath | null
  private readonly pump: DataPump
  private readonly startedAt: number
  /** Settles when the peer ends: resolves after stop(), rejects with a refusal. */
  readonly done: Promise<void>

  // owned by the lifecycle
  state: PeerState = 'starting'
  private tap: TapDevice | null = null
  private welcome: WelcomeMessage | null = null
  private configured: string | null = null
  private connectedAt: number | null = null
  private lastError: string | null = null
  private lastRx = 0
  private keepaliveClock = new TickClock(KEEPALIVE_CHECK_MS, 0)
  /** The room's members as the hub last pushed them (the welcome's list until then). */
  private members: Member[] = []
  /** The hub's reflector port from the last welcome (null before one). */
  private udpPort: number | null = null
  private early: Promise<string[]> = Promise.resolve([])
  private timers: NodeJS.Timeout[] = []
  private retryTimer: NodeJS.Timeout | null = null
  private firstJoin: { resolve: () => void, reject: (e: Error) => void, deadline: number } | null = null
  private ended: { resolve: () => void, reject: (e: Error) => void } | null = null

  constructor (settings: PeerSettings, deps: PeerDeps) {
    this.settings = settings
    this.deps = deps
    this.now = deps.now ?? Date.now
    this.startedAt = this.now()
    this.backoff = new Backoff({ minMs: settings.reconnectMinMs, maxMs: settings.reconnectMaxMs })
    this.done = new Promise<void>((resolve, reject) => { this.ended = { resolve, reject } })
    this.done.catch(() => {}) // observed by callers that care
    this.hubs = new HubChoice(settings.hub)
    this.link = new HubLink(tlsTrustFor(settings), {
      hello: () => this.hello(),
      control: (text) => { this.handleControl(text) },
      frames: (msg) => { if (this.state === 'connected' && !this.requests.sinking) this.pump.fromHub(msg) },
      alive: () => { this.lastRx = this.now() },
      closed: (code, reason, refusal) => { this.onClosed(code, reason, refusal) },
      problem: (message, tls) => {
        this.lastError = message
        if (tls && this.firstJoin !== null) this.link.refuse(new OverlanError('TLS_FAILED', message))
        const suppressed = this.errorLog.allow(this.now())
        if (suppressed >= 0) this.deps.log.warn('hub.connection_error', { hub: this.link.url, error: message, suppressed: suppressed || undefined })
      }
    })
    this.requests = new HubRequests(this.link, () => this.state === 'connected' ? null : this.state, () => this.memberViews())
    this.pump = new DataPump(this.path, this.link, this.counters, {
      leased: () => this.welcome !== null,
      connected: () => this.state === 'connected',
      now: this.now
    }, deps.log, settings.keepWarmMs, !settings.hub.startsWith('ws:'))
    this.direct = deps.key !== undefined && settings.directPath
      ? new DirectPath(deps.bind ?? deps.os.openUdpBind?.(settings.directPort) ?? new UdpBind(settings.directPort), deps.key, deps.log.child('direct'), this.now, this.pump.fromDirect)
      : null
    this.pump.direct = this.direct
  }

  /** Opens the TAP and joins; resolves on the first welcome, rejects on refusal or timeout. */
  async start (): Promise<void> {
    this.tap = this.deps.os.openTap(this.settings.iface)
    this.pump.tap = this.tap
    this.tap.start((batch, frames) => { this.pump.fromTap(batch, frames) }, (why) => {
      if (why === 'closed') this.deps.log.info('tap.read_stopped', { why })
      else this.deps.log.error('tap.read_stopped', { why })
    })
    this.deps.log.info('tap.open', { iface: this.tap.name })
    void this.pump.startWarm() // not on the join's path: warming is an optimisation
    this.keepaliveClock = new TickClock(KEEPALIVE_CHECK_MS, this.now())
    this.every(KEEPALIVE_CHECK_MS, () => { this.checkKeepalive() })
    if (this.direct !== null) this.every(DIRECT_TICK_MS, () => { this.directTick() })
    const joined = new Promise<void>((resolve, reject) => {
      this.firstJoin = { resolve, reject, deadline: this.now() + this.settings.joinTimeoutMs }
    })
    this.state = 'connecting'
    this.connect()
    // The deadline holds even while an attempt hangs in its TLS or WebSocket handshake.
    const deadline = setTimeout(() => {
      if (this.firstJoin === null) return
      if (this.retryTimer !== null) { clearTimeout(this.retryTimer); this.retryTimer = null }
      this.fatal(new OverlanError('HUB_UNREACHABLE', `could not join ${this.settings.hub} within ${Math.round(this.settings.joinTimeoutMs / 1000)} s: ${this.link.lastError ?? this.lastError ?? 'no answer'}`))
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

  /** Says bye, closes the hub link and the direct path, removes the TAP. Idempotent. */
  async stop (): Promise<void> {
    await this.shutdown(true)
    this.ended?.resolve()
  }


  /** A getter, so checks after an await are not narrowed away by the compiler. */
  private get stopped (): boolean { return this.state === 'stopped' }

  get iface (): string { return this.tap?.name ?? this.settings.iface }

  /** RTT to the hub. */
  get hubRtt (): HubLink['rtt'] { return this.link.rtt }

  /** Asks the hub who is in the room and what they offer; adds how this peer reaches each. */
  async list (timeoutMs = 3000): Promise<RoomMessage> { return await this.requests.list(timeoutMs) }

  /** `peer test`: the bufferbloat test towards the hub (peer/speed-test.ts). */
  async speedTest (phaseMs = 5000): Promise<SpeedTestResult> { return await this.requests.speedTest(phaseMs) }

  /** `peer ping NAME`: echo requests to a member through the overlay, each reply's path and RTT. */
  async ping (target: string, count = 4): Promise<PingResult> {
    const w = this.welcome
    const m = this.members.find(x => x.name === target || x.ip === target)
    if (w === null) throw new OverlanError('HUB_UNREACHABLE', `not joined yet (${this.state})`)
    if (m === undefined || m.mac === w.mac) throw new OverlanError('USAGE', `no other member "${target}" in room ${this.settings.room} (peer list shows who is there)`)
    const a = { srcMac: macNumber(w.mac), dstMac: macNumber(m.mac), srcIp: parseIpv4(w.ip) ?? 0, dstIp: parseIpv4(m.ip) ?? 0 }
    return await this.pump.ping(m, a, Math.max(1, Math.min(count, 100)))
  }

  /** Every other member and how it is reached now. */
  private memberViews (): ReturnType<typeof memberViews> {
    return memberViews(this.members, this.welcome?.mac, this.link.rtt.median, (mac) => this.direct?.link.pathOf(mac) ?? null)
  }

  status (): PeerStatus {
    const now = this.now()
    const w = this.welcome
    return {
      state: this.state,
      room: this.settings.room,
      name: w?.name ?? this.settings.name,
      hub: this.link.url !== '' ? this.link.url : this.hubs.url,
      iface: this.iface,
      address: w !== null ? `${w.ip}/${w.prefixLength}` : null,
      mac: w?.mac ?? null,
      mtu: w?.mtu ?? null,
      members: this.memberViews(),
      hubRtt: this.link.rtt.toJSON(),
      direct: this.direct?.status() ?? { enabled: false, reflexive: null, localPort: null, endpoints: [], reaching: 0, counters: {} },
      startedAt: this.startedAt,
      connectedAt: this.connectedAt,
      uptimeS: Math.round((now - this.startedAt) / 1000),
      connectedS: this.connectedAt !== null ? Math.round((now - this.connectedAt) / 1000) : null,
      lastError: this.lastError,
      counters: { ...this.counters, drops: { ...this.counters.drops, oversize: this.path.oversizeOut + this.path.oversizeIn } },
      sentByClass: this.path.sent.toJSON(),
      receivedByClass: this.path.received.toJSON(),
      mssClamped: this.path.mssClamped,
      keepWarm: this.pump.keepWarm,
      tap: { ...(this.tap?.counters ?? { readFrames: 0, readBytes: 0, writeFrames: 0, writeBytes: 0, writeDrops: 0, handlerErrors: 0 }) }
    }
  }

  /** Gratuitous ARP and an unsolicited NA, so other peers' neighbour caches follow at once (RFC 5227 §3, RFC 4861 §7.2.6). */
  private announce (m: WelcomeMessage): void {
    const mac = parseMac(m.mac)
    const ip = parseIpv4(m.ip)
    if (mac === null || ip === null) return
    this.pump.toHub(encodeBatch([gratuitousArp(mac, ip), unsolicitedNeighborAdvert(mac)]))
  }

  // --- connection lifecycle ---

  private connect (): void {
    if (this.stopped) return
    // The direct path's candidates, found while TLS and the upgrade are under way.
    const url = this.hubs.url
    if (this.direct !== null) this.early = this.direct.findCandidates(url, this.udpPort ?? urlPort(url), this.iface)
    this.link.open(url)
  }

  /** The hello, with the direct path's candidates if they are found within EARLY_CANDIDATES_MS. */
  private async hello (): Promise<HelloMessage | null> {
    const attempt = this.link.attempt
    let endpoints: string[] = []
    const wait = new Promise<void>(resolve => { setTimeout(resolve, EARLY_CANDIDATES_MS).unref() })
    await Promise.race([this.early.then(e => { endpoints = e }, () => {}), wait])
    if (this.stopped || this.link.attempt !== attempt) return null // re-checked after the await
    return helloMessage(this.settings, this.deps.identity, this.deps.key, this.welcome, endpoints)
  }

  private handleControl (text: string): void {
    const r = decodeControl(text)
    if (!r.ok) {
      // Before welcome nothing works without the hub's answer; after it, one odd message
      // (a larger or newer hub's) is no reason to cut every application's traffic.
      if (this.welcome === null) { this.deps.log.warn('hub.bad_message', { reason: r.reason }); this.link.closeWith(4000, 'BAD_MESSAGE'); return }
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
        void this.handleWelcome(m)
        break
      case 'error': {
        const code: ErrorCode = isRefusalCode(m.code) ? m.code : 'BAD_MESSAGE'
        this.lastError = `${m.code}: ${m.message}`
        // Rate limiting and an unavailable cluster store are a "later", not a "no": reconnect with backoff.
        if (code !== 'RATE_LIMITED' && code !== 'UNAVAILABLE') this.link.refuse(new OverlanError(code, m.message))
        break
      }
      case 'challenge': {
        if (this.deps.key === undefined) { this.link.closeWith(4000, 'BAD_MESSAGE'); break }
        try { this.link.send({ type: 'proof', proof: proveJoin(this.deps.key, m.hubKey, m.nonce) }) } catch (e) { this.lastError = String(e); this.link.closeWith(4000, 'BAD_MESSAGE') }
        break
      }
      case 'members':
        if (m.room !== this.settings.room) break
        this.members = m.members
        this.direct?.setMembers(m.members, this.now())
        break
      case 'test_result': this.requests.onTestResult(m); break
      case 'bye': this.deps.log.info('hub.bye', { reason: m.reason }); break
      case 'redirect':
        if (m.room !== this.settings.room) break
        this.hubs.redirectTo(m.url)
        this.deps.log.info('hub.redirect', { room: m.room, to: m.url })
        break
      case 'room': this.requests.onRoom(m); break
      case 'test': case 'hello': case 'list': case 'proof': case 'direct': break
    }
  }

  private async handleWelcome (m: WelcomeMessage): Promise<void> {
    const attempt = this.link.attempt
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
    if (this.stopped || this.link.attempt !== attempt || !this.link.isOpen) return
    this.welcome = m
    this.hubs.welcomed()
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
    this.joinDirect(m)
  }

  /** The direct path after a welcome: configured for the lease; candidates found again if the hello could not carry them. */
  private joinDirect (m: WelcomeMessage): void {
    const d = this.direct
    if (d === null) return
    d.configure(m, this.members, this.now())
    const guessed = this.udpPort ?? urlPort(this.link.url)
    this.udpPort = m.udpPort ?? null
    if (!d.enabled || this.udpPort === null) return
    if (this.udpPort === guessed && d.hasReflexive) { this.directTick(); return }
    void d.findCandidates(this.link.url, this.udpPort, this.iface).then(eps => {
      if (eps.length > 0) this.deps.log.info('direct.candidates', { endpoints: eps.join(' ') })
      this.directTick()
    })
  }

  /** The direct path's timers; tells the hub when the candidates or the count of direct members changed. */
  private directTick (): void {
    if (this.direct === null || this.stopped) return
    const m = this.direct.tick(this.now(), this.state === 'connected')
    if (m !== null) this.link.send(m)
  }

  private onClosed (code: number, reason: string, refusal: OverlanError | null): void {
    const wasConnected = this.state === 'connected'
    this.connectedAt = null
    if (this.link.lastError !== null) this.lastError = this.link.lastError
    if (this.stopped) return
    if (refusal !== null) { this.fatal(refusal); return }
    // Sent to the room's owner (a cluster): go there at once, a few times in a row at most.
    if (this.hubs.closed(code, wasConnected) === 'now') {
      this.state = this.welcome === null ? 'connecting' : 'reconnecting'
      if (wasConnected) this.counters.reconnects++
      this.connect()
      return
    }
    // Anything else: back to the list (HubChoice).
    if (wasConnected) this.deps.log.warn('hub.disconnected', { code, reason: reason || undefined })
    if (this.firstJoin !== null && this.now() >= this.firstJoin.deadline) {
      this.fatal(new OverlanError('HUB_UNREACHABLE', `could not join ${this.settings.hub} within ${Math.round(this.settings.joinTimeoutMs / 1000)} s: ${this.lastError ?? `closed with ${code}`}`))
      return
    }
    this.state = this.welcome === null ? 'connecting' : 'reconnecting'
    const delay = this.backoff.next()
    if (wasConnected) this.counters.reconnects++ // outages, not attempts
    this.deps.log.info('hub.reconnect', { attempt: this.backoff.attempts, inMs: delay, hub: this.hubs.url })
    this.retryTimer = setTimeout(() => { this.retryTimer = null; this.connect() }, delay)
  }

  private checkKeepalive (): void {
    const now = this.now()
    const late = this.keepaliveClock.tick(now)
    if (late > 0) this.deps.log.warn('peer.stalled', { lateMs: Math.round(late) })
    if (!this.link.isOpen) return
    // A late check judges no silence: the hub's messages may wait unread (core/stall.ts).
    const silent = late > 0 ? 0 : now - this.lastRx
    // The test's own pings keep the line alive; pongs must pair with them.
    if (!this.link.keepalive(silent, this.settings.keepaliveTimeoutMs, this.requests.testing)) this.deps.log.warn('hub.silent', { silentMs: silent })
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

  private every (ms: number, f: () => void): void {
    const t = setInterval(f, ms)
    t.unref()
    this.timers.push(t)
  }

  private async shutdown (sayBye: boolean): Promise<void> {
    if (this.stopped) return
    this.state = 'stopped'
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    await this.pump.close()
    this.direct?.close()
    await this.link.close(sayBye)
    if (this.tap !== null) {
      await this.tap.close()
      this.deps.log.info('tap.close', { iface: this.tap.name })
    }
  }
}
