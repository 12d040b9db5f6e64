/**
 * The direct path end to end, through real NATs: an "internet" namespace routes between the
 * hub and three home routers; each router masquerades its peer's LAN with nftables (alice's
 * and bob's as Linux does by default — endpoint-independent mapping — carol's with random
 * ports, a symmetric NAT). The real `hub` and `peer` commands, real TAPs, real UDP.
 *
 *   alice 192.168.1.2 ─ routerA 198.18.1.2 ─┐
 *   bob   192.168.2.2 ─ routerB 198.18.2.2 ─┼─ inet ─ hub 198.18.0.2
 *   carol 192.168.3.2 ─ routerC 198.18.3.2 ─┘   (symmetric NAT)
 */
import test from 'ava'
import { join } from 'node:path'
import { netnsUnavailable, waitForOutput } from '../support/netns.js'
import { Overlay, ROOT, TCP_TOOL } from '../support/overlay.js'
import { waitFor } from '../support/wait.js'
import { skipWithReason } from '../support/skip.js'

const skip = netnsUnavailable(['ip', 'ping', 'nft', 'tcpdump'])
const serial = skip === null ? test.serial : test.serial.skip
if (skip !== null) skipWithReason('e2e direct-path tests', skip)

const ATTACK = join(ROOT, 'tests/support/direct-attack.mjs')
const o = new Overlay('dp')
const topo = o.topo
let inet = ''
const routers: Record<string, string> = {}

interface MemberView { name: string, ip: string, mac: string, path: 'direct' | 'relay', rttMs: number | null }
interface Status { address: string, members: MemberView[], direct: { localPort: number | null, reaching: number, counters: { drops: Record<string, number>, handshakesSent: number, sentFrames: number, segmentedSends: number, coalescedReads: number } } }
const status = async (name: string): Promise<Status> => await o.status(name) as unknown as Status
const memberPath = async (from: string, to: string): Promise<MemberView | undefined> => (await status(from)).members.find(m => m.name === to)
const hubUnicast = async (): Promise<number> => (await o.hubStatus()).rooms.find(r => r.name === 'lan')!.switch.unicast as number
const nft = async (ns: string, args: string): Promise<void> => {
  // /usr/sbin: under npm, PATH starts with node_modules/.bin, where ava's @vercel/nft has an `nft` too.
  const r = await topo.run(ns, '/usr/sbin/nft', args.split(' '))
  if (r.code !== 0) throw new Error(`nft ${args}: ${r.stderr}`)
}

