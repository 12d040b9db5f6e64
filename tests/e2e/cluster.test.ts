/**
 * A cluster end to end, in namespaces: three `hub` processes and one PostgreSQL in the hub
 * namespace (each hub on its own address there, routed to by the peers' underlays), and real
 * `peer` processes with TAPs on hosts that list the hubs in different orders. Most peers run
 * with --no-direct so every frame crosses a hub: the hubs' failover is what is tested; the
 * last test has two friends on a direct path, which must not notice the owner's death.
 * Pings and UDP datagrams between the TAPs, tcpdump on the hub side.
 */
import test from 'ava'
import { cpSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { netnsUnavailable, waitForOutput, type Proc } from '../support/netns.js'
import { HUB, Overlay, TOKEN, UDP_TOOL } from '../support/overlay.js'
import { TestPostgres, postgresUnavailable } from '../support/postgres.js'
import { waitFor } from '../support/wait.js'
import { skipWithReason } from '../support/skip.js'

const skip = netnsUnavailable(['ip', 'ping', 'tcpdump']) ?? postgresUnavailable()
const serial = skip === null ? test.serial : test.serial.skip
if (skip !== null) skipWithReason('e2e cluster tests', skip)

const o = new Overlay('clus')
const db = new TestPostgres(o.topo.hubNs)
const HUB_IP = { a: '10.250.0.1', b: '10.250.0.2', c: '10.250.0.3' } as const
type HubName = keyof typeof HUB_IP
const url = (h: HubName): string => `wss://${HUB_IP[h]}`
const hubs = new Map<HubName, Proc>()
const ns = (name: string): string => o.topo.host(name).ns
const PORT = 47700
// /status answers loopback without a token; these hubs listen on other addresses.
const ADMIN = 'e2e-cluster-admin-token'
const PAD = '.'.repeat(600)

const startHub = async (h: HubName): Promise<Proc> => {
  // Hub a's state directory is the Overlay's own "hub", so peers pin its certificate (--ca); b and c present the same one.
  const state = join(o.topo.dir, h === 'a' ? 'hub' : `hub-${h}`)
  if (h !== 'a') cpSync(join(o.topo.dir, 'hub', 'tls'), join(state, 'tls'), { recursive: true })
  const config = join(o.topo.dir, 'hub.yaml')
  writeFileSync(config, `adminToken: ${ADMIN}\n`)
  const p = o.topo.start(`hub-${h}`, o.topo.hubNs, 'node', [HUB, '--config', config, '--listen', `${HUB_IP[h]}:443`, '--state', state, '--token', TOKEN,
    '--store', db.url, '--public-url', url(h), '--log-level', 'debug'])
  hubs.set(h, p)
  await waitForOutput(p, /peer join --hub/, 20_000)
  return p
}

/** The GET /status of hub `h`. */
const hubStatus = async (h: HubName): Promise<any> => await o.hubStatus(HUB_IP[h], ADMIN)

let lastError = ''
const ownerOf = async (room: string): Promise<HubName> => await waitFor(`an owner of ${room} (last error: ${lastError})`, async () => {
  for (const h of hubs.keys()) {
    if (hubs.get(h)!.exitCode !== null) continue
    const st = await hubStatus(h).catch((e: Error) => { lastError = e.message; return null })
    if (st?.cluster?.owned?.some((x: { room: string }) => x.room === room) === true) return h
  }
  return null
}, 20_000, 200)

const pings = async (from: string, to: string, count = 3): Promise<boolean> =>
  (await o.topo.run(ns(from), 'ping', ['-c', String(count), '-i', '0.2', '-W', '1', to], 10_000)).code === 0

const ip: Record<string, string> = {}
const joined: Record<string, { address: string, mac: string }> = {}

if (skip === null) {
  test.before(async () => {
    await o.init(['alice', 'bob', 'carol', 'dave', 'erin'])
    // Keepalive 60 s: a paused hub keeps its peers until it resumes (the fencing case below).
    writeFileSync(join(o.topo.dir, 'peer.yaml'), 'reconnectMinS: 0.2\nreconnectMaxS: 1\nkeepaliveTimeoutS: 60\n')
    for (const a of Object.values(HUB_IP)) await o.topo.ipCommand(['-n', o.topo.hubNs, 'addr', 'add', `${a}/32`, 'dev', 'lo'])
    await db.start()
    for (const h of ['a', 'b', 'c'] as const) await startHub(h)
  })
  test.after.always(async () => {
    for (const p of hubs.values()) p.child.kill('SIGCONT')
    await db.stop().catch(() => {})
    await o.cleanup()
  })
}

serial('a peer that joins through a hub not owning its room is redirected and pings its friend', async t => {
  await o.startPeer('alice', 'friday', ['--no-direct'], `${url('b')},${url('a')},${url('c')}`)
  await o.startPeer('bob', 'friday', ['--no-direct'], `${url('a')},${url('b')},${url('c')}`)
  t.is(await ownerOf('friday'), 'b', 'the first hub asked places the room on itself')
  t.regex(hubs.get('a')!.output, /cluster\.redirect/, 'a sent bob to b')
  for (const n of ['alice', 'bob']) {
    const s = await o.status(n)
    ip[n] = s.address.split('/')[0]!
    joined[n] = { address: s.address, mac: s.mac }
  }
  t.true(await pings('alice', ip.bob!), 'alice pings bob through b')
  const st = await hubStatus('b')
  t.is(st.rooms.find((r: { name: string }) => r.name === 'friday').peers.length, 2, 'both peers are on b')
})

serial('PostgreSQL restarts while the two ping each other: not one ping is lost, and the owner notices the store go and come back', async t => {
  const owner = hubs.get(await ownerOf('friday'))!
  const pinging = o.topo.run(ns('alice'), 'ping', ['-c', '60', '-i', '0.1', '-W', '1', ip.bob!], 20_000)
  await db.down()
  await waitFor('the owner notices the store is gone', () => /cluster\.store_unreachable/.test(owner.output), 10_000)
  await db.up()
  await waitFor('the owner is back on the store', () => /cluster\.store_back/.test(owner.output), 10_000)
  const r = await pinging
  const loss = /(\d+) received/.exec(r.stdout)
  t.log(r.stdout.split('\n').filter(l => /transmitted|rtt/.test(l)).join('; '))
  t.is(Number(loss?.[1]), 60, 'all 60 pings answered through the restart')
})

serial('kill -9 of the owner: both peers are back on another hub with the same IP and MAC and ping within 20 s', async t => {
  const killed = Date.now()
  hubs.get('b')!.child.kill('SIGKILL')
  await hubs.get('b')!.exited
  await waitFor('alice pings bob again', async () => await pings('alice', ip.bob!, 1), 25_000, 100)
  const ms = Date.now() - killed
  t.log(`pinging again ${ms} ms after the kill`)
  t.true(ms <= 20_000, `took ${ms} ms`)
  const owner = await ownerOf('friday')
  t.not(owner, 'b')
  for (const n of ['alice', 'bob']) {
    const s = await o.status(n)
    t.is(s.address, joined[n]!.address, `${n} kept its address`)
    t.is(s.mac, joined[n]!.mac, `${n} kept its MAC`)
  }
  t.regex(hubs.get(owner)!.output, /room_taken_over/)
})

serial('SIGSTOP of the owner for 20 s while a friend joins elsewhere: the room moves; on SIGCONT the old owner switches nothing of it (counters, a capture, the receiver) and its peers follow', async t => {
  await startHub('b')
  const owner = await ownerOf('friday')
  const paused = hubs.get(owner)!
  const others = (['a', 'b', 'c'] as const).filter(h => h !== owner)
  const frames = async (): Promise<number> => (await hubStatus(owner)).rooms.find((r: { name: string }) => r.name === 'friday').switch.unicast as number
  // What leaves the owner towards the peers (not the test's own /status reads) with a payload a marked datagram needs (PAD: ≥ 600 bytes; control messages, keepalives and closes are smaller).
  const capture = o.topo.start('tcpdump-hub', o.topo.hubNs, 'tcpdump', ['-i', 'any', '-n', '-l', '-U', '-tt',
    `src host ${HUB_IP[owner]} and tcp src port 443 and dst net 172.30.0.0/16 and (ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2)) > 500`])
  await waitForOutput(capture, /listening on any/)
  const listener = o.topo.start('bob-listen', ns('bob'), 'node', [UDP_TOOL, 'listen', String(PORT)])
  await waitFor('bob hears alice through the owner', async () => {
    await o.topo.run(ns('alice'), 'node', [UDP_TOOL, 'send', ip.alice!, ip.bob!, String(PORT), `before${PAD}`, '1'])
    return listener.stdout.includes('before')
  }, 10_000, 200)
  await waitFor('the capture sees frames leave the owner', () => capture.stdout.split('\n').some(l => l.includes(`${HUB_IP[owner]}.443 >`)), 5_000)
  const switchedBefore = await frames()
  // A fixed neighbour entry: alice's kernel holds no datagram back waiting for ARP, so whatever bob gets was held by a hub.
  await o.topo.ipCommand(['-n', ns('alice'), 'neigh', 'replace', ip.bob!, 'lladdr', joined.bob!.mac, 'nud', 'permanent', 'dev', 'ovl0'])

  paused.child.kill('SIGSTOP')
  const stoppedAt = Date.now()
  let resumedAt = 0
  try {
    // Datagrams into the paused owner's socket buffers while alice and bob wait for it (keepalive 60 s).
    const sending = o.topo.run(ns('alice'), 'node', [UDP_TOOL, 'send', ip.alice!, ip.bob!, String(PORT), `paused${PAD}`, '40', '500'], 30_000)
    // carol asks the other hubs once they see the owner gone (no heartbeat for 12 s): one claims friday.
    await waitFor(`${others[0]} sees ${owner} gone`, async () => (await hubStatus(others[0]!)).cluster.hubs.some((x: { url: string, alive: boolean }) => x.url === url(owner) && !x.alive), 20_000, 250)
    await o.startPeer('carol', 'friday', ['--no-direct'], others.map(url).join(','))
    t.log(`carol joined ${Date.now() - stoppedAt} ms after the pause`)
    const sent = await sending
    t.is(sent.code, 0, sent.stderr)
  } finally {
    resumedAt = Date.now() / 1000
    paused.child.kill('SIGCONT')
  }
  const line = await waitFor('the old owner drops friday', () => /cluster\.room_dropped room=friday .*switchedUnicast=(\d+)/.exec(paused.output), 10_000)
    .catch((e: Error) => { throw new Error(`${e.message}; its log: ${paused.output.split('\n').filter(l => /cluster|room|fence|stall|error/.test(l)).slice(-15).join('\n')}`) })
  t.log(line[0])
  t.is(Number(line[1]), switchedBefore, 'between the pause and the drop it switched no frame of friday')
  ip.carol = (await o.status('carol')).address.split('/')[0]!
  await waitFor('alice pings bob and carol through the new owner', async () => await pings('alice', ip.bob!, 1) && await pings('alice', ip.carol!, 1), 20_000, 100)
  const now = await ownerOf('friday')
  t.not(now, owner)
  const peerLog = (n: string): string => o.peers.get(n)!.output.split('\n').filter(l => /hub\.|peer\.|stall|join/.test(l)).slice(-12).join('\n')
  t.false(listener.stdout.includes('paused'), `bob received ${listener.stdout.split('paused').length - 1} datagram(s) sent while the owner was paused (SIGCONT at ${new Date(resumedAt * 1000).toISOString()}); alice:\n${peerLog('alice')}\nbob:\n${peerLog('bob')}`)
  const after = capture.stdout.split('\n').filter(l => Number(l.split(' ')[0]) > resumedAt && l.includes(`${HUB_IP[owner]}.443 >`))
  t.deepEqual(after, [], 'nothing frame-sized left the old owner after SIGCONT')
  const st = await hubStatus(owner)
  t.false(st.cluster.owned.some((x: { room: string }) => x.room === 'friday'), 'it no longer owns friday')
  for (const n of ['alice', 'bob']) t.is((await o.status(n)).address, joined[n]!.address, `${n} kept its address`)
})

serial('with a direct path up, kill -9 of the room\'s owner loses not one ping between the two friends; both rejoin elsewhere with their addresses', async t => {
  const list = `${url('c')},${url('a')},${url('b')}`
  await o.startPeer('dave', 'saturday', [], list)
  await o.startPeer('erin', 'saturday', [], list)
  const dave = await o.status('dave')
  const erinIp = await o.ipOf('erin')
  await waitFor('dave reaches erin directly', async () => (await o.status('dave')).members.find(m => m.name === 'erin')?.path === 'direct', 15_000, 200)
  const owner = await ownerOf('saturday')
  const sessions = (await o.status('dave')).direct.counters.sessions
  // No neighbour entry: dave's first ping needs ARP, which the dying hub cannot answer; the peer answers it for a member on a direct path.
  await o.topo.ipCommand(['-n', ns('dave'), 'neigh', 'flush', 'dev', 'ovl0'])
  const pinging = o.topo.run(ns('dave'), 'ping', ['-c', '50', '-i', '0.1', '-W', '1', erinIp], 20_000)
  hubs.get(owner)!.child.kill('SIGKILL')
  await hubs.get(owner)!.exited
  const r = await pinging
  t.log(r.stdout.split('\n').filter(l => /transmitted|rtt/.test(l)).join('; '))
  t.is(Number(/(\d+) received/.exec(r.stdout)?.[1]), 50, 'all 50 pings (5 s from the kill) answered on the direct path')
  const now = await ownerOf('saturday')
  t.not(now, owner)
  await waitFor('both back on a hub', async () => (await o.status('dave')).state === 'connected' && (await o.status('erin')).state === 'connected', 20_000, 200)
  const after = await o.status('dave')
  t.is(after.address, dave.address)
  t.is(after.mac, dave.mac)
  t.is(after.members.find(m => m.name === 'erin')?.path, 'direct')
  t.is(after.direct.counters.sessions, sessions, 'the session outlived the failover (peer/direct-link.ts REJOIN_GRACE_MS): no handshake again')
  t.true(after.direct.counters.arpAnswered >= 1, 'dave\'s ARP was answered by its peer')
})
