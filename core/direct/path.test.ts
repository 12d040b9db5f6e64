/** The direct path's state machine over injected time: probing, checking, direct, loss, backoff. */
import test from 'ava'
import { BACKOFF_MAX_MS, FAST_ATTEMPTS, HEARTBEAT_MS, LOST_AFTER_MS, MTU_RECHECK_EVERY, PUNCH_LEAD_MS, PathTimers, RETRY_MS, retryDelay } from './path.js'

/** Timers with candidates and a session established at 0 (state checking). */
const established = (): PathTimers => { const p = new PathTimers(); p.setCandidates(true, true, 0); p.onEstablished(0); return p }
/** The same, and the full-size pong at `pongAt`: direct. */
const up = (pongAt: number): PathTimers => { const p = established(); p.onFullPong(pongAt); return p }

test('retry schedule: FAST_ATTEMPTS at RETRY_MS, then doubling, capped at BACKOFF_MAX_MS', t => {
  for (let n = 1; n <= FAST_ATTEMPTS; n++) t.is(retryDelay(n), RETRY_MS)
  t.is(retryDelay(FAST_ATTEMPTS + 1), 2 * RETRY_MS)
  t.is(retryDelay(FAST_ATTEMPTS + 2), 4 * RETRY_MS)
  t.is(retryDelay(100), BACKOFF_MAX_MS)
})

test('no candidates: off, nothing to do; candidates: a punch at once, the handshake PUNCH_LEAD_MS later, then on the schedule', t => {
  const p = new PathTimers()
  t.false(p.due(0, false, false).punch)
  p.setCandidates(true, true, 1000)
  t.is(p.state, 'probing')
  let d = p.due(1000, false, false)
  t.true(d.punch)
  t.false(d.handshake, 'the first attempt only punches')
  p.onAttempt(1000)
  t.false(p.due(1000 + PUNCH_LEAD_MS - 1, false, false).punch)
  d = p.due(1000 + PUNCH_LEAD_MS, false, false)
  t.true(d.punch && d.handshake)
  p.onAttempt(1000 + PUNCH_LEAD_MS)
  t.false(p.due(1000 + PUNCH_LEAD_MS + RETRY_MS - 1, false, false).handshake)
  t.true(p.due(1000 + PUNCH_LEAD_MS + RETRY_MS, false, false).handshake)
  // Unchanged candidates do not reset the schedule; changed ones probe again at once.
  p.onAttempt(2000)
  p.setCandidates(true, false, 2100)
  t.false(p.due(2100, false, false).punch)
  p.setCandidates(true, true, 2200)
  t.true(p.due(2200, false, false).punch)
  p.setCandidates(false, true, 2300)
  t.is(p.state, 'off')
})

test('established -> checking (full-size pings) -> direct on the full pong; heartbeats every HEARTBEAT_MS, every MTU_RECHECK_EVERY-th full', t => {
  const p = new PathTimers()
  p.setCandidates(true, true, 0)
  p.onAttempt(0)
  p.onEstablished(10)
  t.is(p.state, 'checking')
  let d = p.due(10, true, false)
  t.true(d.ping)
  t.true(d.full)
  t.false(d.handshake)
  p.onFullPong(12)
  t.is(p.state, 'direct')
  t.is(p.ups, 1)
  let full = 0
  for (let i = 1; i <= MTU_RECHECK_EVERY * 2; i++) {
    const at = 10 + i * HEARTBEAT_MS
    p.onAuthenticated(at - 1)
    d = p.due(at, true, false)
    t.true(d.ping, `heartbeat ${i}`)
    if (d.full) full++
  }
  t.is(full, 2)
  t.false(p.due(10 + 20 * HEARTBEAT_MS + 1, true, false).ping, 'not twice within HEARTBEAT_MS')
})

test('silence for LOST_AFTER_MS: back to probing at once (frames go through the hub), counted as a loss', t => {
  const p = up(1)
  t.is(p.state, 'direct')
  p.due(LOST_AFTER_MS, true, false)
  t.is(p.state, 'direct', 'heard at 1 ms: not yet')
  const d = p.due(1 + LOST_AFTER_MS, true, false)
  t.is(p.state, 'probing')
  t.true(d.punch, 'retries at once')
  t.is(p.downs, 1)
  t.is(p.lostAt, 1 + LOST_AFTER_MS)
})

test('a full-size ping that never returns keeps the path out of direct (MTU too small), then it counts as lost', t => {
  const p = established()
  for (let at = 0; at < LOST_AFTER_MS; at += HEARTBEAT_MS) { t.true(p.due(at, true, false).full); p.onAuthenticated(at) }
  t.is(p.state, 'checking')
  p.due(LOST_AFTER_MS * 3, true, false)
  t.is(p.state, 'probing')
  t.is(p.downs, 0, 'never was direct')
})

test('rekey: a handshake while the path stays direct', t => {
  const p = up(0)
  p.onAuthenticated(500)
  const d = p.due(500, true, true)
  t.true(d.handshake)
  t.is(p.state, 'direct')
})

test('a full-size ping lost on a direct path: back to checking (frames through the hub) until a full pong', t => {
  const p = up(0)
  p.onFullPingLost()
  t.is(p.state, 'checking')
  t.true(p.due(HEARTBEAT_MS, true, false).full, 'checking probes full size')
  p.onFullPong(HEARTBEAT_MS + 1)
  t.is(p.state, 'direct')
})
