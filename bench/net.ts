/**
 * Side-by-side network benchmark in namespaces, the topology of ../shared/PERFORMANCE.md:
 * a hub namespace and two peer namespaces on separate underlay subnets. For the relayed
 * variants forwarding is off in the hub, so every frame crosses a user-space hub; for the
 * peer-to-peer ones the hub namespace routes between the underlays (as the internet would).
 * Each variant gets fresh namespaces.
 *   bridge          a Linux bridge in the hub namespace (the physical limit)
 *   openvpn         OpenVPN 2.6 TAP, TCP + TLS, client-to-client, as configured in PERFORMANCE.md
 *   tinc            tinc 1.0 switch mode, UDP peer to peer (bench/tinc.ts): the C anchor of the direct path
 *   overlan-direct  the real hub and peers, frames peer to peer over the encrypted UDP path
 *   overlan-wss     the real hub and peers (--no-direct), WebSocket over TLS through the hub
 *   overlan-ws      the same with the hub behind --no-tls
 *   overlan-direct-cold, overlan-wss-cold   the same with keep-warm off (--keep-warm-ms 0 on
 *                   hub and peers): what core/keep-warm.ts buys, and what it costs, in one run
 * Per variant: idle RTT (200 pings), TCP throughput (iperf3, one stream, 10 s) with pings
 * during it (RTT under load) and CPU of hub and peers per forwarded frame, 64-byte UDP
 * packets/s delivered (iperf3 -u -l 64 -b 0), then TCP again with 1 % random loss on every
 * underlay link (nftables numgen in each namespace's prerouting: no netem).
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Topology, waitForOutput, type Proc } from '../tests/support/netns.js'
import { Overlay } from '../tests/support/overlay.js'
import { waitFor } from '../tests/support/wait.js'
import { measurePasses, UDP_PING, type PassResult } from './passes.js'
import { measureSched, type SchedResult } from './sched.js'
import { startTinc } from './tinc.js'
import { PEER } from '../tests/support/overlay.js'
import { cpuUs, median, quantile } from './stats.js'

export const VARIANTS = ['bridge', 'openvpn', 'tinc', 'overlan-direct', 'overlan-wss', 'overlan-ws', 'overlan-direct-cold', 'overlan-wss-cold'] as const
/** Variants whose frames go peer to peer (the hub namespace routes). */
const P2P: ReadonlySet<Variant> = new Set(['tinc', 'overlan-direct', 'overlan-direct-cold'])
export type Variant = typeof VARIANTS[number]

export interface NetResult {
  variant: Variant
  tcpMbit: number
  rttIdleMs: number
  rttIdleP99Ms: number
  rttLoadMs: number
  udpKpps: number
  /** CPU µs per forwarded frame (data and ACKs) during the TCP test; null for the bridge. */
  hubUsPerFrame: number | null
  peerUsPerFrame: number | null
  retransmits: number
  /** Idle RTT split into passes through the user-space processes (null for the bridge). */
  passes: PassResult | null
  /** TCP throughput with 1 % random loss on every underlay link. */
  tcpLossMbit: number
  /** CPU as % of one core during the idle pings (a trickle, as a game sends): the hub, each peer on average. */
  idleCpuPct: { hub: number | null, peer: number | null }
  /** overlan-direct: ms from the second peer's join to both saying `direct`. */
  directSetupMs: number | null
  /** `--sched`: the idle round trip split into hops from the scheduler's tracepoints (relayed variants; absent otherwise). */
  sched?: SchedResult | null
}

interface Running {
  topo: Topology
  ns: { a: string, b: string }
  ip: { a: string, b: string }
  tap: { a: string, b: string }
  pids: { hub: number[], peers: number[] }
  stop: () => Promise<void>
  directSetupMs?: number
}

const sh = (args: string[]): string => execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'ignore'] })

/** An EC P-256 PKI for OpenVPN (CA, server, two clients), made once per run with openssl. */
export const makePki = (dir: string): void => {
  mkdirSync(dir, { recursive: true })
  const o = (...a: string[]): string => sh(['openssl', ...a])
  o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem'), '-days', '2', '-subj', '/CN=bench-ca')
  for (const [name, ext] of [['server', 'extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyAgreement'], ['a', 'extendedKeyUsage=clientAuth'], ['b', 'extendedKeyUsage=clientAuth']] as const) {
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`)
    o('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.csr`), '-subj', `/CN=${name}`)
    o('x509', '-req', '-in', join(dir, `${name}.csr`), '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', join(dir, `${name}.pem`), '-days', '2', '-extfile', join(dir, `${name}.ext`))
  }
}

