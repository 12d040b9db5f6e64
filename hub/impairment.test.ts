import test from 'ava'
import { Impairment, isImpaired, validateImpairment } from './impairment.js'

const seq = (...values: number[]): () => number => { let i = 0; return () => values[i++ % values.length]! }

test('loss is a per-frame probability; delay is uniform in delay ± jitter', t => {
  const imp = new Impairment({ delayMs: 40, jitterMs: 10, lossPercent: 1 }, seq(0.005, 0.5, 0, 0.999999))
  t.true(imp.lose(), '0.5 < 1 %')
  t.false(imp.lose())
  t.is(imp.delay(), 30, 'random 0 → delay - jitter')
  t.is(Math.round(imp.delay()), 50, 'random → 1: delay + jitter')
  t.false(new Impairment({ delayMs: 0, jitterMs: 0, lossPercent: 0 }).lose())
})

test('validation: bounds, jitter within delay, defaults to zero', t => {
  t.deepEqual(validateImpairment({ delayMs: 40, jitterMs: 10, lossPercent: 1 }), { delayMs: 40, jitterMs: 10, lossPercent: 1 })
  t.deepEqual(validateImpairment({}), { delayMs: 0, jitterMs: 0, lossPercent: 0 })
  t.regex(validateImpairment({ lossPercent: 101 }) as string, /lossPercent must be a number from 0 to 100/)
  t.regex(validateImpairment({ delayMs: 5, jitterMs: 10 }) as string, /jitterMs may not exceed delayMs/)
  t.regex(validateImpairment({ delayMs: '40' }) as string, /delayMs/)
  t.regex(validateImpairment(null) as string, /must be an object/)
  t.false(isImpaired({ delayMs: 0, jitterMs: 0, lossPercent: 0 }))
})
