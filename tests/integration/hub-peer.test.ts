/**
 * In-process integration: a real hub over TLS on 127.0.0.1 (real ws, real https) and
 * real Peer engines whose TAPs are in memory. Covers learning, flooding, room isolation,
 * refusals, reconnect with stable leases, keepalive and protocol abuse.
 */
import test from 'ava'
import { get, request } from 'node:https'
import { WebSocket } from 'ws'
import { silentLogger } from '../../core/log.js'
import { encodeBatch } from '../../core/protocol.js'
import { OverlanError } from '../../core/errors.js'
import { MemoryHostOs } from '../../peer/os/memory.js'
import { Peer } from '../../peer/peer.js'
import type { PeerSettings } from '../../peer/config.js'
import { BROADCAST, ipv4, ipv4Frame, mac, udp4Frame } from '../support/frames.js'
import { TOKEN, helloFor, marked, opened, peerSettings, raw, received, startHub, startPeer } from '../support/hub-fixture.js'
import { ARP_REQUEST, writeArpFrame } from '../../l2/arp.js'
import { MAC_BROADCAST } from '../../l2/ethernet.js'
import { waitFor } from '../support/wait.js'

test('frames are switched within a room: flooding, learning, isolation', async t => {
  const f = await startHub(t)
  const a = await startPeer(t, f, 'alice', 'friday')
  const b = await startPeer(t, f, 'bob', 'friday')
  const d = await startPeer(t, f, 'dave', 'friday')
  const c = await startPeer(t, f, 'carol', 'saturday')
  t.deepEqual([a.ip, b.ip, d.ip, c.ip], ['10.77.0.1', '10.77.0.2', '10.77.0.3', '10.77.0.1'])
  t.true(b.peer.status().members.some(m => m.name === 'alice'), 'bob saw alice')

  a.tap.inject(marked(BROADCAST, a.mac, 1))
  await waitFor('broadcast at bob and dave', () => received(b, 1) === 1 && received(d, 1) === 1)

  b.tap.inject(marked(a.mac, b.mac, 2))
  await waitFor('unicast at alice', () => received(a, 2) === 1)

  // Unknown unicast floods; a batch with mixed decisions is split per destination.
  a.tap.inject(marked('02:99:99:99:99:99', a.mac, 3), marked(b.mac, a.mac, 4), marked(d.mac, a.mac, 5))
  await waitFor('mixed batch delivered', () => received(b, 3) === 1 && received(d, 3) === 1 && received(b, 4) === 1 && received(d, 5) === 1)
  t.is(received(d, 4), 0, 'known unicast to bob never reaches dave')
  t.is(received(b, 5), 0)

  // Carol floods her room; nothing crosses to friday, and friday's broadcasts never reach her.
  c.tap.inject(marked(BROADCAST, c.mac, 6), marked(a.mac, c.mac, 7))
  a.tap.inject(marked(BROADCAST, a.mac, 8))
  await waitFor('bob got the later friday broadcast', () => received(b, 8) === 1)
  for (const p of [a, b, d]) { t.is(received(p, 6), 0); t.is(received(p, 7), 0) }
  const fromFriday = new Set([a.mac, b.mac, d.mac].map(m => m.replaceAll(':', '')))
  t.is(c.tap.written.filter(f => fromFriday.has(f.toString('hex', 6, 12))).length, 0, 'carol received nothing from friday')
  t.is(received(a, 1), 0, 'no frame goes back out of its ingress port')

  // A peer may not send from someone else's MAC.
  d.tap.inject(marked(BROADCAST, a.mac, 9))
  a.tap.inject(marked(BROADCAST, a.mac, 10))
  await waitFor('later broadcast', () => received(b, 10) === 1)
  t.is(received(b, 9), 0)
  const room = f.hub.status().rooms.find(r => r.name === 'friday')!
  t.is(room.switch.drops.src_not_leased, 1)
  t.is(room.peers.length, 3)
})

