/**
 * The LAN-aware switch end to end: real hub and peers, real TAPs in namespaces, tcpdump on
 * the TAPs. alice, bob and carol are all in room friday.
 */
import test from 'ava'
import { netnsUnavailable, waitForOutput } from '../support/netns.js'
import { Overlay, TCP_TOOL, UDP_TOOL } from '../support/overlay.js'
import { waitFor } from '../support/wait.js'
import { skipWithReason } from '../support/skip.js'

const skip = netnsUnavailable(['ip', 'arping', 'tcpdump'])
const serial = skip === null ? test.serial : test.serial.skip
if (skip !== null) skipWithReason('e2e switch tests', skip)

const o = new Overlay('sw')
const ns = (name: string): string => o.topo.host(name).ns
const ip: Record<string, string> = {}

if (skip === null) {
  test.before(async () => {
    await o.init(['alice', 'bob', 'carol'])
    await o.startHub()
    for (const n of ['alice', 'bob', 'carol']) {
      await o.startPeer(n, 'friday')
      ip[n] = await o.ipOf(n)
    }
  })
  test.after.always(async () => { await o.cleanup() })
}

const friday = async (): Promise<Record<string, any>> => (await o.hubStatus()).rooms.find(r => r.name === 'friday')!

serial('multicast to 239.1.2.3 reaches the peer that joined it and not the one that did not', async t => {
  const listen = o.topo.start('bob-group', ns('bob'), 'node', [UDP_TOOL, 'listen', '45000', '239.1.2.3', ip.bob!])
  await waitForOutput(listen, /listening/)
  await waitFor('the hub learned bob\'s membership', async () =>
    ((await friday()).groups as Array<{ group: string, members: string[] }>).some(g => g.group === '01:00:5e:01:02:03' && g.members.includes('bob')))
  const carolCap = await o.capture('carol', 'dst host 239.1.2.3')
  const sent = await o.topo.run(ns('alice'), 'node', [UDP_TOOL, 'send', ip.alice!, '239.1.2.3', '45000', 'to-the-group', '5', '20'])
  t.is(sent.code, 0, sent.stderr)
  await waitForOutput(listen, /to-the-group/)
  // A broadcast after the group data: once carol has it, the group data would have arrived too.
  const bcastCap = await o.capture('carol', 'udp port 45001')
  await o.topo.run(ns('alice'), 'node', [UDP_TOOL, 'send', ip.alice!, '255.255.255.255', '45001', 'marker'])
  await waitForOutput(bcastCap, /45001/)
  await bcastCap.stop()
  await carolCap.stop()
  t.regex(carolCap.stderr, /\b0 packets captured/, `carol's TAP saw group traffic: ${carolCap.stdout}`)
  t.true((await friday()).switch.multicastToMembers >= 5)
  await listen.stop()
})

serial('arping to a known address is answered before it reaches anyone (by the hub, or by alice\'s own peer while bob is on a direct path)', async t => {
  const carolCap = await o.capture('carol', 'arp')
  const bobCap = await o.capture('bob', 'arp')
  const answered = async (): Promise<number> => (await friday()).switch.arpReplies + (await o.status('alice')).direct.counters.arpAnswered
  const before = await answered()
  const r = await o.topo.run(ns('alice'), 'arping', ['-c', '3', '-w', '5', '-I', 'ovl0', ip.bob!])
  t.is(r.code, 0, r.stdout + r.stderr)
  t.is(r.stdout.match(new RegExp((await o.status('bob')).mac, 'gi'))?.length, 3, `three replies with bob's MAC: ${r.stdout}`)
  t.true(await answered() >= before + 3)
  await carolCap.stop()
  await bobCap.stop()
  const asked = new RegExp(`Request who-has ${ip.bob!.replaceAll('.', '\\.')} tell ${ip.alice!.replaceAll('.', '\\.')}`)
  t.notRegex(carolCap.stdout, asked, 'carol saw the request')
  t.notRegex(bobCap.stdout, asked, 'the request was answered before reaching bob')
})

