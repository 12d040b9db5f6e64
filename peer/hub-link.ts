/**
 * The peer's WebSocket to the hub, one attempt at a time, and the relay transport over it.
 *
 *   idle ─open()─► opening ─TLS + upgrade (pin checked)─► open ─close/error─► closed ─open()─► …
 *
 * An attempt's events reach the peer only while it is the current one (`attempt` counts
 * them), so a late event of a dead socket never touches the next. The peer decides what an
 * end means (retry with backoff, or a refusal); this file says why it ended: the HTTP
 * answer that refused the upgrade, the TLS failure named, or the hub's error message.
 */
import type { TLSSocket } from 'node:tls'
import { OverlanError, errnoCode } from '../core/errors.js'
import { CLOSE_NORMAL, MAX_MESSAGE_BYTES, SUBPROTOCOL, encodeControl, type ControlMessage, type HelloMessage } from '../core/protocol.js'
import { RttStats } from '../core/rtt.js'
import { limitTcpQueues } from '../core/tcp-queues.js'
import { connectWs, type WsClientAttempt } from '../core/websocket/client.js'
import { CLOSE_ABNORMAL } from '../core/websocket/frame.js'
import { OPEN, type WsConnection } from '../core/websocket/connection.js'
import { checkPin, tlsFailureReason, type TlsTrust } from './tls-trust.js'
import type { FrameTransport } from './transport.js'

/** Unsent bytes allowed in the WebSocket before frames are dropped (latency over depth). */
export const SEND_HIGH_WATER_BYTES = 64 * 1024
/** TCP, TLS and the upgrade together. */
const HANDSHAKE_TIMEOUT_MS = 10_000
/** How long a speed-test probe waits for its pong. */
const PROBE_TIMEOUT_MS = 5_000

export type HubLinkState = 'idle' | 'opening' | 'open' | 'closed'

export interface HubLinkEvents {
  /** The hello to send once the socket is open (may wait briefly); null: send none. */
  hello: () => Promise<HelloMessage | null>
  control: (text: string) => void
  frames: (msg: Buffer) => void
  /** Any message or pong: the line is alive. */
  alive: () => void
  /** The attempt ended; `refusal` when it must not be retried. */
  closed: (code: number, reason: string, refusal: OverlanError | null) => void
  /** A connection problem worth a (rate-limited) log line; `tls`: certificate or pin verification failed. */
  problem: (message: string, tls: boolean) => void
}

export class HubLink implements FrameTransport {
  readonly kind = 'relay' as const
  state: HubLinkState = 'idle'
  /** Counts attempts; an await in the peer compares it to know the connection is the same. */
  attempt = 0
  lastError: string | null = null
  /** Why the last take() did not send. */
  lastDrop: 'disconnected' | 'queue_full' = 'disconnected'
  /** RTT to the hub (WebSocket ping/pong of the keepalive). */
  readonly rtt = new RttStats()
  private ws: WsConnection | null = null
  private connecting: WsClientAttempt | null = null
  private refusal: OverlanError | null = null
  private pingSentAt = 0
  /** During `peer test`: pongs go to the probe's waiters, in order. */
  private probes: Array<(at: number) => void> = []

  /** The URL of the current (or last) attempt. */
  url = ''

  constructor (private readonly trust: TlsTrust, private readonly events: HubLinkEvents) {}

  get isOpen (): boolean { return this.state === 'open' && this.ws?.readyState === OPEN }

  /** A new attempt at `url` (the previous one must have ended). */
  open (url: string): void {
    this.url = url
    const attempt = ++this.attempt
    this.lastError = null
    this.refusal = null
    this.pingSentAt = 0
    this.state = 'opening'
    this.ws = null
    const current = (): boolean => this.attempt === attempt && this.state !== 'closed'
    /** The attempt is over: the peer hears it once. */
    const ended = (code: number, reason: string): void => {
      if (!current()) return
      this.ws = null
      this.connecting = null
      this.state = 'closed'
      this.probes = []
      this.events.closed(code, reason, this.refusal)
    }
    this.connecting = connectWs({ url, protocol: SUBPROTOCOL, maxMessage: MAX_MESSAGE_BYTES, timeoutMs: HANDSHAKE_TIMEOUT_MS, tls: this.trust.options }, {
      opened: (ws) => {
        if (!current()) { ws.terminate(); return }
        this.connecting = null
        this.ws = ws
        if (this.trust.pin !== null) {
          const wrong = checkPin(ws.socket as TLSSocket, this.trust.pin)
          if (wrong !== null) { this.lastError = wrong.message; this.refusal = wrong; ws.terminate(); return }
        }
        limitTcpQueues(ws.socket)
        this.state = 'open'
        this.events.alive()
        void this.events.hello().then(h => { if (h !== null && current() && ws.readyState === OPEN) this.send(h) })
      },
      refused: (status, headers, body) => {
        if (!current()) return
        // Our hub refuses an upgrade with 400 (no overlan subprotocol), 429 or 503, saying why in
        // a text/plain line; anything else comes from something in front of it.
        const fromHub = [400, 429, 503].includes(status)
        const why = (headers.get('content-type') ?? '').startsWith('text/plain') && headers.get('transfer-encoding') === undefined
          ? body.split('\n')[0]!.trim().slice(0, 200)
          : ''
        this.lastError = fromHub
          ? `hub answered HTTP ${status} instead of upgrading${why !== '' ? `: ${why}` : ''}`
          : `HTTP ${status} from the proxy: is WebSocket upgrade forwarded? (Upgrade and Connection headers, HTTP/1.1 to the hub)`
        if (status === 400) this.refusal = new OverlanError('PROTOCOL_VERSION', `${this.lastError}: is ${this.url} an overlan hub of a compatible version?`)
        ended(CLOSE_ABNORMAL, '')
      },
      failed: (e) => {
        if (!current()) return
        this.onError(e)
        ended(CLOSE_ABNORMAL, '')
      },
      binary: (buf, off, len) => {
        if (!current()) return
        this.events.alive()
        this.events.frames(buf.subarray(off, off + len))
      },
      text: (text) => {
        if (!current()) return
        this.events.alive()
        this.events.control(text)
      },
      ping: () => { if (current()) this.events.alive() },
      pong: () => {
        if (!current()) return
        this.events.alive()
        const probe = this.probes.shift()
        if (probe !== undefined) { probe(performance.now()); return }
        if (this.pingSentAt > 0) { this.rtt.add(performance.now() - this.pingSentAt); this.pingSentAt = 0 }
      },
      error: (e) => { if (current()) this.onError(e) },
      closed: (code, reason) => { ended(code, reason) }
    })
  }

