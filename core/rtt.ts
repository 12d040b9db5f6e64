import { quantileOf } from './rtt-math.js'

/** Round-trip time samples (ms) of one path: the last, the median and the 95th percentile of a bounded window. */
export const RTT_WINDOW = 64

export class RttStats {
  private readonly samples = new Float64Array(RTT_WINDOW)
  private n = 0
  private next = 0
  last: number | null = null

  add (ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return
    this.samples[this.next] = ms
    this.next = (this.next + 1) % RTT_WINDOW
    if (this.n < RTT_WINDOW) this.n++
    this.last = ms
  }

  get count (): number { return this.n }

  private quantile (q: number): number | null {
    return this.n === 0 ? null : quantileOf(Array.from(this.samples.subarray(0, this.n)), q)
  }

  get median (): number | null { return this.quantile(0.5) }
  get p95 (): number | null { return this.quantile(0.95) }

  toJSON (): { lastMs: number | null, medianMs: number | null, p95Ms: number | null, samples: number } {
    const r = (x: number | null): number | null => x === null ? null : Math.round(x * 1000) / 1000
    return { lastMs: r(this.last), medianMs: r(this.median), p95Ms: r(this.p95), samples: this.n }
  }
}
