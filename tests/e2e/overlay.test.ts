/**
 * End to end with real TAP devices in network namespaces and the real `hub` and `peer`
 * commands (built into dist/): the hub in its own namespace; alice and bob in room
 * friday, carol in room saturday, each joined over its own veth underlay, which is also
 * its default route.
 */
import test from 'ava'
import { join } from 'node:path'
import { netnsUnavailable, waitForOutput } from '../support/netns.js'
import { Overlay, PEER, TOKEN, UDP_TOOL as UDP } from '../support/overlay.js'
import { waitFor } from '../support/wait.js'
import { skipWithReason } from '../support/skip.js'

const skip = netnsUnavailable()
const serial = skip === null ? test.serial : test.serial.skip
if (skip !== null) skipWithReason('e2e overlay tests', skip)

const o = new Overlay('e2e')
const topo = o.topo
const status = async (name: string) => await o.status(name)
const ipOf = async (name: string): Promise<string> => await o.ipOf(name)

if (skip === null) {
  test.before(async () => {
    await o.init(['alice', 'bob', 'carol', 'mallory'])
    await o.startHub()
    await o.startPeer('alice', 'friday')
    await o.startPeer('bob', 'friday')
    await o.startPeer('carol', 'saturday', ['--address', '10.77.0.99'])
  })
  test.after.always(async () => { await o.cleanup() })
}

