/**
 * Keeps a data path's code in the CPU's caches while traffic is sparse. On an idle path (a
 * game's 20–60 packets a second, a ping every 50 ms) each pass through a Node process meets
 * caches that the hypervisor and other work filled in the meantime: bench/cold.ts measured the
 * pieces of a peer's pass at 82 µs on their first run after 50 ms idle, 12 µs after 1 ms idle
 * and 8.5 µs hot. A C daemon's pass touches a few KiB; a Node pass touches the engine, the FFI
 * and the JIT's code, so it pays that cost on every packet of a game.
 *
 * While unicast frames pass (any in the last ACTIVE_MS), a timer runs the pass's pieces on scratch data
 * every `periodMs` unless a real batch ran since the last tick (a loaded path is hot already).
 * Idle for ACTIVE_MS, the timer stops; the next frame starts it again. The hot path pays one
 * increment and one test per batch. Measured effect and CPU cost: README "Performance".
 */
import { BATCH_LEN_PREFIX } from './protocol.js'

export const KEEP_WARM_ACTIVE_MS = 2000
/** The peer's and the hub's default period: as low an idle RTT as 1 ms in the A/B runs (README "Performance"), for half the CPU. */
export const DEFAULT_KEEP_WARM_MS = 2

/** What one tick decides: a real batch ran since the last one, run the pieces, or idle long enough to stop. */
type WarmTick = 'hot' | 'warm' | 'stop'

/** A repeating timer (injected in tests). */
export interface WarmTimer { stop: () => void }
export type WarmScheduler = (everyMs: number, run: () => void) => WarmTimer

const realScheduler: WarmScheduler = (everyMs, run) => {
  const t = setInterval(run, everyMs)
  t.unref()
  return { stop: () => { clearInterval(t) } }
}

export interface KeepWarmStatus {
  /** 0: off. */
  periodMs: number
  running: boolean
  /** Ticks that ran the pieces. */
  runs: number
  /** Ticks skipped because a real batch had just run. */
  hot: number
  /** Set when the pieces threw: warming then stays off (the data path is unaffected). */
  error: string | null
}

export class KeepWarm {
  private batches = 0
  private seenBatches = 0
  /** When a tick last found a real batch (or the timer started). */
  private lastHotAt = 0
  private timer: WarmTimer | null = null
  private runs = 0
  private hotTicks = 0
  private error: string | null = null
  private closed = false

  /** `pieces` returns false when it had nothing to do (not counted as a run). */
  constructor (
    private readonly periodMs: number,
    private readonly pieces: () => boolean | void,
    private readonly schedule: WarmScheduler = realScheduler,
    private readonly activeMs = KEEP_WARM_ACTIVE_MS,
    private readonly now: () => number = performance.now.bind(performance)
  ) {}

  /** A real batch passed (the hot path: an increment and a test). */
  touch (): void {
    this.batches++
    if (this.timer === null && this.periodMs > 0 && this.error === null && !this.closed) {
      this.lastHotAt = this.now()
      this.timer = this.schedule(this.periodMs, this.onTick)
    }
  }

  /**
   * A batch in the wire format (core/protocol) passed. Only one whose first frame is unicast
   * (the I/G bit of the destination clear, IEEE 802-2014 §8.2) counts: a game's and a ping's
   * frames are, while the broadcast and multicast chatter of a LAN (mDNS, SSDP, NetBIOS
   * announcements, about one a second) would otherwise keep every process warming for good.
   */
  touchBatch (batch: Buffer): void {
    if (batch.length > BATCH_LEN_PREFIX && (batch[0]! | batch[1]!) !== 0 && (batch[BATCH_LEN_PREFIX]! & 1) === 0) this.touch()
  }

  /** The rule for one tick at `now` (`onTick` acts on it). Time, not a count of ticks: timers slip under load. */
  private decide (now: number): WarmTick {
    if (this.batches !== this.seenBatches) {
      this.seenBatches = this.batches
      this.lastHotAt = now
      return 'hot'
    }
    return now - this.lastHotAt >= this.activeMs ? 'stop' : 'warm'
  }

  /** Stops until the next batch. */
  stop (): void {
    this.timer?.stop()
    this.timer = null
  }

  /** Stops for good (the data path is closing). */
  close (): void {
    this.closed = true
    this.stop()
  }

  status (): KeepWarmStatus {
    return { periodMs: this.periodMs, running: this.timer !== null, runs: this.runs, hot: this.hotTicks, error: this.error }
  }

  private readonly onTick = (): void => {
    const d = this.decide(this.now())
    if (d === 'hot') { this.hotTicks++; return }
    if (d === 'stop') { this.stop(); return }
    try {
      if (this.pieces() !== false) this.runs++
    } catch (e) {
      this.error = (e as Error)?.message ?? String(e)
      this.stop()
    }
  }
}