const home = async (name: string, n: number, nat: 'masquerade' | 'masquerade random'): Promise<void> => {
  const router = await topo.addNamespace(`r${name}`)
  routers[name] = router
  await topo.link({ ns: inet, dev: `i${n}`, addr: `198.18.${n}.1/24` }, { ns: router, dev: 'wan', addr: `198.18.${n}.2/24` })
  await topo.ipCommand(['-n', router, 'route', 'add', 'default', 'via', `198.18.${n}.1`])
  const host = await topo.addNamespace(name)
  await topo.link({ ns: router, dev: 'lan', addr: `192.168.${n}.1/24` }, { ns: host, dev: 'u0', addr: `192.168.${n}.2/24` })
  await topo.ipCommand(['-n', host, 'route', 'add', 'default', 'via', `192.168.${n}.1`])
  await topo.run(router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
  await nft(router, 'add table ip nat')
  await nft(router, 'add chain ip nat post { type nat hook postrouting priority 100 ; }')
  await nft(router, `add rule ip nat post oifname wan ${nat}`)
  topo.setHost(name, { ns: host, hubIp: '198.18.0.2' })
}

if (skip === null) {
  test.before(async () => {
    await o.init([])
    inet = await topo.addNamespace('inet')
    await topo.link({ ns: inet, dev: 'i0', addr: '198.18.0.1/24' }, { ns: topo.hubNs, dev: 'wan', addr: '198.18.0.2/24' })
    await topo.ipCommand(['-n', topo.hubNs, 'route', 'add', 'default', 'via', '198.18.0.1'])
    await topo.run(inet, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
    await home('alice', 1, 'masquerade')
    await home('bob', 2, 'masquerade')
    await home('carol', 3, 'masquerade random')
    await o.startHub()
    await o.startPeer('alice', 'lan')
    await o.startPeer('bob', 'lan')
  })
  test.after.always(async () => { await o.cleanup() })
}

serial('through two masquerading NATs the path goes direct, and a TCP transfer passes the hub by', async t => {
  const started = Date.now()
  await waitFor('alice and bob direct', async () => (await memberPath('alice', 'bob'))?.path === 'direct' && (await memberPath('bob', 'alice'))?.path === 'direct', 15_000).catch(async (e) => {
    t.log(JSON.stringify((await status('alice')).direct), JSON.stringify((await status('alice')).members))
    t.log(o.peers.get('alice')!.output.slice(-3000))
    throw e
  })
  t.log(`direct ${Date.now() - started} ms after both joined`)
  const bobIp = (await status('bob')).address.split('/')[0]!
  const ping = await topo.run(topo.host('alice').ns, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', bobIp])
  t.is(ping.code, 0, ping.stdout + ping.stderr)
  const serve = topo.start('tcp-serve', topo.host('bob').ns, 'node', [TCP_TOOL, 'serve', bobIp, '5001'])
  await waitForOutput(serve, /listening/)
  const capture = topo.start('cap-alice', topo.host('alice').ns, 'tcpdump', ['-i', 'u0', '-n', '-U', '-c', '50', '-w', join(topo.dir, 'alice.pcap'), 'udp and src host 198.18.2.2'])
  await waitForOutput(capture, /listening on u0/)
  const before = await hubUnicast()
  const send = await topo.run(topo.host('alice').ns, 'node', [TCP_TOOL, 'send', bobIp, '5001', String(30 * 1024 * 1024)], 60_000)
  t.is(send.code, 0, send.stderr)
  const [, bytes, sha, ms] = /sent (\d+) (\w+) (\d+)/.exec(send.stdout)!
  await waitForOutput(serve, new RegExp(`received ${bytes!} ${sha!}`))
  const hubFrames = await hubUnicast() - before
  t.log(`30 MiB in ${ms!} ms (${(30 * 8 * 1.048576 / (Number(ms) / 1000)).toFixed(0)} Mbit/s); the hub switched ${hubFrames} unicast frames meanwhile`)
  t.true(hubFrames < 100, `the hub forwarded ${hubFrames} unicast frames of a direct transfer`)
  const sender = (await status('alice')).direct.counters
  const receiver = (await status('bob')).direct.counters
  t.log(`alice sent ${sender.sentFrames} frames in ${sender.segmentedSends} GSO sends; bob read ${receiver.coalescedReads} coalesced (GRO) reads`)
  t.true(sender.sentFrames > 10_000)
  t.true(sender.segmentedSends > 0, 'full frames of one batch left as UDP GSO sends')
  // A GSO send crosses veths and the routers whole, so the receiving socket (UDP_GRO, Linux ≥ 5.0) reads it as one.
  t.true(receiver.coalescedReads > 0, 'GSO sends arrived as coalesced (UDP GRO) reads')
  t.is(await capture.exited, 0, capture.output)
  await serve.stop()
})

serial('keep-warm runs on the real TAP and socket while a game-like trickle passes, without errors', async t => {
  const bobIp = (await status('bob')).address.split('/')[0]!
  const before = (await o.status('alice')).keepWarm
  const tapBefore = (await o.status('bob')).tap
  const ping = await topo.run(topo.host('alice').ns, 'ping', ['-c', '40', '-i', '0.05', '-W', '2', bobIp])
  t.is(ping.code, 0, ping.stdout + ping.stderr)
  // The timer drains the real TAP and socket too: a frame lost or handled twice would show here.
  t.regex(ping.stdout, / 0% packet loss/, ping.stdout)
  t.notRegex(ping.stdout, /DUP!/)
  const a = await o.status('alice')
  const b = await o.status('bob')
  t.log(`alice keep-warm ${JSON.stringify(a.keepWarm)}; ${ping.stdout.split('\n').at(-2) ?? ''}`)
  t.is(a.keepWarm.error, null)
  t.true(a.keepWarm.runs - before.runs >= 100, 'ran between the pings (2 s of pings at a 2 ms period)')
  t.true(b.tap.writeFrames - tapBefore.writeFrames >= 40, 'bob\'s TAP got the 40 echo requests')
  const hub = await o.hubStatus()
  t.like(hub.keepWarm, { periodMs: 2, connected: true, error: null }, 'the hub\'s loopback loop is up')
})

serial('forged, replayed and non-member packets on the direct socket are dropped and counted; the path stays', async t => {
  const a = await status('alice')
  const r = await topo.run(topo.host('alice').ns, 'node', [ATTACK, join(topo.dir, 'alice.pcap'), '192.168.1.2', String(a.direct.localPort), join(topo.dir, 'alice')])
  t.is(r.code, 0, r.stderr)
  const after = await waitFor('the drops counted', async () => {
    const d = (await status('alice')).direct.counters.drops
    return d.not_member! >= 1 && d.bad_packet! >= 1 && d.replay! + d.unknown_index! >= 1 && d.auth! + d.unknown_index! >= 1 ? d : null
  }, 5000)
  t.log(JSON.stringify(after))
  t.is((await memberPath('alice', 'bob'))?.path, 'direct')
})

serial('UDP blocked between the routers: pings go on through the hub within 5 s and a TCP connection survives; unblocked: direct again', async t => {
  await waitFor('alice and bob direct', async () => (await memberPath('alice', 'bob'))?.path === 'direct', 15_000)
  const bobIp = (await status('bob')).address.split('/')[0]!
  const serve = topo.start('tcp-serve2', topo.host('bob').ns, 'node', [TCP_TOOL, 'serve', bobIp, '5002'])
  await waitForOutput(serve, /listening/)
  const stream = topo.start('tcp-stream', topo.host('alice').ns, 'node', [TCP_TOOL, 'stream', bobIp, '5002', '20000'])
  const ping = topo.start('ping', topo.host('alice').ns, 'ping', ['-i', '0.2', '-c', '150', '-W', '1', bobIp])
  await waitForOutput(ping, /icmp_seq=3 /)
  await nft(inet, 'add table inet blk')
  await nft(inet, 'add chain inet blk filt { type filter hook forward priority 0 ; }')
  await nft(inet, 'add rule inet blk filt ip saddr 198.18.1.2 ip daddr 198.18.2.2 meta l4proto udp drop')
  await nft(inet, 'add rule inet blk filt ip saddr 198.18.2.2 ip daddr 198.18.1.2 meta l4proto udp drop')
  const blockedAt = Date.now()
  await waitFor('alice falls back to the hub', async () => (await memberPath('alice', 'bob'))?.path === 'relay', 8000)
  const fallbackMs = Date.now() - blockedAt
  const lastSeq = (): number => Math.max(0, ...[...ping.stdout.matchAll(/icmp_seq=(\d+) /g)].map(m => Number(m[1])))
  const seqAtFallback = lastSeq()
  await waitFor('pings answered through the hub', () => lastSeq() >= seqAtFallback + 5, 5000)
  t.log(`fallback noticed ${fallbackMs} ms after the block; pings answered again`)
  t.true(fallbackMs <= 5000, `fallback took ${fallbackMs} ms`)
  await nft(inet, 'delete table inet blk')
  const unblockedAt = Date.now()
  await waitFor('direct again', async () => (await memberPath('alice', 'bob'))?.path === 'direct' && (await memberPath('bob', 'alice'))?.path === 'direct', 40_000)
  t.log(`direct again ${Date.now() - unblockedAt} ms after the unblock`)
  const sent = /sent (\d+) (\w+)/.exec((await waitForOutput(stream, /sent \d+ \w+/, 30_000)).input!)!
  await waitForOutput(serve, new RegExp(`received ${sent[1]!} ${sent[2]!}`), 10_000)
  t.true(Number(sent[1]) > 0)
  await ping.stop()
  const replies = [...ping.stdout.matchAll(/icmp_seq=(\d+) /g)].length
  t.log(`pings (every 200 ms) during block and unblock: ${replies} of ${lastSeq()} answered`)
  await serve.stop()
})

serial('a path that cannot carry a full frame (a 1400-byte link on the way) goes back to the hub, and works; restored: direct again', async t => {
  await waitFor('alice and bob direct', async () => (await memberPath('alice', 'bob'))?.path === 'direct', 15_000)
  // Both ends, as on a real link (a veth end with the larger MTU would drop silently: a black hole, not an MTU).
  const mtu = async (v: number): Promise<void> => {
    await topo.ipCommand(['-n', inet, 'link', 'set', 'i2', 'mtu', String(v)])
    await topo.ipCommand(['-n', routers.bob!, 'link', 'set', 'wan', 'mtu', String(v)])
  }
  await mtu(1400)
  try {
    // The next full-size heartbeat (every 10 s) is refused on the way: frames go through the hub.
    await waitFor('alice and bob relayed', async () => (await memberPath('alice', 'bob'))?.path === 'relay' && (await memberPath('bob', 'alice'))?.path === 'relay', 25_000)
    const bobIp = (await status('bob')).address.split('/')[0]!
    const big = await topo.run(topo.host('alice').ns, 'ping', ['-c', '3', '-i', '0.3', '-W', '3', '-s', '1300', '-M', 'do', bobIp])
    t.is(big.code, 0, `full-size frames still arrive (through the hub): ${big.stdout}${big.stderr}`)
  } finally {
    await mtu(1500)
    // Kernels keep a learned path MTU for 10 minutes (net.ipv4.route.mtu_expires); the test does not wait.
    for (const n of ['alice', 'bob']) await topo.ipCommand(['-n', topo.host(n).ns, 'route', 'flush', 'cache'])
  }
  await waitFor('direct again', async () => (await memberPath('alice', 'bob'))?.path === 'direct' && (await memberPath('bob', 'alice'))?.path === 'direct', 25_000)
})

serial('behind a symmetric NAT the path stays relayed, and works', async t => {
  await o.startPeer('carol', 'lan')
  // Carol probes alice (and alice carol) for a few rounds; none can pass carol's NAT.
  await waitFor('carol probed', async () => (await status('carol')).direct.counters.handshakesSent >= 6, 20_000)
  t.is((await memberPath('carol', 'alice'))?.path, 'relay')
  t.is((await memberPath('alice', 'carol'))?.path, 'relay')
  const carolIp = (await status('carol')).address.split('/')[0]!
  const before = await hubUnicast()
  const ping = await topo.run(topo.host('alice').ns, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', carolIp])
  t.is(ping.code, 0, ping.stdout + ping.stderr)
  t.true(await hubUnicast() - before >= 6, 'through the hub')
  // `peer ping` reports the path each reply took.
  const pp = await topo.run(topo.host('alice').ns, 'node', [join(ROOT, 'dist/peer/cli.js'), 'ping', 'carol', '--count', '2', '--json'])
  t.is(pp.code, 0, pp.stdout + pp.stderr)
  t.deepEqual((JSON.parse(pp.stdout) as { replies: Array<{ path: string }> }).replies.map(r => r.path), ['relay', 'relay'])
  const pb = await topo.run(topo.host('alice').ns, 'node', [join(ROOT, 'dist/peer/cli.js'), 'ping', 'bob', '--count', '2'])
  t.is(pb.code, 0, pb.stdout + pb.stderr)
  t.regex(pb.stdout, /reply from bob .* seq 1 direct in/)
})

serial('the hub\'s /status says how many members each peer reaches directly', async t => {
  await waitFor('reaching reported', async () => {
    const p = (await o.hubStatus()).rooms.find(r => r.name === 'lan')!.peers as Array<{ name: string, direct: { reaching: number } }>
    return p.find(x => x.name === 'alice')?.direct.reaching === 1 && p.find(x => x.name === 'carol')?.direct.reaching === 0
  }, 10_000)
  t.pass()
})

