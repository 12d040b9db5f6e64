import test from 'ava'
import { setFlagsFromString } from 'node:v8'
import { tierUpDataPathSooner } from './tiering.js'

// V8's own view of a function (natives syntax, allowed before the probes are parsed).
setFlagsFromString('--allow-natives-syntax')
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const status = new Function('f', 'return %GetOptimizationStatus(f)') as (f: unknown) => number
const OPTIMIZED = 1 << 4
const QUEUED = (1 << 8) | (1 << 9) | (1 << 10) // marked for (concurrent) optimisation, or being compiled

/** Calls a fresh per-frame-sized function until V8 optimises it (or queues it); how many calls that took. */
const callsToTierUp = (limit: number): number => {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  // Straight-line reads of a header, as the frame path's inspection does (no loop: its back edges would spend budget faster).
  const body = Array.from({ length: 16 }, (_, i) => `s = (s * 31 + b[${i}]) | 0`).join('; ')
  const f = new Function('b', `let s = 0; ${body}; return s`) as (b: Uint8Array) => number
  const frame = new Uint8Array(16)
  for (let n = 1; n <= limit; n++) {
    f(frame)
    if ((status(f) & (OPTIMIZED | QUEUED)) !== 0) return n
  }
  return limit
}

test('tierUpDataPathSooner lets a per-frame function reach TurboFan after far fewer calls than V8\'s default budget', t => {
  const before = callsToTierUp(100_000)
  tierUpDataPathSooner()
  const after = callsToTierUp(100_000)
  t.log(`calls until optimised: ${before} with the default budget, ${after} after tierUpDataPathSooner()`)
  t.true(after * 4 <= before, `expected at least 4× fewer calls (default ${before}, lowered ${after})`)
})
