import test from 'ava'
import { TickClock } from './stall.js'

test('a tick on time or a little late is not a stall; one more than an interval late is', t => {
  const c = new TickClock(1000, 0)
  t.is(c.tick(1000), 0)
  t.is(c.tick(2900), 0, '900 ms late: timers jitter, the process did not stall')
  t.is(c.tick(6000), 2100, 'the process was stopped for about 3 s')
  t.is(c.tick(7000), 0, 'counted from the late tick, not from the schedule')
})
