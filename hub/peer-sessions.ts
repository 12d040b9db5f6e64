/**
 * The hub's peer connections, from the upgrade to the close: each becomes a Session, its
 * events arrive through one PeerSide for all sessions (hub/peer-events.ts), its control
 * messages are dispatched here, refusals end it, keepalive rounds ping it and cut it when
 * silent. The hub (hub/hub.ts) owns the lifecycle; the rooms switch the binary messages.
 *
 *   upgrade: subprotocol (400 if not overlan.*) ─► Session (pending) ─► hello within
 *   HELLO_TIMEOUT_MS ─► admission (hub/admission.ts) ─► welcome, a place in a room
 *   └► any refusal: `error` {code, message}, close with its CLOSE_* code; nothing the
 *      connection sends afterwards is processed
 *
 * Every message from a peer is handled inside one guard: a decoder that throws drops that
 * message (`internal_error`, logged rate-limited with its stack), never the process.
 */
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { parseEndpoint } from '../core/direct/wire.js'
import type { ErrorCode } from '../core/errors.js'
import { RateLimitedLog, type Logger } from '../core/log.js'
import {
  CLOSE_BAD_MESSAGE, CLOSE_HELLO_TIMEOUT, CLOSE_NORMAL, HELLO_TIMEOUT_MS, MAX_MESSAGE_BYTES,
  REFUSAL_CLOSE_CODES, SUBPROTOCOL, decodeControl, encodeControl, type RefusalCode
} from '../core/protocol.js'
import { TickClock } from '../core/stall.js'
import { OPEN } from '../core/websocket/connection.js'
import type { ReaderKind } from '../core/websocket/reader.js'
import { acceptUpgrade, refuseUpgrade } from '../core/websocket/server.js'
import type { WarmLoop } from '../core/websocket/warm-loop.js'
import type { Admission } from './admission.js'
import type { AuditLog } from './audit.js'
import type { Cluster } from './cluster/cluster.js'
import type { HubSettings } from './config.js'
import type { Doors } from './doors.js'
import type { HubMetrics } from './metrics.js'
import { PeerEvents, type PeerSide } from './peer-events.js'
import type { Room } from './room.js'
import { roomAnswer } from './room-answer.js'
import { Session } from './session.js'
import { speedTestPhase } from './speed-test.js'

/** A refused connection that does not finish the close handshake is cut after this. */
const REFUSAL_LINGER_MS = 2000

/** What the sessions need of the hub; the parts start() sets are read when used (the data path's two are fields, below). */
export interface PeerSessionsDeps {
  settings: HubSettings
  rooms: Map<string, Room>
  doors: Doors
  metrics: HubMetrics
  log: Logger
  now: () => number
  hub: {
    readonly ready: boolean
    readonly stopping: boolean
    readonly admission: Admission | null
    readonly audit: AuditLog
  }
  pushMembers: (r: Room, now: number) => void
}

export class PeerSessions {
  /** Connections without a welcome yet. */
  readonly pending = new Set<Session>()
  /** How the last accepted connection is read (core/websocket/reader.ts): 'onread', or 'stream' where Node lacks it. */
  reader: ReaderKind | null = null
  /** Messages that made a decoder throw (each dropped). */
  internalErrors = 0
  /** Set by the hub's start(); plain fields, read for every relayed batch. */
  cluster: Cluster | null = null
  warmLoop: WarmLoop | null = null
  private nextPort = 1
  private readonly refusalLog = new RateLimitedLog(10_000, 20)
  private readonly internalLog = new RateLimitedLog(10_000, 5)
  /** When keepalive rounds run; a late one means this process was stalled (core/stall.ts). */
  private keepaliveClock = new TickClock(1, 0)

  constructor (private readonly d: PeerSessionsDeps) {}