test('refusals carry stable codes: token, room, address', async t => {
  const f = await startHub(t)
  await startPeer(t, f, 'alice', 'friday', { address: '10.77.0.50' })
  const attempt = async (name: string, extra: Partial<PeerSettings>): Promise<string | undefined> => {
    const os = new MemoryHostOs()
    const p = new Peer(peerSettings(f, name, 'friday', extra), { os, log: silentLogger, identity: Buffer.from(name.padEnd(16, '-')).toString('hex') })
    const e = await t.throwsAsync(p.start(), { instanceOf: OverlanError })
    t.true(os.taps.get(`ovl-${name}`)!.closed, 'TAP removed after a refusal')
    return e?.code
  }
  t.is(await attempt('mallory', { token: 'wrong-token' }), 'AUTH_FAILED')
  t.is(await attempt('bob', { address: '10.77.0.50' }), 'ADDRESS_UNAVAILABLE')
  t.is(await attempt('bob2', { address: '10.99.0.1' }), 'ADDRESS_UNAVAILABLE')
  t.is(await attempt('eve', { insecure: false, caFile: undefined }), 'TLS_FAILED')
  t.is(await attempt('zed', { hub: 'wss://127.0.0.1:1', joinTimeoutMs: 300 }), 'HUB_UNREACHABLE')
})

test('configured rooms: an unknown room is refused like a wrong token (no enumeration); room full', async t => {
  const f = await startHub(t, { rooms: { friday: { token: TOKEN, maxPeers: 1 } } })
  await startPeer(t, f, 'alice', 'friday')
  const os = new MemoryHostOs()
  const full = new Peer(peerSettings(f, 'bob', 'friday'), { os, log: silentLogger, identity: 'b'.repeat(32) })
  t.is((await t.throwsAsync(full.start(), { instanceOf: OverlanError }))?.code, 'ROOM_FULL')
  const unknown = new Peer(peerSettings(f, 'bob', 'sunday'), { os: new MemoryHostOs(), log: silentLogger, identity: 'b'.repeat(32) })
  const e = await t.throwsAsync(unknown.start(), { instanceOf: OverlanError })
  t.is(e?.code, 'AUTH_FAILED')
  t.is(e?.message, 'wrong join token, or no room sunday on this hub')
})

test('after a hub restart peers come back with the same MAC and IP and traffic flows', async t => {
  const f = await startHub(t)
  const a = await startPeer(t, f, 'alice', 'friday')
  const b = await startPeer(t, f, 'bob', 'friday')
  await f.restart()
  await waitFor('both reconnected', () => a.peer.status().state === 'connected' && b.peer.status().state === 'connected' &&
    f.hub.status().rooms[0]?.peers.length === 2, 10_000)
  t.is(a.peer.status().mac, a.mac)
  t.is(a.peer.status().address, `${a.ip}/24`)
  t.is(b.peer.status().address, `${b.ip}/24`)
  t.is(a.peer.status().counters.reconnects, 1, 'one outage, however many attempts it took')
  a.tap.inject(marked(b.mac, a.mac, 1))
  await waitFor('unicast after restart', () => received(b, 1) === 1)
})

