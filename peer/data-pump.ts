/**
 * The peer's data path, both ways (no lifecycle of its own: peer/peer.ts says when it may send).
 *
 *   TAP ──batch──► frame path (count, clamp, copies) ──► direct link: plain unicast for a
 *        member with a path up ──► the rest ──► hub link (dropped, counted, when it is down or
 *        its socket holds > SEND_HIGH_WATER_BYTES)
 *   hub batch / direct frame ──► frame path ──► tap.write per frame (EAGAIN = drop); after a hub
 *        batch the TAP is drained at once (what the kernel answered meanwhile)
 *
 * `peer ping`'s echo replies are caught on the way in, with the path they came by. Unicast
 * batches touch the keep-warm timer (core/keep-warm.ts), which keeps the pass's code cached
 * while traffic is sparse; those through the hub also touch the relay's loop (a loopback
 * WebSocket of the peer's own, core/websocket/warm-loop.ts), so a peer on direct paths only
 * never runs it.
 */
import { encodeBatch } from '../core/protocol.js'
import type { Member } from '../core/protocol.js'
import { RateLimitedLog, type Logger } from '../core/log.js'
import { CLASS_UNICAST } from '../l2/packet-classes.js'
import type { DirectPath } from './direct-path.js'
import type { FramePath } from './frame-path.js'
import type { HubLink } from './hub-link.js'
import type { TapDevice } from './os/host-os.js'
import type { PeerCounters } from './peer-status.js'
import type { EchoAddressing } from '../l2/icmp-echo.js'
import { Pinger, type PingResult } from './ping.js'
import { KeepWarm, type KeepWarmStatus } from '../core/keep-warm.js'
import { WarmLoop, type WarmLoopStatus } from '../core/websocket/warm-loop.js'
import { peerPassPieces } from './warm-pass.js'

const UNICAST_CLASS = Uint8Array.of(CLASS_UNICAST)

export interface PumpGate {
  /** A lease is configured: frames from the TAP have a source the room knows. */
  leased: () => boolean
  /** The hub link is joined: frames may go to the hub. */
  connected: () => boolean
  now: () => number
}

export class DataPump {
  /** Set once the TAP is open. */
  tap: TapDevice | null = null
  /** Set once, right after construction (the direct path is built with `fromDirect`). */
  direct: DirectPath | null = null
  private readonly pinger = new Pinger()
  private readonly errorLog = new RateLimitedLog(10_000, 5)
  private readonly warm: KeepWarm
  private readonly relayWarm: WarmLoop

  constructor (
    private readonly path: FramePath,
    private readonly link: HubLink,
    private readonly counters: PeerCounters,
    private readonly gate: PumpGate,
    private readonly log: Logger,
    keepWarmMs = 0,
    /** The hub link is TLS: the relay's loop runs TLS too. */
    relayTls = true
  ) {
    this.warm = new KeepWarm(keepWarmMs, peerPassPieces(() => this.tap, () => this.direct))
    this.relayWarm = new WarmLoop({ periodMs: keepWarmMs, tls: relayTls ? 'ephemeral' : null, log, offEvent: 'peer.keep_warm_off' })
  }

  get keepWarm (): KeepWarmStatus & { relay: WarmLoopStatus } { return { ...this.warm.status(), relay: this.relayWarm.status() } }

  /** Opens the relay's loop (off: nothing); never throws. */
  async startWarm (): Promise<void> { await this.relayWarm.start() }

  /** The data path is closing: no more warm-up ticks. */
  async close (): Promise<void> {
    this.warm.close()
    await this.relayWarm.close()
  }

  /** A batch read from the TAP. */
  fromTap (batch: Buffer, frames: number): void {
    this.warm.touchBatch(batch)
    try { this.pumpFromTap(batch, frames) } catch (e) { this.internalError('tap', frames, e) }
  }

  /** A batch of frames from the hub. */
  fromHub (msg: Buffer): void {
    this.warm.touchBatch(msg)
    this.relayWarm.touchBatch(msg)
    try {
      if (this.path.incoming(msg, this.writeFromHub) < 0) this.counters.drops.bad_batch++
    } catch (e) { this.internalError('hub', 1, e) }
    // The kernel answered some of these frames while they were written (TCP ACKs, ICMP):
    // those leave in this pass instead of after the next wake-up (README "Performance").
    this.tap?.drainNow?.()
  }

  /** A frame the direct link checked (from the member's leased MAC, for ours). */
  readonly fromDirect = (buf: Buffer, off: number, len: number): void => {
    this.warm.touch() // the direct path carries only unicast
    if (this.pinger.catch(buf, off, len, 'direct')) return
    if (this.path.incomingFrame(buf, off, len)) this.writeToTap(buf, off, len)
  }

  /** Frames the peer makes itself (announcements): to the hub, dropped when it is away. */
  toHub (batch: Buffer): void { this.link.take(batch) }

  /** `peer ping`: echo requests to `m`, each by the direct path when it is up, else the hub. */
  async ping (m: Member, a: EchoAddressing, count: number): Promise<PingResult> {
    return await this.pinger.run(m, a, count, (frame) => {
      const batch = encodeBatch([frame])
      if (this.direct !== null && this.direct.link.take(batch, 1, UNICAST_CLASS) === null) return 'direct'
      if (!this.gate.connected()) return null
      return this.link.take(batch) === null ? 'relay' : null
    })
  }

  private pumpFromTap (batch: Buffer, frames: number): void {
    if (!this.gate.leased()) { this.counters.drops.disconnected += frames; return }
    const out = this.path.outgoing(batch, frames, this.gate.now())
    if (out === null) return
    let rest: Buffer | null = out
    let n = this.path.lastFrames
    // Plain unicast for members with a direct path goes peer to peer, even while the hub is away.
    if (this.direct !== null) {
      rest = this.direct.link.take(out, n, this.path.lastClasses)
      if (rest === null) return
      n -= this.direct.link.lastTaken
    }
    if (!this.gate.connected()) { this.counters.drops.disconnected += n; return }
    if (this.link.take(rest) !== null) { this.counters.drops[this.link.lastDrop] += n; return }
    this.relayWarm.touchBatch(rest)
    this.counters.sentFrames += n
    this.counters.sentBytes += rest.length
  }

  /** A bug met by one batch must not stop the data path (nor, thrown into libuv, the process). */
  private internalError (from: 'tap' | 'hub', frames: number, e: unknown): void {
    this.counters.drops.internal_error += frames
    const suppressed = this.errorLog.allow(this.gate.now())
    if (suppressed >= 0) this.log.error('peer.internal_error', { from, error: (e as Error)?.stack ?? String(e), suppressed: suppressed || undefined })
  }

  private readonly writeFromHub = (buf: Buffer, off: number, len: number): void => {
    if (!this.pinger.catch(buf, off, len, 'relay')) this.writeToTap(buf, off, len)
  }

  private readonly writeToTap = (buf: Buffer, off: number, len: number): void => {
    if (this.tap!.write(buf, off, len)) { this.counters.receivedFrames++; this.counters.receivedBytes += len }
    else this.counters.drops.tap_full++
  }
}
