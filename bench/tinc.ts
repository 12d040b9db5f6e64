/**
 * tinc 1.0 in switch mode, peer to peer over UDP: the C anchor for the direct path. Nodes a
 * and b only (a ConnectTo b), each a host file with its underlay Address; Debian's defaults
 * (Cipher aes-256-cbc, Digest sha256, 2048-bit RSA from `tincd -K`). The hub namespace
 * routes between the underlays, so a↔b is one UDP hop through a router, as overlan-direct.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Topology } from '../tests/support/netns.js'
import { waitFor } from '../tests/support/wait.js'

export interface TincRunning {
  topo: Topology
  ns: { a: string, b: string }
  pids: number[]
}

export const startTinc = async (): Promise<TincRunning> => {
  const topo = new Topology('btinc')
  await topo.init()
  const hosts = { a: await topo.addHost('a'), b: await topo.addHost('b') }
  const underlay = { a: '172.30.1.2', b: '172.30.2.2' }
  const inner = { a: '10.200.0.1', b: '10.200.0.2' }
  for (const n of ['a', 'b'] as const) {
    const dir = join(topo.dir, `tinc-${n}`)
    mkdirSync(join(dir, 'hosts'), { recursive: true })
    writeFileSync(join(dir, 'tinc.conf'), `Name = ${n}\nMode = switch\nDeviceType = tap\nInterface = tinc0\nAddressFamily = ipv4\n${n === 'a' ? 'ConnectTo = b\n' : ''}`)
    writeFileSync(join(dir, 'tinc-up'), `#!/bin/sh\nip addr add ${inner[n]}/24 dev $INTERFACE\nip link set $INTERFACE up\n`)
    chmodSync(join(dir, 'tinc-up'), 0o755)
    writeFileSync(join(dir, 'hosts', n), `Address = ${underlay[n]}\nPort = 655\n`)
    execFileSync('tincd', ['-c', dir, '-K2048'], { stdio: ['ignore', 'ignore', 'ignore'], timeout: 60_000 })
  }
  for (const [from, to] of [['a', 'b'], ['b', 'a']] as const) copyFileSync(join(topo.dir, `tinc-${from}`, 'hosts', from), join(topo.dir, `tinc-${to}`, 'hosts', from))
  const procs = (['a', 'b'] as const).map(n => topo.start(`tinc-${n}`, hosts[n].ns, 'tincd', ['-c', join(topo.dir, `tinc-${n}`), '-D', '-d1', '--pidfile', join(topo.dir, `tinc-${n}.pid`)]))
  await waitFor('tinc: a reaches b', async () => (await topo.run(hosts.a.ns, 'ping', ['-c', '1', '-W', '1', inner.b])).code === 0, 30_000, 300)
  return { topo, ns: { a: hosts.a.ns, b: hosts.b.ns }, pids: procs.map(p => p.child.pid!) }
}
