/**
 * The hub's keep-warm pieces (core/keep-warm.ts): a WebSocket of its own over loopback, through
 * the same TLS and ws code a relayed batch takes. Each tick sends one game-sized message from
 * the loop's client; the loop's server side receives it and sends it back, as the hub's
 * sessions receive and send. A relayed batch then finds TLS, the ws receiver and sender and
 * libuv's stream code in the caches. Measured (README "Performance", A/B with the peers' keep-warm
 * on): idle wss RTT 0.92–1.22 → 0.76–0.95 ms, for 3–4 % of a core while frames pass (2 ms period).
 *
 * The loop's listener is a separate server on 127.0.0.1 (port chosen by the kernel): it is no
 * door into the hub, carries no session and sees only scratch bytes. It takes one WebSocket, on
 * a path with a random secret, and stops listening once its own client is in; any other local
 * connection is destroyed then, or at close.
 */
import { randomBytes } from 'node:crypto'
import type { IncomingMessage, Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import { KeepWarm, type KeepWarmStatus } from '../core/keep-warm.js'
import type { Logger } from '../core/log.js'
import { httpServer } from './listener.js'
import type { TlsMaterial } from './self-signed-cert.js'

const BINARY = { binary: true }
/** About one relayed game batch (u16 length + a 100-byte frame). */
const MESSAGE_BYTES = 102
/** Our own client connects at once; anything slower is no client of ours. */
const HANDSHAKE_TIMEOUT_MS = 5000

export interface WarmLoopStatus extends KeepWarmStatus {
  /** The loopback WebSocket is open. */
  connected: boolean
  /** Messages that went round the loop. */
  echoes: number
}

export class HubWarmLoop {
  private readonly warm: KeepWarm
  private server: Server | null = null
  private wss: WebSocketServer | null = null
  private client: WebSocket | null = null
  private inFlight = false
  private echoes = 0
  private problem: string | null = null
  private closed = false
  private readonly message = Buffer.alloc(MESSAGE_BYTES)
  private readonly sockets = new Set<Socket>()

  /** `host`: where the listener binds (tests give one that cannot be bound). */
  constructor (private readonly periodMs: number, private readonly tls: TlsMaterial | null, private readonly log: Logger, private readonly host = '127.0.0.1') {
    // One message at a time: a tick that finds the last one still travelling skips.
    this.warm = new KeepWarm(periodMs, () => {
      const c = this.client
      if (c === null || c.readyState !== WebSocket.OPEN || this.inFlight) return false
      this.inFlight = true
      c.send(this.message, BINARY)
      return true
    })
  }

  /** A batch to relay arrived (the hot path): unicast keeps the loop going (core/keep-warm.ts). */
  touchBatch (batch: Buffer): void { this.warm.touchBatch(batch) }

  /** Opens the loopback listener and connects to it; off (period 0) it does nothing. Never throws. */
  async start (): Promise<void> {
    if (this.periodMs <= 0) return
    try {
      const tls = this.tls
      const server = httpServer(tls, { handshakeMs: HANDSHAKE_TIMEOUT_MS, headersMs: HANDSHAKE_TIMEOUT_MS, requestMs: HANDSHAKE_TIMEOUT_MS })
      this.server = server
      server.on('connection', (socket: Socket) => {
        this.sockets.add(socket)
        socket.once('close', () => { this.sockets.delete(socket) })
      })
      const path = `/${randomBytes(16).toString('hex')}`
      const wss = new WebSocketServer({ server, path, perMessageDeflate: false, maxPayload: 4096 })
      this.wss = wss
      // ws re-emits the server's errors here: unheard, one would end the hub.
      wss.on('error', (e) => { this.fail(e.message) })
      wss.on('connection', (ws) => {
        ws.on('message', (d: Buffer) => { ws.send(d, BINARY) })
        ws.on('error', () => {})
      })
      const listening = await new Promise<boolean>((resolve) => {
        server.once('listening', () => { resolve(true) })
        server.once('close', () => { resolve(false) }) // close() during listen
        server.once('error', () => { resolve(false) })
        server.listen(0, this.host)
      })
      if (!listening || this.closed) { server.close(); return }
      server.unref()
      const port = (server.address() as AddressInfo).port
      // Our own listener, just opened, on loopback, carrying scratch bytes: nothing to verify.
      const c = new WebSocket(`${tls !== null ? 'wss' : 'ws'}://${this.host}:${port}${path}`, { perMessageDeflate: false, rejectUnauthorized: false, maxPayload: 4096 })
      this.client = c
      c.on('upgrade', (res: IncomingMessage) => { this.onlyOurs(server, res.socket.localPort) })
      c.on('message', () => { this.inFlight = false; this.echoes++ })
      c.on('error', (e) => { this.fail(e.message) })
      c.on('close', () => { if (!this.closed) this.fail('the loopback WebSocket closed') })
    } catch (e) {
      this.fail((e as Error).message)
    }
  }

  /** Our client is in: no more connections, and none but its own. */
  private onlyOurs (server: Server, ourPort: number | undefined): void {
    server.close()
    for (const s of this.sockets) if (s.remotePort !== ourPort) s.destroy()
  }

  status (): WarmLoopStatus {
    const s = this.warm.status()
    return { ...s, error: s.error ?? this.problem, connected: this.client?.readyState === WebSocket.OPEN, echoes: this.echoes }
  }

  async close (): Promise<void> {
    this.closed = true
    this.warm.close()
    this.client?.terminate()
    this.client = null
    for (const ws of this.wss?.clients ?? []) ws.terminate()
    this.wss?.close()
    this.wss = null
    for (const socket of this.sockets) socket.destroy()
    const server = this.server
    this.server = null
    // Also while its listen is pending: close() cancels it. The callback comes either way.
    if (server !== null) await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  }

  /** Warming is an optimisation: without it the hub relays as before. */
  private fail (why: string): void {
    if (this.problem !== null || this.closed) return
    this.problem = why
    this.warm.close()
    this.log.warn('hub.keep_warm_off', { why })
  }
}