test('protocol abuse gets an error code and a close code, never a crash', async t => {
  const f = await startHub(t)

  const badJson = raw(f); await opened(badJson); badJson.ws.send('{nope')
  t.is(await badJson.closed, 4000)
  t.regex(badJson.messages[0] ?? '', /"code":"BAD_MESSAGE"/)

  const early = raw(f); await opened(early); early.ws.send(Buffer.from([0, 14, ...Buffer.alloc(14)]))
  t.is(await early.closed, 4000)

  const version = raw(f); await opened(version); version.ws.send(helloFor('v2', { version: 2 }))
  t.is(await version.closed, 4004)
  t.regex(version.messages[0] ?? '', /PROTOCOL_VERSION/)

  const wrongToken = raw(f); await opened(wrongToken); wrongToken.ws.send(helloFor('x', { token: 'nope-nope-nope' }))
  t.is(await wrongToken.closed, 4001)

  const noProto = raw(f, [])
  t.is(await noProto.closed, 1006, 'upgrade without the overlan subprotocol is refused with HTTP 400')

  // A joined client sending a malformed batch: counted, connection kept.
  const ok = raw(f); await opened(ok); ok.ws.send(helloFor('okay'))
  await waitFor('welcome', () => ok.messages.some(m => m.includes('"welcome"')))
  ok.ws.send(Buffer.from([0xff, 0xff, 1, 2, 3]))
  ok.ws.send(encodeBatch([Buffer.alloc(20000)])) // oversize for MTU 1400
  await waitFor('bad batch counted', () => f.hub.status().rooms[0]!.peers[0]!.drops.bad_batch === 1)
  await waitFor('oversize counted', () => f.hub.status().rooms[0]!.switch.drops.oversize === 1)
  t.is(ok.ws.readyState, WebSocket.OPEN)

  // A message over the 256 KiB limit closes with 1009 (ws maxPayload).
  ok.ws.send(Buffer.alloc(300 * 1024))
  t.is(await ok.closed, 1009)
  await waitFor('room empty again', () => f.hub.status().rooms[0]!.peers.length === 0)
})

test('a silent peer is dropped by keepalive and its MACs removed', async t => {
  const f = await startHub(t, { keepaliveIntervalS: 1, keepaliveTimeoutS: 2 })
  const c = raw(f); await opened(c); c.ws.send(helloFor('ghost'))
  await waitFor('welcome', () => c.messages.some(m => m.includes('"welcome"')))
  t.is(f.hub.status().rooms[0]!.switch.fdbSize, 1)
  // Stop reading: pings go unanswered, as with a peer whose link died.
  ;(c.ws as unknown as { _socket: { pause: () => void } })._socket.pause()
  await waitFor('ghost dropped', () => f.hub.status().rooms[0]!.peers.length === 0, 6000)
  t.is(f.hub.status().rooms[0]!.switch.fdbSize, 0)
  c.ws.terminate()
})

test('a hub that was itself stalled does not drop peers whose pongs wait unread in its sockets', async t => {
  const f = await startHub(t, { keepaliveIntervalS: 1, keepaliveTimeoutS: 2 })
  const c = raw(f); await opened(c); c.ws.send(helloFor('patient'))
  await waitFor('welcome', () => c.messages.some(m => m.includes('"welcome"')))
  // The whole process stalls for 3.5 s (as under SIGSTOP or a VM pause): the stall is the scenario.
  await new Promise<void>(resolve => setTimeout(() => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3500); resolve() }, 10))
  const seen = f.hub.status().rooms[0]!.peers.length
  let pings = 0
  c.ws.on('ping', () => { pings++ })
  // Two more rounds judge from the pongs read after the stall.
  await waitFor('two keepalive rounds after the stall', () => pings >= 2, 5000, 50)
  t.is(seen, 1, 'the late round judged no one')
  t.is(f.hub.status().rooms[0]!.peers.length, 1, 'still in the room')
  c.ws.terminate()
})

test('GET /healthz answers; /status is loopback or admin token only', async t => {
  const f = await startHub(t)
  const fetchJson = (path: string): Promise<{ status: number, body: Record<string, unknown> }> => new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port: f.port, path, ca: f.hub.tls!.cert }, res => {
      let s = ''
      res.on('data', (d: Buffer) => { s += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: JSON.parse(s) as Record<string, unknown> }) })
    }).on('error', reject)
  })
  const h = await fetchJson('/healthz')
  t.is(h.status, 200)
  t.like(h.body, { status: 'ok', rooms: 0, peers: 0 })
  t.is((await fetchJson('/status')).status, 200)
  t.is((await fetchJson('/nope')).status, 404)
})

