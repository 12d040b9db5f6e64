/**
 * Network impairment for testers (this kernel has no netem): frames leaving the hub towards
 * a peer are dropped with `lossPercent` probability and delayed by `delayMs` ± `jitterMs`
 * (uniform), like netem on the switch port towards that peer. A room's setting applies to
 * every peer in it; a peer's own setting replaces the room's. With jitter, frames may be
 * reordered, as with netem. Randomness is injected so the rules are testable.
 */
export interface ImpairmentSpec {
  delayMs: number
  jitterMs: number
  lossPercent: number
}

export const NO_IMPAIRMENT: Readonly<ImpairmentSpec> = Object.freeze({ delayMs: 0, jitterMs: 0, lossPercent: 0 })

export const isImpaired = (s: ImpairmentSpec): boolean => s.delayMs > 0 || s.jitterMs > 0 || s.lossPercent > 0

export const validateImpairment = (v: unknown): ImpairmentSpec | string => {
  if (typeof v !== 'object' || v === null) return 'impairment must be an object {delayMs, jitterMs, lossPercent}'
  const o = v as Record<string, unknown>
  const num = (k: string, max: number): number | string => {
    const x = o[k] ?? 0
    return typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= max ? x : `${k} must be a number from 0 to ${max}`
  }
  const delayMs = num('delayMs', 10_000)
  const jitterMs = num('jitterMs', 10_000)
  const lossPercent = num('lossPercent', 100)
  for (const x of [delayMs, jitterMs, lossPercent]) if (typeof x === 'string') return x
  if ((jitterMs as number) > (delayMs as number)) return 'jitterMs may not exceed delayMs'
  return { delayMs: delayMs as number, jitterMs: jitterMs as number, lossPercent: lossPercent as number }
}

export class Impairment {
  constructor (readonly spec: ImpairmentSpec, private readonly random: () => number = Math.random) {}

  /** Should this frame be lost? */
  lose (): boolean { return this.spec.lossPercent > 0 && this.random() * 100 < this.spec.lossPercent }

  /** Delay for the next batch, in ms (>= 0). */
  delay (): number {
    const j = this.spec.jitterMs
    return Math.max(0, this.spec.delayMs + (j > 0 ? (this.random() * 2 - 1) * j : 0))
  }
}
