/**
 * `npm run demo` (as root): a hub and two peers in network namespaces on this machine,
 * then a ping and an arping between the peers, printed step by step. Everything it
 * creates is removed at the end, also on failure or Ctrl-C.
 */
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Topology, netnsUnavailable, waitForOutput } from '../tests/support/netns.js'

const ROOT = resolve(fileURLToPath(import.meta.url), '../..')
const HUB = join(ROOT, 'dist/hub/cli.js')
const PEER = join(ROOT, 'dist/peer/cli.js')

const say = (s: string): void => { process.stdout.write(`\n== ${s}\n`) }
const show = (s: string): void => { process.stdout.write(s.split('\n').filter(Boolean).map(l => `   ${l}`).join('\n') + '\n') }

const main = async (): Promise<number> => {
  const why = netnsUnavailable()
  if (why !== null) { process.stderr.write(`demo: ${why}\n`); return 2 }
  const topo = new Topology('demo')
  const cleanup = async (): Promise<void> => { say('cleaning up: stopping peers and hub, deleting namespaces'); await topo.cleanup() }
  process.once('SIGINT', () => { void cleanup().then(() => process.exit(130)) })
  try {
    say(`creating namespaces ${topo.hubNs} (hub) and two peer hosts, each linked to the hub by its own veth`)
    await topo.init()
    const alice = await topo.addHost('alice')
    const bob = await topo.addHost('bob')
    show(`alice underlay 172.30.1.2 -> hub 172.30.1.1\nbob   underlay 172.30.2.2 -> hub 172.30.2.1 (no route between alice and bob except through the hub)`)

    say('starting the hub on its embedded default (wss on :443, self-signed certificate, rooms created on first join)')
    const hub = topo.start('hub', topo.hubNs, 'node', [HUB, '--state', join(topo.dir, 'hub'), '--token', 'demo-token-123'])
    await waitForOutput(hub, /peer join --hub/)
    show(hub.stdout)

    const ca = join(topo.dir, 'hub/tls/hub-cert.pem')
    for (const [name, host] of [['alice', alice], ['bob', bob]] as const) {
      say(`${name}: peer join --room friday`)
      const p = topo.start(name, host.ns, 'node', [PEER, 'join', '--hub', `wss://${host.hubIp}`, '--room', 'friday', '--token', 'demo-token-123',
        '--ca', ca, '--name', name, '--state', join(topo.dir, name)])
      await waitForOutput(p, /joined room/)
      show(p.stdout)
    }

    const bobStatus = JSON.parse((await topo.run(bob.ns, 'node', [PEER, 'status', '--json'])).stdout) as { address: string }
    const bobIp = bobStatus.address.split('/')[0]!
    say(`alice: ping -c 3 ${bobIp} (bob, across the hub)`)
    const ping = await topo.run(alice.ns, 'ping', ['-c', '3', '-i', '0.3', '-W', '2', bobIp])
    show(ping.stdout)
    say(`alice: arping -c 2 -I ovl0 ${bobIp}`)
    const arping = await topo.run(alice.ns, 'arping', ['-c', '2', '-w', '5', '-I', 'ovl0', bobIp])
    show(arping.stdout)
    say('alice: peer status')
    show((await topo.run(alice.ns, 'node', [PEER, 'status'])).stdout)
    const ok = ping.code === 0 && arping.code === 0
    say(ok ? 'demo OK: alice and bob share one Ethernet segment through the hub' : 'demo FAILED: see the output above')
    return ok ? 0 : 1
  } finally {
    await cleanup()
  }
}

main().then(code => process.exit(code), (e: unknown) => { process.stderr.write(`demo: ${String(e)}\n`); process.exit(1) })
