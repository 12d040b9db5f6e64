/**
 * Discovery end to end: real peers in namespaces whose default route is the underlay veth.
 * alice and bob in room friday; alice runs a real Teeworlds server.
 */
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { netnsUnavailable, waitForOutput } from '../support/netns.js'
import { Overlay, PEER, ROOT, UDP_TOOL } from '../support/overlay.js'
import { waitFor } from '../support/wait.js'
import { skipWithReason } from '../support/skip.js'

const TEEWORLDS = '/usr/games/teeworlds-server'
const skip = netnsUnavailable(['ip', 'dig', 'nmblookup']) ?? (spawnSync('test', ['-x', TEEWORLDS]).status === 0 ? null : 'teeworlds-server is not installed (apt-get install teeworlds-server)')
const serial = skip === null ? test.serial : test.serial.skip
if (skip !== null) skipWithReason('e2e discovery tests', skip)

const o = new Overlay('disc')
const ns = (name: string): string => o.topo.host(name).ns
const ip: Record<string, string> = {}
// By path: under npm, PATH starts with node_modules/.bin, which has a `nft` of @vercel/nft's.
const NFT = '/usr/sbin/nft'
const routing = async (name: string): Promise<string> => {
  const rules = await o.topo.run(ns(name), 'ip', ['rule', 'show'])
  const routes = await o.topo.run(ns(name), 'ip', ['route', 'show', 'table', 'all'])
  const nft = await o.topo.run(ns(name), NFT, ['list', 'ruleset'])
  return `${rules.stdout}\n${routes.stdout.split('\n').filter(l => !/ dev ovl0 /.test(l) && !/^(local|broadcast|multicast|ff00|fe80|anycast)/.test(l)).join('\n')}\n${nft.stdout}`
}
const before: Record<string, string> = {}

if (skip === null) {
  test.before(async () => {
    await o.init(['alice', 'bob', 'carol'])
    for (const n of ['alice', 'bob', 'carol']) before[n] = await routing(n)
    await o.startHub()
    for (const n of ['alice', 'bob']) {
      await o.startPeer(n, 'friday')
      ip[n] = await o.ipOf(n)
    }
  })
  test.after.always(async () => { await o.cleanup() })
}

serial('mDNS: bob resolves alice.local to alice\'s overlay address', async t => {
  // An mDNS resolver's query (from port 5353, answered by multicast) on bob's overlay interface.
  const r = await waitFor('alice.local resolved', async () => {
    const q = await o.topo.run(ns('bob'), 'node', [join(ROOT, 'tests/support/mdns-resolve.mjs'), ip.bob!, 'alice.local', '1500'])
    return q.code === 0 ? q.stdout : null
  }, 10_000, 200)
  t.is(r.trim(), ip.alice!)
  // Legacy unicast (RFC 6762 §6.7): a plain DNS query to port 5353 gets a unicast answer.
  // (dig @224.0.0.251 cannot be used: dig 9.18 drops answers that come from the responder's
  // own address, which is where every compliant responder answers from.)
  const dig = await o.topo.run(ns('bob'), 'dig', ['+short', '+time=2', '+tries=2', '-p', '5353', `@${ip.alice!}`, 'alice.local'])
  t.is(dig.stdout.trim(), ip.alice!, dig.stdout + dig.stderr)
})

serial('NetBIOS: nmblookup ALICE from bob resolves by broadcast on the overlay', async t => {
  const r = await o.topo.run(ns('bob'), 'nmblookup', ['-B', '10.77.0.255', 'ALICE'])
  t.regex(r.stdout, new RegExp(`${ip.alice!.replaceAll('.', '\\.')} ALICE<00>`), r.stdout + r.stderr)
  const status = await o.topo.run(ns('bob'), 'nmblookup', ['-A', ip.alice!])
  t.regex(status.stdout, /ALICE\s+<20>/, status.stdout)
  t.regex(status.stdout, new RegExp(`MAC Address = ${(await o.status('alice')).mac.toUpperCase().replaceAll(':', '-')}`), status.stdout)
})

