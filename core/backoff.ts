/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And
 * Jitter"): delay_n = max(min, random(0.5, 1) * min(max, min * 2^n)). Half jitter keeps the delay
 * from collapsing to zero while still spreading a room of peers after a hub restart.
 */
export interface BackoffOptions {
  minMs: number
  maxMs: number
  /** Injected for tests; returns [0, 1). */
  random?: () => number
}

export class Backoff {
  private attempt = 0
  private readonly random: () => number

  constructor (private readonly options: BackoffOptions) {
    if (!(options.minMs > 0) || options.maxMs < options.minMs) {
      throw new RangeError(`backoff needs 0 < minMs <= maxMs, got ${options.minMs}..${options.maxMs}`)
    }
    this.random = options.random ?? Math.random
  }

  /** Delay before the next attempt; each call counts as one more failure. */
  next (): number {
    const ceiling = Math.min(this.options.maxMs, this.options.minMs * 2 ** Math.min(this.attempt, 30))
    this.attempt++
    return Math.max(this.options.minMs, Math.round(ceiling * (0.5 + this.random() * 0.5)))
  }

  get attempts (): number { return this.attempt }

  reset (): void { this.attempt = 0 }
}