const ipIn = async (topo: Topology, ns: string, args: string[]): Promise<void> => {
  const r = await topo.run(ns, 'ip', args)
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')} in ${ns}: ${r.stderr}`)
}

const startBridge = async (): Promise<Running> => {
  const topo = new Topology('bbr', false)
  await topo.init()
  const a = await topo.addHost('a')
  const b = await topo.addHost('b')
  for (const args of [['link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'], ['link', 'set', 'u1', 'master', 'br0'], ['link', 'set', 'u2', 'master', 'br0'], ['link', 'set', 'br0', 'up']]) await ipIn(topo, topo.hubNs, args)
  await ipIn(topo, a.ns, ['addr', 'add', '10.200.0.1/24', 'dev', 'u0'])
  await ipIn(topo, b.ns, ['addr', 'add', '10.200.0.2/24', 'dev', 'u0'])
  return { topo, ns: { a: a.ns, b: b.ns }, ip: { a: '10.200.0.1', b: '10.200.0.2' }, tap: { a: 'u0', b: 'u0' }, pids: { hub: [], peers: [] }, stop: () => topo.cleanup() }
}

const startOpenvpn = async (pki: string): Promise<Running> => {
  const topo = new Topology('bvpn', false)
  await topo.init()
  const hosts = { a: await topo.addHost('a'), b: await topo.addHost('b') }
  for (const ns of [topo.hubNs, hosts.a.ns, hosts.b.ns]) {
    await ipIn(topo, ns, ['tuntap', 'add', 'dev', 'tap0', 'mode', 'tap'])
    await ipIn(topo, ns, ['link', 'set', 'tap0', 'up'])
  }
  await ipIn(topo, hosts.a.ns, ['addr', 'add', '10.200.0.1/24', 'dev', 'tap0'])
  await ipIn(topo, hosts.b.ns, ['addr', 'add', '10.200.0.2/24', 'dev', 'tap0'])
  const common = ['--dev', 'tap0', '--dev-type', 'tap', '--disable-dco', '--persist-tun', '--ca', join(pki, 'ca.pem'), '--verb', '3']
  const server = topo.start('openvpn-hub', topo.hubNs, 'openvpn', ['--mode', 'server', '--tls-server', '--proto', 'tcp-server', '--port', '443', '--dh', 'none',
    '--client-to-client', '--keepalive', '10', '60', '--cert', join(pki, 'server.pem'), '--key', join(pki, 'server.key'), ...common])
  await waitForOutput(server, /Initialization Sequence Completed/, 15_000)
  const clients: Proc[] = []
  for (const name of ['a', 'b'] as const) {
    const c = topo.start(`openvpn-${name}`, hosts[name].ns, 'openvpn', ['--client', '--proto', 'tcp-client', '--remote', hosts[name].hubIp, '443', '--nobind', '--remote-cert-tls', 'server',
      '--cert', join(pki, `${name}.pem`), '--key', join(pki, `${name}.key`), ...common])
    await waitForOutput(c, /Initialization Sequence Completed/, 20_000)
    clients.push(c)
  }
  return { topo, ns: { a: hosts.a.ns, b: hosts.b.ns }, ip: { a: '10.200.0.1', b: '10.200.0.2' }, tap: { a: 'tap0', b: 'tap0' }, pids: { hub: [server.child.pid!], peers: clients.map(c => c.child.pid!) }, stop: () => topo.cleanup() }
}