test('peers announce themselves on join; ARP for a known peer is answered by the hub', async t => {
  const f = await startHub(t)
  const a = await startPeer(t, f, 'alice', 'friday')
  const b = await startPeer(t, f, 'bob', 'friday')
  const d = await startPeer(t, f, 'dave', 'friday')
  const isGarpFrom = (fr: Buffer, m: string): boolean => fr.readUInt16BE(12) === 0x0806 && fr.toString('hex', 6, 12) === m.replaceAll(':', '') && fr.readUInt32BE(28) === fr.readUInt32BE(38)
  await waitFor('alice saw the gratuitous ARPs of bob and dave', () => a.tap.written.some(fr => isGarpFrom(fr, b.mac)) && a.tap.written.some(fr => isGarpFrom(fr, d.mac)))

  const req = Buffer.alloc(60)
  writeArpFrame(req, 0, ARP_REQUEST, MAC_BROADCAST, mac(a.mac), ipv4(a.ip), 0, ipv4(b.ip))
  const before = { b: b.tap.written.length, d: d.tap.written.length }
  a.tap.inject(req)
  const reply = await waitFor('ARP reply', () => a.tap.written.find(fr => fr.readUInt16BE(12) === 0x0806 && fr.readUInt16BE(20) === 2))
  t.is(reply.toString('hex', 6, 12), b.mac.replaceAll(':', ''), 'answered with bob\'s MAC')
  t.is(reply.readUInt32BE(28), ipv4(b.ip))
  const isRequest = (fr: Buffer): boolean => fr.readUInt16BE(12) === 0x0806 && fr.readUInt16BE(20) === 1 && fr.readUInt32BE(38) === ipv4(b.ip)
  t.false(b.tap.written.slice(before.b).some(isRequest), 'the request never reached bob')
  t.false(d.tap.written.slice(before.d).some(isRequest), 'nor dave')
  const room = f.hub.status().rooms[0]!
  t.is(room.switch.arpReplies, 1)
  t.true(room.peers.find(p => p.name === 'alice')!.byClass.frames.arp! >= 2)
})

test('multicast reaches the peer that joined the group and not the one that did not', async t => {
  const f = await startHub(t)
  const a = await startPeer(t, f, 'alice', 'friday')
  const b = await startPeer(t, f, 'bob', 'friday')
  const d = await startPeer(t, f, 'dave', 'friday')
  const report = Buffer.alloc(8)
  report[0] = 0x16
  report.writeUInt32BE(ipv4('239.1.2.3'), 4)
  b.tap.inject(ipv4Frame('01:00:5e:01:02:03', b.mac, b.ip, '239.1.2.3', 2, report, { ttl: 1 }))
  await waitFor('membership learned', () => f.hub.status().rooms[0]!.switch.memberships === 1)
  const payload = Buffer.from('group-data-xyz')
  a.tap.inject(udp4Frame('01:00:5e:01:02:03', a.mac, a.ip, '239.1.2.3', 5000, 5000, payload))
  a.tap.inject(udp4Frame(BROADCAST, a.mac, a.ip, '255.255.255.255', 5000, 5001, Buffer.from('later-broadcast')))
  await waitFor('bob got the group data and the later broadcast', () =>
    b.tap.written.some(fr => fr.includes(payload)) && b.tap.written.some(fr => fr.includes('later-broadcast')))
  await waitFor('dave got the later broadcast', () => d.tap.written.some(fr => fr.includes('later-broadcast')))
  t.false(d.tap.written.some(fr => fr.includes(payload)), 'dave did not join: no group data')
  t.false(d.tap.written.some(fr => fr.readUInt16BE(12) === 0x0800 && fr[23] === 2 && fr[34] === 0x16), 'reports are not flooded')
  const g = f.hub.status().rooms[0]!.groups
  t.deepEqual(g, [{ group: '01:00:5e:01:02:03', members: ['bob'] }])
  t.deepEqual(b.peer.status().receivedByClass.frames.multicast, 1)
})