serial('SSDP: an M-SEARCH from bob finds alice as a UPnP basic device', async t => {
  const r = await o.topo.run(ns('bob'), 'node', [UDP_TOOL, 'msearch', ip.bob!, 'urn:schemas-upnp-org:device:Basic:1', '2000'])
  t.regex(r.stdout, new RegExp(`^${ip.alice!.replaceAll('.', '\\.')} ST=urn:schemas-upnp-org:device:Basic:1 USN=uuid:[0-9a-f-]+::urn`, 'm'), r.stdout + r.stderr)
  const location = /LOCATION=(\S+)/.exec(r.stdout)![1]!
  const desc = await o.topo.run(ns('bob'), 'node', ['-e', `require('http').get(${JSON.stringify(location)},r=>{let s='';r.on('data',d=>s+=d);r.on('end',()=>console.log(s))})`])
  t.regex(desc.stdout, /<friendlyName>alice \(overlan\)<\/friendlyName>/)
})

serial('a real Teeworlds server on alice is found by LAN discovery to 255.255.255.255 from bob', async t => {
  // Console commands as arguments; sv_register 0: never contact master servers.
  const server = o.topo.start('teeworlds', ns('alice'), TEEWORLDS, ['sv_name "Friday DM"; sv_port 8303; sv_register 0; sv_map dm1; sv_max_clients 8'])
  // Its stdout is block-buffered when piped: wait for answers, not for log lines.
  // bob's default route is the underlay: without the overlay's discovery rules this broadcast would leave there.
  const probe = await waitFor('teeworlds answer', async () => {
    if (server.exitCode !== null) throw new Error(`teeworlds-server exited: ${server.output.slice(-500)}`)
    const r = await o.topo.run(ns('bob'), 'node', [join(ROOT, 'tests/support/teeworlds-lan.mjs'), '800'])
    return r.code === 0 ? r.stdout : null
  }, 20_000, 100)
  const info = JSON.parse(probe.trim().split('\n')[0]!) as { address: string, port: number, name: string, map: string, players: number }
  t.is(info.address, ip.alice!)
  t.is(info.port, 8303)
  t.is(info.name, 'Friday DM')
  t.is(info.map, 'dm1')
  t.is(info.players, 0)
  t.log(`found ${JSON.stringify(info)}`)
})

serial('multicast game discovery (Minecraft 224.0.2.60:4445) uses the overlay with no interface chosen by the game', async t => {
  // Like the game: join the group and send to it from sockets bound to no interface.
  const listen = o.topo.start('bob-minecraft', ns('bob'), 'node', [UDP_TOOL, 'listen', '4445', '224.0.2.60', 'any'])
  await waitForOutput(listen, /listening/)
  // Minecraft announces every 1.5 s; bob's peer joins the group on the overlay within a second of the game's join.
  const sent = await o.topo.run(ns('alice'), 'node', [UDP_TOOL, 'send', '0.0.0.0', '224.0.2.60', '4445', '[MOTD]Friday world[/MOTD][AD]25565[/AD]', '10', '300'])
  t.is(sent.code, 0, sent.stderr)
  await waitForOutput(listen, new RegExp(`^${ip.alice!.replaceAll('.', '\\.')} \\[MOTD\\]Friday world`, 'm'))
  await listen.stop()
})