const startOverlan = async (tls: boolean, direct: boolean, warm: boolean): Promise<Running> => {
  const o = new Overlay(direct ? 'bdir' : tls ? 'bwss' : 'bws', direct)
  o.tls = tls
  await o.init(['a', 'b'])
  const cold = warm ? [] : ['--keep-warm-ms', '0']
  await o.startHub(cold)
  const extra = [...(direct ? [] : ['--no-direct']), ...cold]
  await o.startPeer('a', 'bench', extra)
  await o.startPeer('b', 'bench', extra)
  const joined = Date.now()
  let directSetupMs: number | undefined
  if (direct) {
    const path = async (n: string): Promise<string | undefined> => {
      const r = await o.topo.run(o.topo.host(n).ns, 'node', [PEER, 'status', '--json'])
      return (JSON.parse(r.stdout) as { members: Array<{ path: string }> }).members[0]?.path
    }
    await waitFor('overlan: a and b direct', async () => await path('a') === 'direct' && await path('b') === 'direct', 20_000, 50)
    directSetupMs = Date.now() - joined
  }
  const ip = { a: await o.ipOf('a'), b: await o.ipOf('b') }
  return {
    topo: o.topo, ns: { a: o.topo.host('a').ns, b: o.topo.host('b').ns }, ip, tap: { a: 'ovl0', b: 'ovl0' },
    pids: { hub: [o.hub!.child.pid!], peers: [o.peers.get('a')!.child.pid!, o.peers.get('b')!.child.pid!] },
    stop: () => o.cleanup(),
    ...(directSetupMs !== undefined ? { directSetupMs } : {})
  }
}

const startTincVariant = async (): Promise<Running> => {
  const t = await startTinc()
  return { topo: t.topo, ns: t.ns, ip: { a: '10.200.0.1', b: '10.200.0.2' }, tap: { a: 'tinc0', b: 'tinc0' }, pids: { hub: [], peers: t.pids }, stop: () => t.topo.cleanup() }
}

/** 1 % random loss on every underlay link, in each namespace's prerouting (both directions, every hop). */
const setLoss = async (r: Running, on: boolean): Promise<void> => {
  for (const ns of [r.topo.hubNs, r.ns.a, r.ns.b]) {
    const args = on
      ? ['-f', '-']
      : ['delete', 'table', 'ip', 'bench_loss']
    if (on) {
      const rules = 'table ip bench_loss {\n chain pre {\n  type filter hook prerouting priority -300;\n  iifname "u*" numgen random mod 100 < 1 drop\n }\n}\n'
      execFileSync('ip', ['netns', 'exec', ns, '/usr/sbin/nft', ...args], { input: rules, timeout: 10_000 })
    } else {
      execFileSync('ip', ['netns', 'exec', ns, '/usr/sbin/nft', ...args], { timeout: 10_000 })
    }
  }
}