  /** An HTTP upgrade on the listener: a peer's WebSocket, or a refusal with a status line. */
  upgrade (req: IncomingMessage, socket: Socket, head: Buffer): void {
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map(p => p.trim())
    const refuse = (status: string, body: string): void => { refuseUpgrade(socket, status, body) }
    if (this.d.hub.stopping) { refuse('503 Service Unavailable', 'hub shutting down\n'); return }
    // Until start() is done (a cluster's store joined, the UDP port known) no peer is admitted.
    if (!this.d.hub.ready) { refuse('503 Service Unavailable', 'hub starting\n'); return }
    if (!offered.some(p => p.startsWith('overlan.'))) { refuse('400 Bad Request', `WebSocket subprotocol ${SUBPROTOCOL} required\n`); return }
    const client = this.d.doors.clientAddress(req)
    if (!this.d.doors.admitProxied(socket, client)) { refuse('429 Too Many Requests', 'too many connections from this address\n'); return }
    // overlan.1, or any overlan.N so a peer of another version gets a PROTOCOL_VERSION error.
    const protocol = offered.includes(SUBPROTOCOL) ? SUBPROTOCOL : offered.find(p => p.startsWith('overlan.'))!
    const events = new PeerEvents(this.side, client, socket, `${client}:${req.socket.remotePort ?? 0}`)
    const accepted = acceptUpgrade(req, socket, head, protocol, MAX_MESSAGE_BYTES, events)
    if (accepted === null) return
    this.reader = accepted.reader
    const s = new Session(this.nextPort++, accepted.conn, events.remote, this.d.now(), this.d.settings.sendQueueBytes)
    events.s = s
    this.pending.add(s)
    events.helloTimer = setTimeout(() => {
      if (s.info === null && !s.refused) this.refuse(s, 'BAD_MESSAGE', `no hello within ${HELLO_TIMEOUT_MS} ms`, CLOSE_HELLO_TIMEOUT)
    }, HELLO_TIMEOUT_MS)
    events.helloTimer.unref()
  }

  /** Every session: the pending ones and the rooms' members. */
  all (): Session[] { return [...this.pending, ...[...this.d.rooms.values()].flatMap(r => [...r.list()])] }

  /** Ends a session now (kick, ban): a refusal, and it leaves its room at once. */
  disconnect (s: Session, code: RefusalCode, message: string): void {
    this.refuse(s, code, message, REFUSAL_CLOSE_CODES[code])
    if (s.info !== null) this.d.rooms.get(s.info.room)?.leave(s, this.d.now())
  }

  refuse (s: Session, code: RefusalCode | ErrorCode, message: string, closeCode: number): void {
    if (s.refused) return
    s.refused = true
    this.d.metrics.refusals.inc({ code })
    const suppressed = this.refusalLog.allow(this.d.now())
    if (suppressed >= 0) {
      this.d.log.warn('peer.refused', { remote: s.remote, code, message, suppressed: suppressed || undefined })
      this.d.hub.audit.record('refused', { remote: s.remote, code, room: s.info?.room, name: s.info?.name, suppressed: suppressed || undefined })
    }
    s.sendControl(encodeControl({ type: 'error', code, message }))
    s.ws.close(closeCode, code)
    setTimeout(() => { s.ws.terminate() }, REFUSAL_LINGER_MS).unref()
  }

  /** The keepalive rounds start now, every `everyMs`. */
  startKeepalive (now: number, everyMs: number): void { this.keepaliveClock = new TickClock(everyMs, now) }

  /**
   * Pings every connection; terminates those silent for longer than the timeout. A round that
   * runs late (this process was stalled: SIGSTOP, a VM pause) judges no one: the pongs that
   * arrived meanwhile are still unread in the sockets, the next round sees them.
   */
  keepalive (): void {
    const now = this.d.now()
    const stalledMs = this.keepaliveClock.tick(now)
    const stalled = stalledMs > 0
    if (stalled) this.d.log.warn('hub.stalled', { lateMs: Math.round(stalledMs) })
    const limit = this.d.settings.keepaliveTimeoutMs
    const check = (s: Session): void => {
      if (!stalled && now - s.lastSeen > limit) {
        this.d.log.warn('peer.timeout', { remote: s.remote, name: s.info?.name, silentMs: now - s.lastSeen })
        s.ws.terminate()
        if (s.info !== null) this.d.rooms.get(s.info.room)?.leave(s, now)
        return
      }
      if (s.ws.readyState === OPEN) { s.pingSentAt = performance.now(); s.ws.ping() }
    }
    for (const s of this.pending) check(s)
    for (const r of this.d.rooms.values()) for (const s of r.list()) check(s)
  }

