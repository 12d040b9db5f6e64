/**
 * The peer's keep-warm timer (core/keep-warm.ts) with a real hub and in-process peers: it
 * runs while frames pass, leaves the real counters alone, and stops once the path is idle.
 */
import test from 'ava'
import { silentLogger } from '../../core/log.js'
import { WarmLoop } from '../../core/websocket/warm-loop.js'
import { marked, received, startHub, startPeer } from '../support/hub-fixture.js'
import { waitFor } from '../support/wait.js'

test('keep-warm runs the pass on scratch data while frames pass, then stops; off means no timer', async t => {
  const f = await startHub(t)
  const a = await startPeer(t, f, 'alice', 'friday', { keepWarmMs: 1 })
  const b = await startPeer(t, f, 'bob', 'friday', { keepWarmMs: 0 })
  b.tap.inject(marked(a.mac, b.mac, 1))
  await waitFor('unicast at alice', () => received(a, 1) === 1)
  a.tap.inject(marked(b.mac, a.mac, 2))
  await waitFor('unicast at bob', () => received(b, 2) === 1)
  const sent = a.peer.status().counters.sentFrames
  const tapRead = a.tap.counters.readFrames
  await waitFor('alice warmed her pass', () => a.peer.status().keepWarm.runs >= 20 && a.tap.warmCalls >= 20, 5000)
  t.is(a.peer.status().keepWarm.error, null)
  // Her frames went through the hub: the relay's loop (a loopback wss of her own) ran too.
  await waitFor('alice warmed her relay', () => a.peer.status().keepWarm.relay.echoes >= 20, 5000)
  t.like(a.peer.status().keepWarm.relay, { connected: true, error: null })
  t.is(b.peer.status().keepWarm.relay.echoes, 0)
  t.is(a.peer.status().counters.sentFrames, sent, 'scratch frames are not counted as sent')
  t.is(a.tap.counters.readFrames, tapRead, 'warm reads no frame of its own')
  t.is(received(b, 2), 1, 'nothing of the scratch pass reached the room')
  const stopped = await waitFor('alice stopped warming once idle', () => a.peer.status().keepWarm.running || a.peer.status().keepWarm.relay.running ? null : a.peer.status().keepWarm, 10_000)
  t.is(stopped.periodMs, 1)
  t.false(b.peer.status().keepWarm.running)
  t.is(b.peer.status().keepWarm.runs, 0, 'keepWarmMs 0: no timer at all')
  t.is(b.tap.warmCalls, 0)
  // The next frame starts it again.
  b.tap.inject(marked(a.mac, b.mac, 3))
  await waitFor('running again after a frame', () => a.peer.status().keepWarm.running)
})

test('the hub keeps its relay warm over a loopback WebSocket of its own while frames pass, then stops', async t => {
  const f = await startHub(t, { keepWarmMs: 1 })
  const a = await startPeer(t, f, 'alice', 'friday')
  const b = await startPeer(t, f, 'bob', 'friday')
  await waitFor('the loop is connected', () => f.hub.status().keepWarm?.connected)
  a.tap.inject(marked(b.mac, a.mac, 1))
  await waitFor('unicast at bob', () => received(b, 1) === 1)
  const counts = (): unknown => f.hub.status().rooms[0]!.peers.map(p => [p.rxFrames, p.txFrames])
  const before = counts()
  await waitFor('the hub warmed its relay', () => (f.hub.status().keepWarm?.runs ?? 0) >= 20 && (f.hub.status().keepWarm?.echoes ?? 0) >= 20, 5000)
  t.is(f.hub.status().keepWarm!.error, null)
  t.deepEqual(counts(), before, 'scratch messages are no room traffic')
  t.is(f.hub.status().rooms.length, 1)
  await waitFor('stopped once idle', () => f.hub.status().keepWarm?.running === false, 10_000)
  t.is(received(a, 1), 0)
})

test('a hub with keepWarmMs 0 opens no loop', async t => {
  const f = await startHub(t, { keepWarmMs: 0 })
  const a = await startPeer(t, f, 'alice', 'friday')
  const b = await startPeer(t, f, 'bob', 'friday')
  a.tap.inject(marked(b.mac, a.mac, 1))
  await waitFor('unicast at bob', () => received(b, 1) === 1)
  t.like(f.hub.status().keepWarm, { periodMs: 0, running: false, runs: 0, connected: false })
})

test('a warm loop that cannot listen turns itself off, never the hub; close() during start() settles both', async t => {
  // 192.0.2.1 (TEST-NET-1) is on no interface here: bind fails with EADDRNOTAVAIL, nothing is sent.
  const broken = new WarmLoop({ periodMs: 2, tls: null, log: silentLogger, offEvent: 'test.keep_warm_off', host: '192.0.2.1' })
  await broken.start()
  t.like(broken.status(), { connected: false, running: false })
  t.regex(broken.status().error ?? '', /EADDRNOTAVAIL|address/i)
  broken.touchBatch(Buffer.from([0, 60, 2, 0, 0, 0, 0, 2, ...new Array(58).fill(0)])) // a unicast batch
  t.false(broken.status().running, 'off for good')
  await broken.close()

  const racing = new WarmLoop({ periodMs: 2, tls: 'ephemeral', log: silentLogger, offEvent: 'test.keep_warm_off' })
  const started = racing.start()
  await racing.close()
  await Promise.race([started, new Promise((_resolve, reject) => setTimeout(() => { reject(new Error('start() did not settle after close()')) }, 5000).unref())])
  t.false(racing.status().connected)
})

test('a warm loop whose message is lost sends another after WARM_LOST_AFTER_MS and counts it, rather than waiting for good', async t => {
  let dropped = 0
  const loop = new WarmLoop({
    periodMs: 2,
    tls: null,
    log: silentLogger,
    offEvent: 'test.keep_warm_off',
    // The server end drops the first three messages, then echoes.
    echo: (conn, b, off, len) => { if (dropped < 3) dropped++; else conn.sendBinary(b, off, len) }
  })
  t.teardown(async () => { await loop.close() })
  await loop.start()
  const unicast = Buffer.from([0, 60, 2, 0, 0, 0, 0, 2, ...new Array(58).fill(0)])
  await waitFor('echoes again after the losses', () => { loop.touchBatch(unicast); return loop.status().echoes >= 5 }, 5000, 20)
  t.is(loop.status().lost, 3)
  t.is(loop.status().error, null)
})