serial('a broadcast flood from one peer does not stop ARP and mDNS between the other two', async t => {
  const mdns = o.topo.start('bob-mdns', ns('bob'), 'node', [UDP_TOOL, 'listen', '5353', '224.0.0.251', ip.bob!])
  await waitForOutput(mdns, /listening/)
  const flood = o.topo.start('carol-flood', ns('carol'), 'node', [UDP_TOOL, 'flood', ip.carol!, '255.255.255.255', '9999', '4'])
  await waitFor('the flood is being cut', async () => ((await friday()).switch.drops.storm_broadcast ?? 0) > 1000, 8000)
  const [arping, mdnsSend] = await Promise.all([
    o.topo.run(ns('alice'), 'arping', ['-c', '5', '-i', '0.2', '-w', '5', '-I', 'ovl0', ip.bob!]),
    o.topo.run(ns('alice'), 'node', [UDP_TOOL, 'send', ip.alice!, '224.0.0.251', '5353', 'mdns-during-flood', '20', '50', '5353'])
  ])
  t.is(arping.code, 0, arping.stdout)
  t.regex(arping.stdout, /5 packets received/)
  t.is(mdnsSend.code, 0, mdnsSend.stderr)
  await waitForOutput(flood, /flooded \d+/, 15_000)
  const got = await waitFor('mDNS delivered', () => { const n = mdns.stdout.split('mdns-during-flood').length - 1; return n >= 19 ? n : null }, 5000)
  t.true(got >= 19, `${got}/20 mDNS packets arrived during the flood`)
  const room = await friday()
  const carol = room.peers.find((p: { name: string }) => p.name === 'carol')
  t.true(carol.drops.storm_broadcast > 1000, 'the flood was cut at the hub')
  t.falsy(room.peers.find((p: { name: string }) => p.name === 'alice').drops.storm_discovery, 'alice\'s discovery traffic was never limited')
  t.log(`flood: ${flood.stdout.trim()}, cut at the hub: ${carol.drops.storm_broadcast}, mDNS delivered ${got}/20`)
  await mdns.stop()
})

serial('TCP with a 1460-byte MSS crosses the overlay with the MSS clamped to 1360', async t => {
  // Both hosts advertise MSS 1460 on the overlay route, as a host with a 1500 MTU would.
  for (const n of ['alice', 'bob']) {
    const r = await o.topo.run(ns(n), 'ip', ['route', 'replace', '10.77.0.0/24', 'dev', 'ovl0', 'advmss', '1460'])
    t.is(r.code, 0, r.stderr)
  }
  const onBob = await o.capture('bob', 'tcp port 46000 and tcp[tcpflags] & tcp-syn != 0')
  const onAlice = await o.capture('alice', 'tcp port 46000 and tcp[tcpflags] & tcp-syn != 0')
  const server = o.topo.start('bob-tcp', ns('bob'), 'node', [TCP_TOOL, 'serve', ip.bob!, '46000'])
  await waitForOutput(server, /listening/)
  const send = await o.topo.run(ns('alice'), 'node', [TCP_TOOL, 'send', ip.bob!, '46000', String(4 * 1024 * 1024)], 60_000)
  t.is(send.code, 0, send.stderr)
  const [, bytes, sha, ms] = /sent (\d+) ([0-9a-f]+) (\d+)/.exec(send.stdout)!
  await waitForOutput(server, new RegExp(`received ${bytes} ${sha}`))
  await onBob.stop()
  await onAlice.stop()
  // alice's SYN as bob's kernel received it, and bob's SYN-ACK as alice's kernel received it.
  t.regex(onBob.stdout, /Flags \[S\],.*mss 1360/, onBob.stdout)
  t.regex(onAlice.stdout, /Flags \[S\.\],.*mss 1360/, onAlice.stdout)
  t.true((await o.status('alice')).mssClamped >= 1)
  t.log(`4 MiB in ${ms} ms (${(4 * 8 * 1000 / Number(ms)).toFixed(0)} Mbit/s), sha256 equal`)
  await server.stop()
})