  /** What a session's connection reports, handled once for all sessions (PeerEvents calls it). */
  private readonly side: PeerSide = {
    binary: (e, buf, off, len) => {
      const s = e.s!
      if (s.refused) return
      s.lastSeen = this.d.now()
      try {
        if (s.info === null) { s.counters.drops.before_welcome++; this.refuse(s, 'BAD_MESSAGE', 'binary data before welcome', CLOSE_BAD_MESSAGE); return }
        if (s.test !== null && s.test.direction === 'up') { s.test.bytes += len; return } // counted, not switched
        // A clustered hub switches a room only within its fence (hub/cluster/cluster.ts).
        if (this.cluster !== null && !this.cluster.ownsNow(s.info.room)) { s.counters.drops.not_owner++; return }
        // A view of the read buffer: the room copies what it sends on (hub/session.ts).
        const msg = buf.subarray(off, off + len)
        this.warmLoop?.touchBatch(msg)
        this.d.rooms.get(s.info.room)?.forward(s, msg, s.lastSeen)
      } catch (err) {
        this.internalError(s, err)
      }
    },
    text: (e, text) => {
      const s = e.s!
      if (s.refused) return
      s.lastSeen = this.d.now()
      try { this.control(s, e.client, e.socket, text) } catch (err) { this.internalError(s, err) }
    },
    alive: (e) => { e.s!.lastSeen = this.d.now() },
    pong: (e) => {
      const s = e.s!
      s.lastSeen = this.d.now()
      if (s.pingSentAt > 0) {
        const ms = performance.now() - s.pingSentAt
        s.rtt.add(ms)
        this.d.metrics.rtt.observe(ms / 1000)
        s.pingSentAt = 0
      }
    },
    error: (e, err) => { this.d.log.debug('peer.ws_error', { remote: e.remote, error: err.message }) },
    closed: (e, code, reason) => {
      if (e.helloTimer !== null) clearTimeout(e.helloTimer)
      const s = e.s
      if (s === null) return
      this.pending.delete(s)
      if (s.info === null) return
      const room = this.d.rooms.get(s.info.room)
      if (room !== undefined) { room.leave(s, this.d.now()); if (!this.d.hub.stopping) this.d.pushMembers(room, this.d.now()) }
      this.d.log.info('peer.leave', { room: s.info.room, name: s.info.name, ip: s.info.ip, code, reason })
    }
  }

  /** One peer's message made something throw: drop it, count it, keep serving everyone. */
  private internalError (s: Session, e: unknown): void {
    this.internalErrors++
    s.counters.drops.internal_error++
    const suppressed = this.internalLog.allow(this.d.now())
    if (suppressed >= 0) this.d.log.error('peer.internal_error', { remote: s.remote, name: s.info?.name, error: (e as Error)?.stack ?? String(e), suppressed: suppressed || undefined })
  }

  /** A control message (JSON text) from a peer. */
  private control (s: Session, client: string, socket: Socket, text: string): void {
    const r = decodeControl(text)
    if (!r.ok) { this.refuse(s, 'BAD_MESSAGE', r.reason, CLOSE_BAD_MESSAGE); return }
    if (r.message === null) { this.d.log.debug('peer.unknown_message', { type: r.unknownType }); return }
    const m = r.message
    const now = this.d.now()
    if (m.type === 'hello') {
      if (s.info !== null || s.joining || s.challenge !== null) { this.refuse(s, 'BAD_MESSAGE', 'second hello on one connection', CLOSE_BAD_MESSAGE); return }
      this.d.hub.admission!.hello(s, m, client, socket)
    } else if (m.type === 'direct') {
      const room = s.info !== null ? this.d.rooms.get(s.info.room) : undefined
      if (room === undefined) { this.refuse(s, 'BAD_MESSAGE', 'direct before welcome', CLOSE_BAD_MESSAGE); return }
      if (!s.allowDirect(now)) return
      s.reaching = m.reaching
      // Only well-formed candidates are passed on to the other members.
      const endpoints = m.endpoints.filter(e => parseEndpoint(e) !== null)
      if (endpoints.join(',') !== s.endpoints.join(',')) { s.endpoints = endpoints; room.candidatesChanged(); this.d.pushMembers(room, now) }
    } else if (m.type === 'test') {
      if (s.info === null) { this.refuse(s, 'BAD_MESSAGE', 'test before welcome', CLOSE_BAD_MESSAGE); return }
      speedTestPhase(s, m.direction, m.ms, this.d.settings.sendQueueBytes)
    } else if (m.type === 'proof') {
      this.d.hub.admission!.proof(s, m.proof, socket)
    } else if (m.type === 'bye') {
      s.ws.close(CLOSE_NORMAL, 'bye')
    } else if (m.type === 'list') {
      const room = s.info !== null ? this.d.rooms.get(s.info.room) : undefined
      if (room === undefined) { this.refuse(s, 'BAD_MESSAGE', 'list before welcome', CLOSE_BAD_MESSAGE); return }
      if (!s.allowList(now)) return
      s.sendControl(roomAnswer(room, now))
    } else {
      this.refuse(s, 'BAD_MESSAGE', `a peer may not send "${m.type}"`, CLOSE_BAD_MESSAGE)
    }
  }
}
