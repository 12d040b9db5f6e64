import test from 'ava'
import { chains, parseTimehist } from './sched.js'

// One round trip in `perf sched timehist -w -n` form: ping (50) -> a (10) -> hub (20) -> b (30) -> hub -> a -> ping,
// with b's keep-warm timer firing in a's context (a wake-up that is not part of the chain).
const TRACE = `
   100.000000 [0001]  ping[50]                                                   awakened: node[10]
   100.000010 [0001]  ping[50]                      1.000      0.000      0.020  next: node[10]
   100.000020 [0001]  node[10]                                                   awakened: node[30]
   100.000100 [0001]  node[10]                                                   awakened: node[20]
   100.000150 [0001]  node[10]                      2.000      0.010      0.140  next: node[20]
   100.000300 [0001]  node[20]                                                   awakened: node[30]
   100.000350 [0001]  node[20]                      2.000      0.050      0.200  next: swapper/1[0]
   100.000400 [0000]  <idle>                        0.500      0.000      1.000  next: node[30]
   100.000600 [0000]  node[30]                                                   awakened: node[20]
   100.000620 [0000]  node[30]                      1.000      0.100      0.220  next: node[20]
   100.000700 [0000]  node[20/20]                                                awakened: node[10/10]
   100.000720 [0000]  node[20]                      0.300      0.020      0.100  next: swapper/0[0]
   100.000730 [0001]  <idle>                        0.300      0.000      0.500  next: node[10]
   100.000800 [0001]  node[10]                                                   awakened: ping[50]
   100.000810 [0001]  node[10]                      0.600      0.030      0.080  next: ping[50]
`

test('parseTimehist reads wake-ups and switches with thread ids, idle as 0', t => {
  const ev = parseTimehist(TRACE)
  t.is(ev.length, 15)
  t.deepEqual(ev[0], { t: 100_000, wake: true, from: 50, to: 10 })
  t.deepEqual(ev[7], { t: 100_000.4, wake: false, from: 0, to: 30 })
  t.deepEqual(ev[10], { t: 100_000.7, wake: true, from: 20, to: 10 })
  t.deepEqual(parseTimehist('garbage\n\n  Samples do not have callchains.'), [])
})

test('chains splits a round trip into delay + work per hop and skips wake-ups outside the chain', t => {
  const r = chains(parseTimehist(TRACE), 50, { a: 10, hub: 20, b: 30 })
  if (r === null) return t.fail('no chain')
  t.is(r.samples, 1)
  const near = (x: number, y: number): boolean => Math.abs(x - y) < 1e-6
  t.true(near(r.rttMs, 0.8))
  // a: woken at 0, running at 0.010 (ping was still on the CPU), wakes the hub at 0.100
  t.true(near(r.hops['peer a out'].delayMs, 0.01) && near(r.hops['peer a out'].workMs, 0.09))
  // hub: woken at 0.100, runs at 0.150, wakes b at 0.300 (not a's earlier timer wake of b)
  t.true(near(r.hops['hub a→b'].delayMs, 0.05) && near(r.hops['hub a→b'].workMs, 0.15))
  t.true(near(r.hops['peer b in+out'].delayMs, 0.1) && near(r.hops['peer b in+out'].workMs, 0.2))
  // hub was switched in at 0.620 and wakes a at 0.700
  t.true(near(r.hops['hub b→a'].delayMs, 0.02) && near(r.hops['hub b→a'].workMs, 0.08))
  t.true(near(r.hops['peer a in'].delayMs, 0.03) && near(r.hops['peer a in'].workMs, 0.07))
})

test('chains returns null when a hop never happens', t => {
  const broken = TRACE.split('\n').filter(l => !l.includes('awakened: node[20]') || !l.includes('node[30]')).join('\n')
  t.is(chains(parseTimehist(broken), 50, { a: 10, hub: 20, b: 30 }), null)
})