  /** The hub's `error` message, or a TLS failure before the first join: do not retry. */
  refuse (e: OverlanError): void { this.refusal = e }

  send (m: ControlMessage): void {
    this.ws?.sendText(encodeControl(m))
  }

  /** Relay transport: sends the whole batch, or takes none (lastDrop says why). */
  take (batch: Buffer): Buffer | null {
    const ws = this.ws
    if (this.state !== 'open' || ws === null || ws.readyState !== OPEN) { this.lastDrop = 'disconnected'; return batch }
    if (ws.bufferedAmount > SEND_HIGH_WATER_BYTES) { this.lastDrop = 'queue_full'; return batch }
    ws.sendBinary(batch, 0, batch.length)
    return null
  }

  /** Binary data outside the frame path (the speed test's filler): false when the queue is full. */
  sendRaw (buf: Buffer): boolean {
    const ws = this.ws
    if (ws === null || ws.readyState !== OPEN || ws.bufferedAmount > SEND_HIGH_WATER_BYTES) return false
    return ws.sendBinary(buf, 0, buf.length)
  }

  /** One RTT probe (the speed test): resolves with ms, rejects when the connection goes. */
  probe (): Promise<number> {
    return new Promise((resolve, reject) => {
      const ws = this.ws
      if (ws === null || ws.readyState !== OPEN) { reject(new OverlanError('HUB_UNREACHABLE', 'the connection to the hub went away during the test')); return }
      const at = performance.now()
      // A hub may leave a ping unanswered (RFC 6455 §5.5.3, e.g. with its send queue full): give up
      // rather than wait forever. A late pong then answers the next probe, a short RTT at worst.
      const timer = setTimeout(() => {
        const i = this.probes.indexOf(waiter)
        if (i >= 0) this.probes.splice(i, 1)
        reject(new OverlanError('HUB_UNREACHABLE', `the hub did not answer a ping within ${PROBE_TIMEOUT_MS} ms`))
      }, PROBE_TIMEOUT_MS)
      const waiter = (done: number): void => { clearTimeout(timer); resolve(done - at) }
      this.probes.push(waiter)
      ws.ping()
    })
  }

  /** Keepalive: cut a line silent for `silentMs` > timeout; else ping (an RTT sample) unless a test owns the pongs. */
  keepalive (silentMs: number, timeoutMs: number, testing: boolean): boolean {
    const ws = this.ws
    if (ws === null || ws.readyState !== OPEN) return true
    if (silentMs > timeoutMs) { ws.terminate(); return false }
    if (testing) { this.pingSentAt = 0; return true }
    this.pingSentAt = performance.now()
    ws.ping()
    return true
  }

  /** Ends the attempt now (no close handshake). */
  terminate (): void {
    if (this.ws !== null) this.ws.terminate()
    else this.connecting?.abort('the attempt was cut')
  }

  /** Closes with an application code (a protocol problem of the hub's). */
  closeWith (code: number, reason: string): void { this.ws?.close(code, reason) }

  /** Final: bye and an orderly close (at most 1 s), or just cut. Later events are ignored. */
  async close (sayBye: boolean): Promise<void> {
    const ws = this.ws
    const connecting = this.connecting
    this.ws = null
    this.connecting = null
    this.state = 'closed'
    connecting?.abort('peer leaving')
    if (ws === null) return
    if (!sayBye || ws.readyState !== OPEN) { ws.terminate(); return }
    ws.sendText(encodeControl({ type: 'bye', reason: 'peer leaving' }))
    ws.close(CLOSE_NORMAL, 'bye')
    let t: NodeJS.Timeout | undefined
    await Promise.race([ws.whenClosed(), new Promise<void>(resolve => { t = setTimeout(resolve, 1000) })])
    clearTimeout(t)
    ws.terminate()
  }

  private onError (e: Error): void {
    const code = errnoCode(e)
    const tls = code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME|TLS/.test(code)
    this.lastError = tls
      ? `TLS verification of ${this.url} failed: ${tlsFailureReason(code, this.url)}`
      : `${code ?? ''} ${e.message}`.trim()
    this.events.problem(this.lastError, tls)
  }
}