serial('the hub\'s room directory lists what was announced; peer list prints it', async t => {
  const line = await waitFor('directory complete', async () => {
    const r = await o.topo.run(ns('bob'), 'node', [PEER, 'list'])
    const alice = r.stdout.split('\n').find(l => l.trim().startsWith('alice')) ?? ''
    return /NetBIOS ALICE/.test(alice) && /UPnP Basic/.test(alice) && /Teeworlds server 'Friday DM' :8303/.test(alice) ? r.stdout : null
  }, 15_000, 500)
  t.regex(line, /^room friday: 2 peer\(s\)/)
  t.regex(line, new RegExp(`alice\\s+${ip.alice!.replaceAll('.', '\\.')}\\s+— `))
  t.regex(line, /Teeworlds server 'Friday DM' :8303 \(map dm1, 0\/8 players\)/)
  const json = JSON.parse((await o.topo.run(ns('bob'), 'node', [PEER, 'list', '--json'])).stdout) as { services: Array<{ peer: string, kind: string, type: string, name: string }> }
  t.true(json.services.some(s => s.peer === 'alice' && s.kind === 'mdns' && s.type === 'host' && s.name === 'alice.local'))
  t.true(json.services.some(s => s.peer === 'bob' && s.kind === 'netbios' && s.name === 'BOB'))
  t.log(line)
  await o.topo.run(ns('alice'), 'true', [])
})

serial('peer doctor finds what breaks LAN apps on the overlay and --fix repairs the safe ones', async t => {
  const bob = ns('bob')
  for (const [cmd, args] of [['sysctl', ['-qw', 'net.ipv4.conf.ovl0.rp_filter=1']], ['sysctl', ['-qw', 'net.ipv6.conf.ovl0.disable_ipv6=1']], ['ip', ['link', 'set', 'ovl0', 'multicast', 'off']]] as const) {
    t.is((await o.topo.run(bob, cmd, [...args])).code, 0)
  }
  const before = await o.topo.run(bob, 'node', [PEER, 'doctor'])
  t.is(before.code, 1, before.stdout)
  for (const id of ['rp_filter', 'ipv6', 'multicast']) t.regex(before.stdout, new RegExp(`^FIX  ${id}`, 'm'))
  const fixed = await o.topo.run(bob, 'node', [PEER, 'doctor', '--fix'])
  t.is(fixed.code, 0, fixed.stdout)
  t.regex(fixed.stdout, /applied +multicast: ip link set ovl0 multicast on/)
  t.regex(fixed.stdout, /no problems found/)
  t.is((await o.topo.run(bob, 'cat', ['/proc/sys/net/ipv4/conf/ovl0/rp_filter'])).stdout.trim(), '2')
  t.log(fixed.stdout)
})

serial('after a hub restart, peer list is complete again within 30 s (presence re-announces, the hub kept the directory)', async t => {
  await o.hub!.stop()
  await o.startHub()
  const restarted = Date.now()
  const list = await waitFor('the directory complete after the restart', async () => {
    const r = await o.topo.run(ns('bob'), 'node', [PEER, 'list'])
    const alice = r.stdout.split('\n').find(l => l.trim().startsWith('alice')) ?? ''
    const bob = r.stdout.split('\n').find(l => l.trim().startsWith('bob')) ?? ''
    return /NetBIOS ALICE/.test(alice) && /UPnP Basic/.test(alice) && /Teeworlds server 'Friday DM'/.test(alice) && /NetBIOS BOB/.test(bob) ? r.stdout : null
  }, 30_000, 500)
  t.regex(list, /^room friday: 2 peer\(s\)/)
  t.log(`complete ${Date.now() - restarted} ms after the hub restarted:\n${list}`)
})

serial('after the peers exit, the hosts\' rules, routes and nftables are what they were before', async t => {
  const whileUp = await o.topo.run(ns('bob'), NFT, ['list', 'tables'])
  t.regex(whileUp.stdout, /table ip overlan_ovl0/, 'the broadcast copy was installed')
  for (const n of ['alice', 'bob']) {
    t.is(await o.peers.get(n)!.stop(), 0)
    t.is(await routing(n), before[n]!, `${n}: routing restored`)
  }
  t.is(await routing('carol'), before.carol!, 'a host that never joined is untouched')
  for (const n of ['alice', 'bob']) t.false(o.peers.get(n)!.output.includes('DEP0112'), `${n}: no deprecation warning (SO_BINDTODEVICE without _handle)`)
  const r = await o.topo.run(ns('bob'), 'node', [PEER, 'status'])
  t.not(r.code, 0)
})
