/**
 * Limited broadcasts of any game reach the room (issue: "every LAN game finds the room").
 * alice and bob are hosts whose default route is their underlay, as a gamer's PC; nothing
 * here names a port to the overlay. A plain socket bound to no interface sends to
 * 255.255.255.255: the host's own network still gets it, and the room gets one copy with
 * the sender's overlay address as its source. The TAP carries its broadcast address.
 */
import test from 'ava'
import { join } from 'node:path'
import { netnsUnavailable, waitForOutput } from '../support/netns.js'
import { Overlay, ROOT, UDP_TOOL } from '../support/overlay.js'
import { waitFor } from '../support/wait.js'
import { skipWithReason } from '../support/skip.js'

// By path: under npm, PATH starts with node_modules/.bin, which has a `nft` of @vercel/nft's.
const NFT = '/usr/sbin/nft'
const skip = netnsUnavailable(['ip', 'tcpdump', NFT])
const serial = skip === null ? test.serial : test.serial.skip
if (skip !== null) skipWithReason('e2e broadcast tests', skip)

const o = new Overlay('bcast')
const ns = (name: string): string => o.topo.host(name).ns
const ip: Record<string, string> = {}
const PORT = 47624 // no game list names it
const lines = (text: string, re: RegExp): string[] => text.split('\n').filter(l => re.test(l))
/** What a run leaves on a host: rules, routes outside the TAP's own, nftables. */
const hostState = async (name: string): Promise<string> => {
  const rules = await o.topo.run(ns(name), 'ip', ['rule', 'show'])
  const routes = await o.topo.run(ns(name), 'ip', ['route', 'show', 'table', 'all'])
  const nft = await o.topo.run(ns(name), NFT, ['list', 'ruleset'])
  return [rules.stdout, routes.stdout.split('\n').filter(l => !/ dev ovl0 /.test(l) && !/^(local|broadcast|multicast|ff00|fe80|anycast)/.test(l)).join('\n'), nft.stdout].join('\n--\n')
}
const before: Record<string, string> = {}

if (skip === null) {
  test.before(async () => {
    await o.init(['alice', 'bob'])
    for (const n of ['alice', 'bob']) before[n] = await hostState(n)
    await o.startHub()
    for (const n of ['alice', 'bob']) {
      await o.startPeer(n, 'friday')
      ip[n] = await o.ipOf(n)
    }
    await waitFor('the copy rules on both hosts', async () => {
      for (const n of ['alice', 'bob']) if (!(await o.topo.run(ns(n), NFT, ['list', 'tables'])).stdout.includes('overlan_ovl0')) return false
      return true
    }, 10_000, 100)
  })
  test.after.always(async () => { await o.cleanup() })
}

serial('the TAP carries its broadcast address, as getifaddrs / SIOCGIFBRDADDR report it (OpenTTD-style)', async t => {
  const j = JSON.parse((await o.topo.run(ns('bob'), 'ip', ['-j', 'addr', 'show', 'dev', 'ovl0'])).stdout) as Array<{ addr_info: Array<{ family: string, local: string, broadcast?: string }> }>
  const v4 = j[0]!.addr_info.find(a => a.family === 'inet')!
  t.is(v4.local, ip.bob!)
  t.is(v4.broadcast, '10.77.0.255')
  const q = await o.topo.run(ns('bob'), 'node', [join(ROOT, 'tests/support/ifaddr.mjs'), 'ovl0'])
  t.is(q.stdout.trim(), '10.77.0.255', q.stderr)
})

serial('an announcement to 255.255.255.255 on a port no list names reaches the room once, from the overlay address, and still the underlay', async t => {
  const listen = o.topo.start('alice-listen', ns('alice'), 'node', [UDP_TOOL, 'listen', String(PORT)])
  await waitForOutput(listen, /listening/)
  const underlay = o.topo.start('bob-u0', ns('bob'), 'tcpdump', ['-i', 'u0', '-n', '-l', '-U', `udp port ${PORT}`])
  await waitForOutput(underlay, /listening on u0/)
  const sent = await o.topo.run(ns('bob'), 'node', [UDP_TOOL, 'send', '0.0.0.0', '255.255.255.255', String(PORT), 'game-announce', '5', '100'])
  t.is(sent.code, 0, sent.stderr)
  await waitFor('five announcements at alice', () => lines(listen.output, /game-announce/).length >= 5, 5000)
  await waitFor('five on bob\'s underlay', () => lines(underlay.output, /> 255\.255\.255\.255\./).length >= 5, 5000)
  // A moment for any duplicate to show up: the next send is a marker that must arrive after it.
  await o.topo.run(ns('bob'), 'node', [UDP_TOOL, 'send', '0.0.0.0', '255.255.255.255', String(PORT), 'marker', '1'])
  await waitFor('the marker', () => /marker/.test(listen.output), 5000)
  const heard = lines(listen.output, /game-announce/)
  t.is(heard.length, 5, 'exactly once each')
  t.true(heard.every(l => l.startsWith(`${ip.bob!} `)), `from bob's overlay address: ${heard.join(' | ')}`)
  t.is(lines(underlay.output, /> 255\.255\.255\.255\./).filter(l => l.includes(' IP 172.30.')).length, lines(underlay.output, /> 255\.255\.255\.255\./).length, 'the underlay copy keeps the physical source')
  await listen.stop()
  await underlay.stop()
})

serial('a broadcast query on such a port is answered both ways, the answer coming back over the overlay', async t => {
  for (const [asker, server] of [['bob', 'alice'], ['alice', 'bob']] as const) {
    const srv = o.topo.start(`${server}-answer`, ns(server), 'node', [UDP_TOOL, 'answer', String(PORT + 1), `server-${server}`])
    await waitForOutput(srv, /listening/)
    const r = await waitFor(`${server}'s answer to ${asker}`, async () => {
      const q = await o.topo.run(ns(asker), 'node', [UDP_TOOL, 'query', '255.255.255.255', String(PORT + 1), `who-is-there-${asker}`, '700'])
      return q.stdout.includes(`server-${server}`) ? q.stdout : null
    }, 8000, 100)
    t.true(r.includes(`${ip[server]!} server-${server}`), r)
    t.true(srv.output.includes(`${ip[asker]!} who-is-there-${asker}`), `the server saw the asker's overlay address: ${srv.output}`)
    await srv.stop()
  }
})

serial('after the peers exit the hosts are as found — also after a SIGKILL and a restart', async t => {
  t.not(await hostState('bob'), before.bob!, 'the copy rules were installed')
  // SIGKILL leaves bob's nftables table behind; the next start removes it first.
  o.peers.get('bob')!.child.kill('SIGKILL')
  await o.peers.get('bob')!.exited
  t.regex((await o.topo.run(ns('bob'), NFT, ['list', 'tables'])).stdout, /overlan_ovl0/, 'a SIGKILL leaves the table')
  await o.startPeer('bob', 'friday')
  await waitFor('bob\'s rules back once', async () => (await o.topo.run(ns('bob'), NFT, ['list', 'ruleset'])).stdout.split('table ip overlan_ovl0').length === 2, 10_000, 100)
  for (const n of ['alice', 'bob']) {
    const proc = o.peers.get(n)!
    t.is(await proc.stop(), 0, `${n} exits cleanly on SIGTERM; its output ends:\n${proc.output.slice(-3000)}`)
    t.is(await hostState(n), before[n]!, `${n}: rules, routes and nftables as found`)
  }
})
