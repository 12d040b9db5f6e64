import test from 'ava'
import { Backoff } from './backoff.js'

test('doubles from min to max, jitter within [ceiling/2, ceiling], never below min', t => {
  const low = new Backoff({ minMs: 1000, maxMs: 60_000, random: () => 0 })
  t.deepEqual(Array.from({ length: 9 }, () => low.next()), [1000, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000])
  const high = new Backoff({ minMs: 1000, maxMs: 60_000, random: () => 0.999999 })
  t.deepEqual(Array.from({ length: 8 }, () => high.next()), [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000])
})

test('reset starts over; bad bounds are refused', t => {
  const b = new Backoff({ minMs: 100, maxMs: 1000, random: () => 0.999999 })
  b.next(); b.next(); b.next()
  t.is(b.attempts, 3)
  b.reset()
  t.is(b.next(), 100)
  t.throws(() => new Backoff({ minMs: 0, maxMs: 10 }), { instanceOf: RangeError })
  t.throws(() => new Backoff({ minMs: 10, maxMs: 5 }), { instanceOf: RangeError })
})