serial('ping and arping between the friday peers (over their direct path: the hub routes between the underlays)', async t => {
  const pathTo = async (from: string, to: string): Promise<string | undefined> =>
    ((await status(from)) as unknown as { members: Array<{ name: string, path: string }> }).members.find(m => m.name === to)?.path
  await waitFor('alice and bob direct', async () => await pathTo('alice', 'bob') === 'direct' && await pathTo('bob', 'alice') === 'direct', 15_000)
  const bobIp = await ipOf('bob')
  const ping = await topo.run(topo.host('alice').ns, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', bobIp])
  t.is(ping.code, 0, ping.stdout + ping.stderr)
  t.regex(ping.stdout, /3 received/)
  const arping = await topo.run(topo.host('alice').ns, 'arping', ['-c', '2', '-w', '5', '-I', 'ovl0', bobIp])
  t.is(arping.code, 0, arping.stdout + arping.stderr)
  t.true(arping.stdout.includes((await status('bob')).mac), `reply from bob's leased MAC: ${arping.stdout}`)
})

serial('a UDP broadcast to 255.255.255.255 reaches the other friday peer, never saturday', async t => {
  const bobListen = topo.start('bob-udp', topo.host('bob').ns, 'node', [UDP, 'listen', '40000'])
  const carolListen = topo.start('carol-udp', topo.host('carol').ns, 'node', [UDP, 'listen', '40000'])
  await waitForOutput(bobListen, /listening/)
  await waitForOutput(carolListen, /listening/)
  const aliceIp = await ipOf('alice')
  const sent = await topo.run(topo.host('alice').ns, 'node', [UDP, 'send', aliceIp, '255.255.255.255', '40000', 'hello-from-alice', '3'])
  t.is(sent.code, 0, sent.stderr)
  await waitForOutput(bobListen, new RegExp(`${aliceIp.replaceAll('.', '\\.')} hello-from-alice`))
  // Carol's own broadcast, then a later one from alice: once bob has the later one, carol's would have arrived.
  const c = await topo.run(topo.host('carol').ns, 'node', [UDP, 'send', '10.77.0.99', '255.255.255.255', '40000', 'hello-from-carol', '3'])
  t.is(c.code, 0, c.stderr)
  await topo.run(topo.host('alice').ns, 'node', [UDP, 'send', aliceIp, '255.255.255.255', '40000', 'second-from-alice', '1'])
  await waitForOutput(bobListen, /second-from-alice/)
  t.false(bobListen.stdout.includes('hello-from-carol'), 'saturday leaked into friday')
  t.false(carolListen.stdout.includes('alice'), 'friday leaked into saturday')
  await bobListen.stop()
  await carolListen.stop()
})

serial('saturday cannot reach friday addresses', async t => {
  const aliceIp = await ipOf('alice')
  const ping = await topo.run(topo.host('carol').ns, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', aliceIp])
  t.not(ping.code, 0)
  const arping = await topo.run(topo.host('carol').ns, 'arping', ['-c', '2', '-w', '2', '-I', 'ovl0', aliceIp])
  t.not(arping.code, 0, arping.stdout)
})

serial('after a hub restart both friday peers return with the same IP and MAC', async t => {
  const before = { alice: await status('alice'), bob: await status('bob') }
  t.is(await o.hub!.stop(), 0, `hub exits 0 on SIGTERM: ${o.hub!.output.slice(-500)}`)
  await o.startHub()
  for (const n of ['alice', 'bob'] as const) {
    const after = await waitFor(`${n} reconnected`, async () => {
      const s = await status(n)
      return s.state === 'connected' && s.counters.reconnects > before[n].counters.reconnects ? s : null
    }, 20_000)
    t.is(after.address, before[n].address)
    t.is(after.mac, before[n].mac)
  }
  const ping = await topo.run(topo.host('alice').ns, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', before.bob.address.split('/')[0]!])
  t.is(ping.code, 0, ping.stdout)
})

serial('a wrong token makes peer join exit non-zero with the error code, leaving no interface', async t => {
  const h = topo.host('mallory')
  const r = await topo.run(h.ns, 'node', [PEER, 'join', '--hub', `wss://${h.hubIp}`, '--room', 'friday', '--token', 'not-the-token',
    '--ca', o.caFile, '--state', join(topo.dir, 'mallory')])
  t.is(r.code, 3)
  t.regex(r.stderr, /AUTH_FAILED/)
  const link = await topo.run(h.ns, 'ip', ['link', 'show', 'ovl0'])
  t.not(link.code, 0, 'TAP removed')
})

serial('peer status shows the running peer; SIGTERM says bye and removes the TAP', async t => {
  const r = await topo.run(topo.host('carol').ns, 'node', [PEER, 'status'])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /peer ovl0: connected/)
  t.regex(r.stdout, /room +saturday/)
  t.regex(r.stdout, /address +10\.77\.0\.99\/24/)
  t.is(await o.peers.get('carol')!.stop(), 0)
  const link = await topo.run(topo.host('carol').ns, 'ip', ['link', 'show', 'ovl0'])
  t.not(link.code, 0, 'no orphan interface')
  await waitForOutput(o.hub!, /peer\.leave room=saturday name=carol .*code=1000/)
  const after = await topo.run(topo.host('carol').ns, 'node', [PEER, 'status'])
  t.is(after.code, 1)
  t.regex(after.stderr, /PEER_NOT_RUNNING/)
})

serial('without root, or without /dev/net/tun, peer join says so and exits 6 / 5', async t => {
  const h = topo.host('mallory')
  const args = [PEER, 'join', '--hub', `wss://${h.hubIp}`, '--room', 'friday', '--token', TOKEN, '--insecure', '--iface', 'ovlx']
  // Without CAP_NET_ADMIN (dropped from the bounding set, so root keeps reading files): TUNSETIFF is refused.
  const noCap = await topo.run(h.ns, 'setpriv', ['--bounding-set=-net_admin', '--inh-caps=-net_admin', 'node', ...args, '--state', join(topo.dir, 'nocap')])
  t.is(noCap.code, 6, noCap.stderr)
  t.regex(noCap.stderr, /TAP_PERMISSION: .*(root|CAP_NET_ADMIN)/)
  // A private mount namespace where /dev/net is empty, as on a host without the tun module.
  const noTun = await topo.run(h.ns, 'unshare', ['-m', 'sh', '-c', 'mount -t tmpfs none /dev/net && exec node "$@"', 'sh', ...args, '--state', join(topo.dir, 'notun')])
  t.is(noTun.code, 5, noTun.stderr)
  t.regex(noTun.stderr, /TAP_UNAVAILABLE: \/dev\/net\/tun is missing/)
})
