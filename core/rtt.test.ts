import test from 'ava'
import { RTT_WINDOW, RttStats } from './rtt.js'

test('RTT stats: last, median and p95 over a bounded window; bad samples ignored', t => {
  const r = new RttStats()
  t.deepEqual(r.toJSON(), { lastMs: null, medianMs: null, p95Ms: null, samples: 0 })
  for (let i = 1; i <= 100; i++) r.add(i)
  r.add(NaN)
  r.add(-1)
  t.is(r.count, RTT_WINDOW)
  t.is(r.last, 100)
  t.is(r.median, 69, 'the window holds 37..100')
  t.is(r.p95, 97)
})