test('impairment from hub.yaml and the admin API: delay towards a peer, loss counted, cleared at run time', async t => {
  const f = await startHub(t, { rooms: { friday: { token: TOKEN, impairment: { peers: { bob: { delayMs: 150 } } } } } })
  const a = await startPeer(t, f, 'alice', 'friday')
  const b = await startPeer(t, f, 'bob', 'friday')
  let start = Date.now()
  a.tap.inject(marked(b.mac, a.mac, 1))
  await waitFor('delayed frame', () => received(b, 1) === 1)
  t.true(Date.now() - start >= 140, 'configured per-peer delay applied')
  start = Date.now()
  b.tap.inject(marked(a.mac, b.mac, 2))
  await waitFor('undelayed frame', () => received(a, 2) === 1)
  t.true(Date.now() - start < 140, 'only frames towards bob are delayed')

  const put = async (body: unknown): Promise<number> => await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: f.port, path: '/admin/impairment', method: 'PUT', headers: { 'content-type': 'application/json' }, ca: f.hub.tls!.cert }, res => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
  t.is(await put({ room: 'friday', lossPercent: 100 }), 200)
  t.is(await put({ room: 'friday', peer: 'bob' }), 200, 'bob now follows the room setting')
  t.is(await put({ room: 'nope' }), 404)
  t.is(await put({ room: 'friday', lossPercent: 200 }), 400)
  a.tap.inject(marked(b.mac, a.mac, 3))
  await waitFor('loss counted', () => f.hub.status().rooms[0]!.peers.find(p => p.name === 'bob')!.drops.impaired_loss! >= 1)
  t.is(received(b, 3), 0)
  t.deepEqual(f.hub.status().rooms[0]!.impairment, { room: { delayMs: 0, jitterMs: 0, lossPercent: 100 }, peers: {} })
  t.is(await put({ room: 'friday' }), 200)
  a.tap.inject(marked(b.mac, a.mac, 4))
  await waitFor('cleared', () => received(b, 4) === 1)
})

test('the member list is kept current by the hub (joins and leaves pushed), with RTTs both ways', async t => {
  const f = await startHub(t, { keepaliveIntervalS: 1 })
  const a = await startPeer(t, f, 'alice', 'friday')
  t.deepEqual(a.peer.status().members, [], 'alone at join')
  const b = await startPeer(t, f, 'bob', 'friday')
  await waitFor('bob pushed to alice', () => a.peer.status().members.some(m => m.name === 'bob' && m.path === 'relay'), 5000)
  await waitFor('RTTs measured', () => a.peer.status().hubRtt.samples > 0 && (f.hub.status().rooms[0]!.peers.every(p => p.rtt.samples > 0)), 8000)
  await waitFor('the relay RTT of bob', () => a.peer.status().members.find(m => m.name === 'bob')?.rttMs !== null, 15_000)
  const bob = a.peer.status().members.find(m => m.name === 'bob')!
  t.true(bob.rttMs! > 0 && bob.rttMs! < 1000, `${bob.rttMs}`)
  t.true(typeof bob.since === 'number')
  await b.peer.stop()
  await waitFor('bob\'s leave pushed', () => a.peer.status().members.length === 0, 5000)
})

