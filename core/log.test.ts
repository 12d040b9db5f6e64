import test from 'ava'
import { RateLimitedLog, createLogger } from './log.js'

test('lines are "ts level scope event key=value" with quoting', t => {
  const lines: string[] = []
  const log = createLogger('hub', { write: l => lines.push(l), now: () => new Date(0), level: 'info' })
  log.info('peer.join', { room: 'friday', name: 'a b', n: 3, skip: undefined })
  log.debug('hidden')
  log.child('room').warn('x')
  t.deepEqual(lines, [
    '1970-01-01T00:00:00.000Z info hub peer.join room=friday name="a b" n=3',
    '1970-01-01T00:00:00.000Z warn hub.room x'
  ])
})

test('rate limiter allows a burst per interval and reports what it suppressed', t => {
  const r = new RateLimitedLog(1000, 2)
  t.is(r.allow(0), 0)
  t.is(r.allow(10), 0)
  t.is(r.allow(20), -1)
  t.is(r.allow(30), -1)
  t.is(r.allow(1000), 2)
  t.is(r.allow(1001), 0)
})
