/**
 * Hubs in a cluster, for real: a PostgreSQL 15 started by the test, three hub processes (the
 * `hub` command from dist/, wss on 127.0.0.1, one shared certificate) and peers on in-memory TAPs
 * that know every hub. A peer that asks a hub that does not own its room is redirected; the
 * owner is killed with SIGKILL and the peers come back on another hub with the same IP and MAC;
 * a paused owner (SIGSTOP) that resumes switches nothing of the room it lost.
 */
import test from 'ava'
import pg from 'pg'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { freePort, getJson } from '../support/loopback.js'
import { tmpdir } from 'node:os'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { request } from 'node:https'
import { silentLogger } from '../../core/log.js'
import { MemoryHostOs, type MemoryTap } from '../../peer/os/memory.js'
import { Peer } from '../../peer/peer.js'
import { TestPostgres, postgresUnavailable } from '../support/postgres.js'
import { generateKeyPair, type KeyPair } from '../../core/keys.js'
import { decodeInvite } from '../../core/invite.js'
import { HUB } from '../support/overlay.js'
import { marked, peerSettings, TOKEN, type Fixture } from '../support/hub-fixture.js'
import { waitFor } from '../support/wait.js'
import { skipWithReason } from '../support/skip.js'

const skip = postgresUnavailable()
const serial = skip === null ? test.serial : test.serial.skip
if (skip !== null) skipWithReason('cluster tests', skip)

const db = new TestPostgres()
const dir = mkdtempSync(join(tmpdir(), 'overlan-cluster-'))

interface HubProc { name: string, port: number, url: string, child: ChildProcess, output: string, exited: Promise<number | null> }
const hubs = new Map<string, HubProc>()