const pings = async (topo: Topology, ns: string, ip: string, count: number, intervalS: number): Promise<number[]> => {
  const r = await topo.run(ns, 'ping', ['-n', '-c', String(count), '-i', String(intervalS), '-W', '1', ip], (count * intervalS + 10) * 1000)
  return [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map(m => Number(m[1]))
}

const txPackets = async (topo: Topology, ns: string, dev: string): Promise<number> =>
  Number((await topo.run(ns, 'cat', [`/sys/class/net/${dev}/statistics/tx_packets`])).stdout.trim())

/** One iperf3 run against a one-off server on b; returns the client's JSON. */
const iperf = async (r: Running, args: string[], seconds: number): Promise<any> => {
  const server = r.topo.start('iperf3-server', r.ns.b, 'iperf3', ['-s', '-1', '-B', r.ip.b, '--forceflush'])
  await waitForOutput(server, /Server listening/, 10_000)
  const c = await r.topo.run(r.ns.a, 'iperf3', ['-c', r.ip.b, '-t', String(seconds), '-J', ...args], (seconds + 30) * 1000)
  await server.stop(2000)
  try { return JSON.parse(c.stdout) } catch { throw new Error(`iperf3 ${args.join(' ')}: ${c.stdout.slice(-300)} ${c.stderr}`) }
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
/** CPU µs so far of the hub's and the peers' processes. */
const cpuOf = (r: Running): { hub: number[], peers: number[] } => ({ hub: r.pids.hub.map(cpuUs), peers: r.pids.peers.map(cpuUs) })

/**
 * `idleOnly`: idle RTT, its passes and the CPU during it, nothing else (quick A/B runs: `--only idle`).
 * `sched`: then 200 more idle pings under `perf sched record`, split into hops (bench/sched.ts).
 */
export const measureVariant = async (variant: Variant, pki: string, tcpSeconds: number, idleOnly = false, sched = false): Promise<NetResult> => {
  const r = variant === 'bridge' ? await startBridge() : variant === 'openvpn' ? await startOpenvpn(pki) : variant === 'tinc' ? await startTincVariant() : await startOverlan(variant !== 'overlan-ws', P2P.has(variant), !variant.endsWith('-cold'))
  try {
    await waitFor(`${variant}: a reaches b`, async () => (await r.topo.run(r.ns.a, 'ping', ['-c', '1', '-W', '1', r.ip.b])).code === 0, 20_000, 200)
    await pings(r.topo, r.ns.a, r.ip.b, 20, 0.01) // warm the path (ARP, MAC tables, JIT)
    const idleCpu0 = { ...cpuOf(r), at: performance.now() }
    const idle = await pings(r.topo, r.ns.a, r.ip.b, 200, 0.05) // as PERFORMANCE.md (-i 0.05)
    const idleCpu1 = { ...cpuOf(r), at: performance.now() }
    const idleUs = (idleCpu1.at - idleCpu0.at) * 1000
    const pct = (a: number[], b: number[]): number | null => a.length === 0 ? null : 100 * (sum(b) - sum(a)) / idleUs / a.length
    const passes = variant === 'bridge' ? null : await measurePasses(r.topo, r.ns, r.tap, { a: '172.30.1.2', b: '172.30.2.2' }, () => pings(r.topo, r.ns.a, r.ip.b, 100, 0.05), P2P.has(variant) ? UDP_PING : undefined)
    const idleCpuPct = { hub: pct(idleCpu0.hub, idleCpu1.hub), peer: pct(idleCpu0.peers, idleCpu1.peers) }
    // Only where every frame goes peer -> hub -> peer through three processes.
    const hops = sched && !P2P.has(variant) && r.pids.hub.length === 1 && r.pids.peers.length === 2
      ? await measureSched([r.pids.peers[0]!, r.pids.peers[1]!], r.pids.hub[0]!, () => pings(r.topo, r.ns.a, r.ip.b, 200, 0.05))
      : undefined
    if (idleOnly) {
      return {
        variant, tcpMbit: NaN, rttIdleMs: median(idle), rttIdleP99Ms: quantile(idle, 0.99), rttLoadMs: NaN, udpKpps: NaN, hubUsPerFrame: null, peerUsPerFrame: null,
        retransmits: NaN, passes, tcpLossMbit: NaN, idleCpuPct, directSetupMs: r.directSetupMs ?? null, ...(hops === undefined ? {} : { sched: hops })
      }
    }

    const cpu0 = cpuOf(r)
    const frames0 = (await txPackets(r.topo, r.ns.a, r.tap.a)) + (await txPackets(r.topo, r.ns.b, r.tap.b))
    const loaded = pings(r.topo, r.ns.a, r.ip.b, Math.floor(tcpSeconds / 0.2) - 5, 0.2)
    const tcp = await iperf(r, [], tcpSeconds)
    const frames = (await txPackets(r.topo, r.ns.a, r.tap.a)) + (await txPackets(r.topo, r.ns.b, r.tap.b)) - frames0
    const cpu1 = cpuOf(r)
    const load = await loaded

    const udp = await iperf(r, ['-u', '-l', '64', '-b', '0'], 4)
    const u = udp.end.sum
    await setLoss(r, true)
    const lossy = await iperf(r, [], tcpSeconds)
    await setLoss(r, false)
    return {
      variant,
      tcpMbit: tcp.end.sum_received.bits_per_second / 1e6,
      rttIdleMs: median(idle),
      rttIdleP99Ms: quantile(idle, 0.99),
      rttLoadMs: median(load),
      udpKpps: (u.packets - u.lost_packets) / u.seconds / 1000,
      hubUsPerFrame: r.pids.hub.length === 0 ? null : (sum(cpu1.hub) - sum(cpu0.hub)) / frames,
      // Each frame passes two peers (the sender's and the receiver's): µs per peer pass.
      peerUsPerFrame: r.pids.peers.length === 0 ? null : (sum(cpu1.peers) - sum(cpu0.peers)) / frames / 2,
      retransmits: tcp.end.sum_sent.retransmits ?? 0,
      passes,
      tcpLossMbit: lossy.end.sum_received.bits_per_second / 1e6,
      idleCpuPct,
      directSetupMs: r.directSetupMs ?? null,
      ...(hops === undefined ? {} : { sched: hops })
    }
  } finally {
    await r.stop()
  }
}
