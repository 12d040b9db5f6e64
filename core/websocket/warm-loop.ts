/**
 * The relay's keep-warm pieces (core/keep-warm.ts), for the hub and for a peer whose frames go
 * through it: a WebSocket of the process's own over loopback (core/websocket/loopback.ts),
 * through the same TCP, TLS and frame code a relayed batch takes. Each tick sends one
 * game-sized message from the loop's client; its server end sends it back. A relayed batch
 * then finds that code in the CPU's caches and tiered up. Measured (README "Performance"):
 * the hub's loop took idle wss RTT from 0.92–1.22 to 0.76–0.95 ms; the peers' loops
 * another … (see the README's table), each for 2–4 % of a core while relayed frames pass.
 *
 * Warming is an optimisation: a loop that cannot open (loopback down, out of descriptors)
 * turns itself off with one log line, and the data path runs as before.
 */
import { KeepWarm, type KeepWarmStatus } from '../keep-warm.js'
import type { Logger } from '../log.js'
import { createSelfSignedCert } from '../self-signed-cert.js'
import { OPEN, type WsConnection } from './connection.js'
import { openLoopback, type LoopbackPair } from './loopback.js'

/** About one relayed game batch (u16 length + a 100-byte frame). */
const MESSAGE_BYTES = 102
const MAX_MESSAGE = 4096
/** A message not back by then was dropped on the way (a scratch room's rules, a lost write): the next tick sends another. */
export const WARM_LOST_AFTER_MS = 200
const ignore = (): void => {}

export interface WarmLoopStatus extends KeepWarmStatus {
  /** The loopback WebSocket is open. */
  connected: boolean
  /** Messages that went round the loop. */
  echoes: number
  /** Messages that did not come back within WARM_LOST_AFTER_MS. */
  lost: number
}

export interface WarmLoopOptions {
  periodMs: number
  /** TLS as the real connections use it: the hub's own pair, 'ephemeral' (a throwaway one, made at start), or null for plain TCP. */
  tls: { cert: string, key: string } | 'ephemeral' | null
  log: Logger
  /** The event logged when the loop turns itself off. */
  offEvent: string
  /** Where the listener binds (tests give one that cannot be bound). */
  host?: string
  /** The message each tick sends (default: 102 scratch bytes, about one relayed game batch). */
  message?: Buffer
  /** What the server end does with it (default: sends it back): the hub switches it through a scratch room. */
  echo?: (conn: WsConnection, buf: Buffer, off: number, len: number) => void
}

export class WarmLoop {
  private readonly warm: KeepWarm
  private pair: LoopbackPair | null = null
  private inFlight = false
  private sentAt = 0
  private echoes = 0
  private lost = 0
  private problem: string | null = null
  private closed = false
  private readonly cancel: { onCancel?: () => void } = {}
  private readonly message: Buffer

  constructor (private readonly o: WarmLoopOptions) {
    this.message = o.message ?? Buffer.alloc(MESSAGE_BYTES)
    // One message at a time: a tick that finds the last one still travelling skips.
    this.warm = new KeepWarm(o.periodMs, () => {
      const c = this.pair?.client
      if (c === undefined || c.readyState !== OPEN) return false
      const now = performance.now()
      if (this.inFlight) {
        if (now - this.sentAt < WARM_LOST_AFTER_MS) return false
        this.lost++
      }
      this.inFlight = true
      this.sentAt = now
      c.sendBinary(this.message, 0, this.message.length)
      return true
    })
  }

  /** A batch of the relay passed (the hot path): unicast keeps the loop going (core/keep-warm.ts). */
  touchBatch (batch: Buffer): void { this.warm.touchBatch(batch) }

  /** Opens the loopback WebSocket; off (period 0) it does nothing. Never throws. */
  async start (): Promise<void> {
    if (this.o.periodMs <= 0 || this.closed) return
    try {
      const tls = this.o.tls === 'ephemeral'
        ? (({ certPem, keyPem }) => ({ cert: certPem, key: keyPem }))(createSelfSignedCert({ commonName: 'overlan loopback', names: ['127.0.0.1'], validDays: 2, now: new Date() }))
        : this.o.tls
      const pair = await openLoopback({
        tls,
        host: this.o.host ?? '127.0.0.1',
        maxMessage: MAX_MESSAGE,
        client: {
          binary: () => { this.inFlight = false; this.echoes++ },
          text: ignore,
          pong: ignore,
          error: (e) => { this.fail(e.message) },
          closed: () => { this.fail('the loopback WebSocket closed') }
        },
        server: (self: () => WsConnection | null) => ({
          binary: (b, off, len) => {
            const conn = self()
            if (conn === null) return
            if (this.o.echo !== undefined) this.o.echo(conn, b, off, len)
            else conn.sendBinary(b, off, len)
          },
          text: ignore,
          pong: ignore,
          closed: ignore
        })
      }, this.cancel)
      if (this.closed) { pair.close(); return }
      this.pair = pair
    } catch (e) {
      this.fail((e as Error).message)
    }
  }

  status (): WarmLoopStatus {
    const s = this.warm.status()
    return { ...s, error: s.error ?? this.problem, connected: this.pair?.client.readyState === OPEN, echoes: this.echoes, lost: this.lost }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.warm.close()
    this.cancel.onCancel?.()
    const pair = this.pair
    this.pair = null
    if (pair === null) return
    pair.close()
    await Promise.all([pair.client.whenClosed(), pair.server.whenClosed()])
  }

  private fail (why: string): void {
    if (this.problem !== null || this.closed) return
    this.problem = why
    this.warm.close()
    this.o.log.warn(this.o.offEvent, { why })
  }
}