const startHub = async (name: string, port?: number, extra: string[] = []): Promise<HubProc> => {
  const p = port ?? await freePort()
  const url = `wss://127.0.0.1:${p}`
  const child = spawn('node', [HUB, ...extra, '--listen', `127.0.0.1:${p}`, '--state', join(dir, name), '--token', TOKEN, '--store', db.url, '--public-url', url, '--udp-listen', 'off', '--log-level', 'debug'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const h: HubProc = { name, port: p, url, child, output: '', exited: new Promise(resolve => child.on('exit', (code) => { resolve(code) })) }
  child.stdout!.on('data', (d: Buffer) => { h.output += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { h.output += d.toString() })
  hubs.set(name, h)
  await waitFor(`${name} to start (${h.output.slice(-300)})`, () => h.output.includes('peer join --hub'), 20_000)
  return h
}

/** The dashboard feed's first snapshot (GET /events from loopback). */
const dashboardSnapshot = (h: HubProc): Promise<any> => new Promise((resolve, reject) => {
  const req = request({ host: '127.0.0.1', port: h.port, path: '/events', rejectUnauthorized: false, timeout: 5000 }, res => {
    let s = ''
    res.on('data', (d: Buffer) => {
      s += d.toString()
      const m = /^data: (.*)$/m.exec(s)
      if (m !== null) { req.destroy(); try { resolve(JSON.parse(m[1]!)) } catch (e) { reject(e) } }
    })
  })
  req.on('error', (e) => { if (!req.destroyed) reject(e) })
  req.end()
})

/** GET /status of a hub from loopback (allowed without the admin token). */
const hubStatus = async (h: HubProc): Promise<any> => await getJson(h.port, '/status', 3000)

interface P { peer: Peer, tap: MemoryTap, name: string }
const peers: P[] = []
const join_ = async (name: string, order: HubProc[], o: { key?: KeyPair, token?: string, invite?: string, room?: string } = {}): Promise<P> => {
  const os = new MemoryHostOs()
  const f = { url: order.map(h => h.url).join(','), dir, hub: { tls: { certFile: join(dir, 'a', 'tls', 'hub-cert.pem') } } } as unknown as Fixture
  const peer = new Peer(peerSettings(f, name, o.room ?? 'friday', { joinTimeoutMs: 30_000, keepaliveTimeoutMs: 4000, reconnectMinMs: 100, reconnectMaxMs: 500, ...(o.token !== undefined ? { token: o.token } : {}), ...(o.invite !== undefined ? { invite: o.invite } : {}) }),
    { os, log: silentLogger, identity: Buffer.from(name.padEnd(16, '-')).toString('hex'), ...(o.key !== undefined ? { key: o.key } : {}) })
  try { await peer.start() } catch (e) { await peer.stop(); throw e }
  const p = { peer, tap: os.taps.get(`ovl-${name}`)!, name }
  peers.push(p)
  return p
}

const delivered = async (from: P, to: P, marker: number): Promise<void> => {
  const mac = to.peer.status().mac!
  await waitFor(`a frame ${from.name} -> ${to.name}`, () => {
    from.tap.inject(marked(mac, from.peer.status().mac!, marker))
    return to.tap.written.some(f => f.length >= 60 && f[59] === marker)
  }, 10_000, 200)
}

if (skip === null) {
  test.before(async () => {
    await db.start()
    await startHub('a')
    // Every hub presents the same certificate (peers pin its key).
    cpSync(join(dir, 'a', 'tls'), join(dir, 'b', 'tls'), { recursive: true })
    cpSync(join(dir, 'a', 'tls'), join(dir, 'c', 'tls'), { recursive: true })
    await startHub('b')
    await startHub('c')
  })
  test.after.always(async () => {
    for (const p of peers) await p.peer.stop().catch(() => {})
    for (const h of hubs.values()) { h.child.kill('SIGCONT'); h.child.kill('SIGKILL'); await h.exited }
    await db.stop()
    rmSync(dir, { recursive: true, force: true })
  })
}

let alice: P, bob: P, carol: P
const carolKey = generateKeyPair()

serial('a peer that reaches a hub not owning its room is redirected to the owner, and the two switch frames', async t => {
  const [a, b] = [hubs.get('a')!, hubs.get('b')!]
  alice = await join_('alice', [b, a])
  t.is(alice.peer.status().hub, b.url, 'the first hub asked claims the room')
  bob = await join_('bob', [a, b])
  t.is(bob.peer.status().hub, b.url, 'redirected by a to the owner b')
  await delivered(alice, bob, 1)
  await delivered(bob, alice, 2)
  // The registry as of b's last heartbeat (every 2 s): all three hubs once c's first one is in.
  const st = await waitFor('b sees three live hubs', async () => { const x = await hubStatus(b); return x.cluster.hubs.filter((h: { alive: boolean }) => h.alive).length === 3 ? x : null }, 10_000, 200)
  t.deepEqual(st.cluster.owned.map((o: { room: string }) => o.room), ['friday'])
  t.deepEqual(st.cluster.hubs.map((h: { url: string }) => h.url).sort(), [a.url, b.url, hubs.get('c')!.url].sort())
  t.regex(a.output, /cluster\.redirect/)
  const snap = await dashboardSnapshot(b)
  t.like(snap.cluster, { owns: ['friday'], store: 'ok' }, 'the dashboard shows the cluster')
  t.is(snap.cluster.hubs.length, 3)
  // carol enrols her key with the token once; from then on she joins by her key alone.
  const first = await join_('carol', [a, b], { key: carolKey })
  await first.peer.stop()
  peers.splice(peers.indexOf(first), 1)
  carol = await join_('carol', [a, b], { key: carolKey, token: '' })
  t.is(carol.peer.status().hub, b.url)
  const c = new pg.Client(db.url)
  await c.connect()
  t.deepEqual((await c.query('SELECT name FROM overlan_members WHERE room = $1', ['friday'])).rows, [{ name: 'carol' }], 'the enrolment is in the store')
  await c.end()
})

serial('new rooms spread over the hubs: each goes to the hub with the fewest rooms', async t => {
  const [a, b, c] = [hubs.get('a')!, hubs.get('b')!, hubs.get('c')!]
  const owners: string[] = []
  for (const room of ['saturday', 'sunday']) {
    const os = new MemoryHostOs()
    const f = { url: a.url, dir, hub: { tls: { certFile: join(dir, 'a', 'tls', 'hub-cert.pem') } } } as unknown as Fixture
    const peer = new Peer(peerSettings(f, `${room}-peer`, room, { joinTimeoutMs: 20_000 }), { os, log: silentLogger, identity: randomBytes(16).toString('hex') })
    await peer.start()
    owners.push(peer.status().hub)
    await peer.stop()
  }
  t.deepEqual(new Set([b.url, ...owners]).size, 3, `friday on b, saturday and sunday on a and c: ${owners.join(' ')}`)
  const owned = await Promise.all([a, b, c].map(async h => (await hubStatus(h)).cluster.owned.length as number))
  t.deepEqual(owned, [1, 1, 1], 'one room each')
})

const hubCli = (args: string[]): Promise<{ code: number, out: string }> => new Promise(resolve => {
  execFile('node', [HUB, ...args], { timeout: 20_000 }, (e, out, err) => { resolve({ code: e === null ? 0 : Number((e as { code?: number }).code ?? 1), out: out + err }) })
})

serial('an invite made on a hub that does not own the room works on the owner, once', async t => {
  const [a, b] = [hubs.get('a')!, hubs.get('b')!]
  t.is(alice.peer.status().hub, b.url, 'b owns friday')
  const made = await hubCli(['invite', '--room', 'friday', '--state', join(dir, 'a'), '--uses', '1'])
  t.is(made.code, 0, made.out)
  const inv = decodeInvite(/overlan:\/\/\S+/.exec(made.out)![0].replace(/'$/, ''))
  const dave = await join_('dave', [b], { key: generateKeyPair(), token: '', invite: `${inv.id}.${inv.secret}` })
  t.is(dave.peer.status().state, 'connected')
  const e = await t.throwsAsync(join_('erin', [b], { key: generateKeyPair(), token: '', invite: `${inv.id}.${inv.secret}` }))
  t.regex(String(e), /INVITE_INVALID/, 'one use only, counted in the store')
  t.truthy(a)
})

serial('admin commands on a hub that does not own the room run on the owner: peers lists its members, a ban ends the session at once', async t => {
  const c = hubs.get('c')!
  t.not(alice.peer.status().hub, c.url, 'c does not own friday')
  const listed = await hubCli(['peers', '--room', 'friday', '--state', join(dir, 'c'), '--json'])
  t.is(listed.code, 0, listed.out)
  t.deepEqual((JSON.parse(listed.out) as Array<{ name: string }>).map(p => p.name).sort(), ['alice', 'bob', 'carol', 'dave'])
  const dave = peers.find(p => p.name === 'dave')!
  const at = Date.now()
  const banned = await hubCli(['ban', 'dave', '--room', 'friday', '--state', join(dir, 'c')])
  t.is(banned.code, 0, banned.out)
  const e = await dave.peer.done.then(() => undefined, (x: unknown) => x as { code?: string })
  t.is(e?.code, 'BANNED')
  t.log(`dave's session ended ${Date.now() - at} ms after \`hub ban\` on a non-owner (CLI start included)`)
  t.regex(hubs.get('b')!.output, /audit\.ban .*via hub/, 'the owner ran it and says from where')
  const unknown = await hubCli(['kick', 'nobody', '--room', 'friday', '--state', join(dir, 'c')])
  t.not(unknown.code, 0)
  t.regex(unknown.out, /nobody.*answered by wss:\/\/127\.0\.0\.1:\d+, the room's owner/s, 'the owner\'s refusal, named as such')
  peers.splice(peers.indexOf(dave), 1)
})

serial('PostgreSQL restarts while two peers exchange frames: switching goes on, nothing is lost, the hub notices both ways', async t => {
  const owner = [...hubs.values()].find(h => h.url === alice.peer.status().hub)!
  await db.down()
  const downAt = Date.now()
  await waitFor('the owner notices the store is gone', () => /cluster\.store_unreachable/.test(owner.output), 10_000)
  for (let i = 0; i < 5; i++) { await delivered(alice, bob, 10 + i); await delivered(bob, alice, 20 + i) }
  await db.up()
  t.log(`PostgreSQL down for ${Date.now() - downAt} ms`)
  await waitFor('the owner is back on the store', () => /cluster\.store_back/.test(owner.output), 10_000)
  await waitFor('its admin relay listens again', () => (owner.output.match(/cluster\.admin_listening/g) ?? []).length >= 2, 10_000)
  await delivered(alice, bob, 30)
  t.is(alice.peer.status().counters.reconnects + bob.peer.status().counters.reconnects, 0, 'no peer noticed')
})

serial('kill -9 of the owner: all peers are back on the other hub with the same IP and MAC within 20 s, the enrolled one by its key alone', async t => {
  const [a, b] = [hubs.get('a')!, hubs.get('b')!]
  const before = { alice: alice.peer.status(), bob: bob.peer.status() }
  const killed = Date.now()
  b.child.kill('SIGKILL')
  await b.exited
  for (const p of [alice, bob, carol]) {
    await waitFor(`${p.name} back on a`, () => { const s = p.peer.status(); return s.state === 'connected' && s.hub === a.url }, 25_000, 100)
      .catch((e: Error) => { throw new Error(`${e.message}: ${JSON.stringify({ state: p.peer.status().state, hub: p.peer.status().hub, lastError: p.peer.status().lastError })} ${a.output.split('\n').filter(l => l.includes('carol') || l.includes('member') || l.includes('room_') || l.includes('refused')).slice(-12).join(' | ')}`) })
  }
  const ms = Date.now() - killed
  t.log(`all three peers re-joined on hub a ${ms} ms after the kill (carol by her key alone: the enrolment is shared)`)
  t.true(ms <= 20_000, `took ${ms} ms`)
  for (const [p, b0] of [[alice, before.alice], [bob, before.bob]] as const) {
    const s = p.peer.status()
    t.is(s.address, b0.address)
    t.is(s.mac, b0.mac)
  }
  await delivered(alice, bob, 3)
  t.regex(a.output, /room_taken_over/)
})

serial('SIGSTOP of the owner for 20 s: the room moves; resumed, the old owner switches nothing of it and drops its peers', async t => {
  const a = hubs.get('a')!
  const b = await startHub('b', hubs.get('b')!.port)
  await delivered(alice, bob, 6)
  const switchedBefore = (await hubStatus(a)).rooms.find((r: { name: string }) => r.name === 'friday').switch.unicast as number
  t.true(switchedBefore > 0)
  a.child.kill('SIGSTOP')
  const stopped = Date.now()
  try {
    for (const p of [alice, bob]) {
      await waitFor(`${p.name} moved to b`, () => { const s = p.peer.status(); return s.state === 'connected' && s.hub === b.url }, 30_000, 100)
    }
    t.log(`peers on b ${Date.now() - stopped} ms after the pause`)
    await delivered(alice, bob, 4)
    const wait = 20_000 - (Date.now() - stopped)
    if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait)) // the pause is the scenario, not a synchronisation
  } finally {
    a.child.kill('SIGCONT')
  }
  const line = await waitFor('a drops friday', () => /cluster\.room_dropped room=friday .*switchedUnicast=(\d+) droppedAfterFence=(\d+)/.exec(a.output), 10_000)
  t.log(line[0])
  t.is(Number(line[1]), switchedBefore, 'between the pause and the drop, a switched no frame of friday (its fence had run out)')
  const st = await hubStatus(a)
  t.false(st.cluster.owned.some((o: { room: string }) => o.room === 'friday'), 'a no longer owns friday')
  t.is(st.rooms.find((r: { name: string }) => r.name === 'friday')?.peers.length ?? 0, 0, 'and serves none of its peers')
  await delivered(alice, bob, 5)
})

serial('a configured room runs as configured on whichever hub claims it: its settings come from the store', async t => {
  // Hub d has room "lan" in its hub.yaml (own token, subnet, MTU); a, b and c do not.
  mkdirSync(join(dir, 'd'), { recursive: true })
  cpSync(join(dir, 'a', 'tls'), join(dir, 'd', 'tls'), { recursive: true })
  writeFileSync(join(dir, 'd.yaml'), 'autoCreateRooms: true\nrooms:\n  lan:\n    token: lan-party-token\n    subnet: 10.88.0.0/24\n    mtu: 1300\n')
  const d = await startHub('d', undefined, ['--config', join(dir, 'd.yaml')])
  t.regex(d.output, /cluster\.room_settings_published room=lan/)
  d.child.kill('SIGTERM') // a clean stop: d leaves the registry, so another hub must take "lan"
  await d.exited
  hubs.delete('d')
  const a = hubs.get('a')!
  const lan = await join_('lan-1', [a], { token: 'lan-party-token', room: 'lan' })
  const st = lan.peer.status()
  t.regex(st.address ?? '', /^10\.88\.0\.\d+\/24$/, 'the configured subnet')
  t.is(st.mtu, 1300, 'the configured MTU')
  const wrong = await t.throwsAsync(join_('lan-2', [a], { token: TOKEN, room: 'lan' }))
  t.regex(String(wrong), /AUTH_FAILED/, 'the auto rooms\' token does not open a configured room')
})

serial('a cluster hub with auto rooms refuses to start on a token of its own making (the next owner would refuse it)', async t => {
  const r = await hubCli(['--listen', '127.0.0.1:0', '--state', join(dir, 'no-token'), '--store', db.url, '--udp-listen', 'off'])
  t.not(r.code, 0)
  t.regex(r.out, /CONFIG_INVALID.*needs the join token given/)
})