test('peer test: idle RTT, then RTT while saturating the upload and the download through the hub; throughput and a grade', async t => {
  const f = await startHub(t)
  const a = await startPeer(t, f, 'alice', 'friday')
  const b = await startPeer(t, f, 'bob', 'friday')
  const before = b.tap.written.length
  const r = await a.peer.speedTest(1500)
  t.true(r.up.mbit > 1 && r.down.mbit > 1, `up ${r.up.mbit} down ${r.down.mbit} Mbit/s`)
  t.true(Number.isFinite(r.idle.medianMs) && r.idle.medianMs > 0)
  t.true(r.up.medianMs >= 0 && r.down.p95Ms >= r.down.medianMs)
  t.regex(r.grade, /^(A\+|A|B|C|D|F)$/)
  t.is(a.tap.written.filter(x => x.readUInt16BE(12) === 0x88b5 && x.length === 1414).length, 0, 'the download filler never reached the TAP')
  t.is(b.tap.written.length - before, b.tap.written.filter((x, i) => i >= before && x.readUInt16BE(12) !== 0x88b5).length, 'nothing of the test reached another peer')
  t.log(`idle ${r.idle.medianMs.toFixed(2)} ms; up ${r.up.mbit.toFixed(0)} Mbit/s +${r.up.addedMs.toFixed(1)} ms; down ${r.down.mbit.toFixed(0)} Mbit/s +${r.down.addedMs.toFixed(1)} ms; grade ${r.grade}`)
})

test('joinTimeoutS holds even when the hub accepts TCP and never answers TLS', async t => {
  const { createServer } = await import('node:net')
  const held: import('node:net').Socket[] = []
  const silent = createServer(c => { held.push(c) }) // accepts, says nothing
  await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', () => { resolve() }))
  t.teardown(() => { for (const c of held) c.destroy(); silent.close() })
  const port = (silent.address() as { port: number }).port
  const f = await startHub(t)
  const p = new Peer(peerSettings(f, 'alice', 'friday', { hub: `wss://127.0.0.1:${port}`, joinTimeoutMs: 1500 }), { os: new MemoryHostOs(), log: silentLogger, identity: 'c'.repeat(32) })
  const start = Date.now()
  const e = await t.throwsAsync(p.start(), { instanceOf: OverlanError })
  t.is(e?.code, 'HUB_UNREACHABLE')
  t.true(Date.now() - start < 4500, `gave up after ${Date.now() - start} ms for a 1.5 s timeout (one more try after it would be 3.5 s and more)`)
})

test('the direct path\'s rendezvous: the hub\'s UDP reflector tells a peer its reflexive address; members carry their keys', async t => {
  const f = await startHub(t)
  const { generateKeyPair } = await import('../../core/keys.js')
  const a = await startPeer(t, f, 'alice', 'friday', { directPath: true }, { key: generateKeyPair() })
  const bobKey = generateKeyPair()
  const b = await startPeer(t, f, 'bob', 'friday', { directPath: true }, { key: bobKey })
  await waitFor('alice\'s reflexive address', () => a.peer.status().direct.reflexive !== null, 5000)
  const d = a.peer.status().direct
  t.is(d.reflexive, `127.0.0.1:${d.localPort!}`)
  t.is(f.hub.status().udp?.port, f.port, 'UDP on the WebSocket\'s port by default')
  // A hub named by a host name (as most are): the reflector is asked at its resolved address.
  const c = await startPeer(t, f, 'carol', 'friday', { directPath: true, hub: f.url.replace('127.0.0.1', 'localhost'), caFile: undefined, insecure: true }, { key: generateKeyPair() })
  await waitFor('carol\'s reflexive address through a hub named localhost', () => c.peer.status().direct.reflexive !== null, 5000)
  await waitFor('bob\'s key pushed to alice', () => a.peer.status().members.find(m => m.name === 'bob')?.key !== undefined, 5000)
  t.is(a.peer.status().members.find(m => m.name === 'bob')!.key, bobKey.publicKey)
  t.truthy(b)
  const { createSocket } = await import('node:dgram')
  const s = createSocket('udp4')
  t.teardown(() => { s.close() })
  await new Promise<void>(resolve => s.bind(0, '127.0.0.1', () => { resolve() }))
  for (let i = 0; i < 5; i++) s.send(Buffer.from('OVL1\u0001short'), f.port, '127.0.0.1')
  await waitFor('short requests dropped, not answered', () => (f.hub.status().udp?.drops.bad_packet ?? 0) >= 5, 3000)
})
