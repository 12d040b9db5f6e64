import test from 'ava'
import { KeepWarm, type WarmScheduler } from './keep-warm.js'
import { encodeBatch } from './protocol.js'

/** A scheduler the test ticks by hand; each tick moves the clock on by the period (or `late` ms more). */
const manual = (): { schedule: WarmScheduler, tick: (late?: number) => void, running: () => boolean, started: () => number, now: () => number } => {
  let run: (() => void) | null = null
  let starts = 0
  let period = 0
  let clock = 0
  return {
    schedule: (ms, r) => { run = r; period = ms; starts++; return { stop: () => { run = null } } },
    tick: (late = 0) => { clock += period + late; run?.() },
    now: () => clock,
    running: () => run !== null,
    started: () => starts
  }
}

test('keep-warm starts on the first batch, skips ticks after a real batch, warms the others, stops when idle', t => {
  const s = manual()
  let pieces = 0
  const w = new KeepWarm(1, () => { pieces++ }, s.schedule, 5, s.now)
  t.false(s.running(), 'no timer before traffic')
  w.touch()
  t.true(s.running())
  s.tick()
  t.is(pieces, 0, 'a batch ran since the last tick: already hot')
  s.tick(); s.tick()
  t.is(pieces, 2)
  w.touch()
  s.tick()
  t.is(pieces, 2, 'hot again after a batch')
  for (let i = 0; i < 10; i++) s.tick()
  t.false(s.running(), 'stopped after the active window (5 ticks of 1 ms) without batches')
  t.is(pieces, 6, 'four warm ticks, the fifth idle tick stops')
  t.deepEqual(w.status(), { periodMs: 1, running: false, runs: 6, hot: 2, error: null })
  w.touch()
  t.true(s.running(), 'the next batch starts it again')
  t.is(s.started(), 2)
})

test('keep-warm stops after the active window in time, however few ticks ran (timers slip under load)', t => {
  const s = manual()
  let pieces = 0
  const w = new KeepWarm(2, () => { pieces++ }, s.schedule, 2000, s.now)
  w.touch()
  s.tick() // hot
  s.tick(1000) // 1 s late: still inside the window
  t.true(s.running())
  t.is(pieces, 1)
  s.tick(1000) // 2 s after the last batch
  t.false(s.running(), 'stopped by the clock, after two ticks')
  t.is(pieces, 1)
})

test('only a batch whose first frame is unicast starts keep-warm: LAN chatter does not', t => {
  const s = manual()
  const w = new KeepWarm(1, () => {}, s.schedule, 2000, s.now)
  const batch = (dst: number[]): Buffer => encodeBatch([Buffer.from([...dst, 2, 0, 0, 0, 0, 1, 0x08, 0x00, ...new Array(46).fill(0)])])
  w.touchBatch(batch([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
  w.touchBatch(batch([0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb])) // mDNS
  w.touchBatch(batch([0x33, 0x33, 0x00, 0x00, 0x00, 0x01]))
  w.touchBatch(Buffer.alloc(2)) // no frame at all
  t.false(s.running(), 'broadcast, multicast and empty batches leave it off')
  w.touchBatch(batch([0x02, 0x00, 0x00, 0x00, 0x00, 0x02]))
  t.true(s.running(), 'unicast starts it')
})

test('keep-warm with period 0 never schedules', t => {
  const s = manual()
  const w = new KeepWarm(0, () => { t.fail('pieces ran') }, s.schedule, 2000, s.now)
  w.touch(); w.touch()
  t.false(s.running())
  t.false(w.status().running)
})

test('pieces that throw turn keep-warm off, and it stays off', t => {
  const s = manual()
  const w = new KeepWarm(1, () => { throw new Error('scratch AEAD failed') }, s.schedule, 100, s.now)
  w.touch(); s.tick(); s.tick()
  t.false(s.running())
  t.is(w.status().error, 'scratch AEAD failed')
  w.touch()
  t.false(s.running(), 'not restarted by traffic')
})

test('stop() cancels the timer until the next batch; close() for good', t => {
  const s = manual()
  const w = new KeepWarm(2, () => {}, s.schedule, 2000, s.now)
  w.touch()
  w.stop()
  t.false(s.running())
  w.touch()
  t.true(s.running())
  w.close()
  w.touch()
  t.false(s.running(), 'close() is for good')
})
