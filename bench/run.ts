/**
 * `npm run bench` — overlan against OpenVPN and a Linux bridge, side by side in interleaved
 * rounds, plus forwarding micro-benchmarks and the hub scale benchmark. Prints a table and
 * writes it (Markdown and JSON) to bench/results/ with the date, versions and machine.
 *   npm run bench [-- --rounds 3] [--only net,floor,micro,cold,scale] [--tcp-seconds 10] [--peers 1000] [--rooms 100]
 *   npm run bench -- --only idle [--rounds 5] [--variants openvpn,overlan-wss]   (idle RTT and its passes only: quick A/B runs)
 *   npm run bench -- --only idle,floor [--sched]   (with Node's own TLS floor, bench/floor.ts: what TLS costs a bare echo)
 *                 [--variants bridge,openvpn,tinc,overlan-direct,overlan-wss,overlan-ws]
 *   npm run bench -- --only cluster [--cluster-peers 3000] [--cluster-rooms 300]   (root: PostgreSQL as the postgres user)
 * Needs root for the network part (namespaces, TAP devices) and iperf3, openvpn, tinc, nftables.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { coldTable, runCold } from './cold.js'
import { floorTable, runFloorRounds } from './floor.js'
import { runMicro, type MicroResult } from './micro.js'
import { makePki, measureVariant, VARIANTS, type NetResult, type Variant } from './net.js'
import { PASSES, type PassResult } from './passes.js'
import { HOPS, perfAvailable, type SchedResult } from './sched.js'
import { runScale, type ScaleResult } from './scale.js'
import { runCluster, type ClusterResult } from './cluster.js'
import { median } from './stats.js'

const ROOT = resolve(fileURLToPath(import.meta.url), '../..')
const { values: v } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    only: { type: 'string', default: 'net,floor,micro,cold,scale' },
    'tcp-seconds': { type: 'string', default: '10' },
    peers: { type: 'string', default: '1000' },
    rooms: { type: 'string', default: '100' },
    'cluster-peers': { type: 'string', default: '3000' },
    'cluster-rooms': { type: 'string', default: '300' },
    /** A subset of the network variants (comma-separated); ratios need openvpn and tinc among them. */
    variants: { type: 'string', default: VARIANTS.join(',') },
    /** Also split the idle round trip into hops from the scheduler's tracepoints (needs perf: bench/sched.ts). */
    sched: { type: 'boolean', default: false }
  }
})
const variants = v.variants.split(',').filter((x): x is Variant => (VARIANTS as readonly string[]).includes(x))
const parts = new Set(v.only.split(','))
const rounds = Number(v.rounds)
const tcpSeconds = Number(v['tcp-seconds'])

const version = (cmd: string, args: string[], re: RegExp): string => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  return re.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'not installed'
}
const machine = {
  date: new Date().toISOString(),
  commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim(),
  cpu: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
  kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
  node: process.version,
  openvpn: version('openvpn', ['--version'], /^OpenVPN (\S+)/m),
  tinc: version('tincd', ['--version'], /^tinc version (\S+)/m),
  iperf3: version('iperf3', ['--version'], /^iperf (\S+)/m),
  ws: JSON.parse(readFileSync(join(ROOT, 'node_modules/ws/package.json'), 'utf8')).version as string
}

const f = (x: number | null, d = 1): string => x === null || !Number.isFinite(x) ? '–' : x.toFixed(d)

const runNet = async (idleOnly = false): Promise<{ rounds: NetResult[][], table: string }> => {
  if (process.getuid?.() !== 0) throw new Error('the network benchmark needs root (namespaces, TAP devices)')
  for (const c of ['iperf3', 'openvpn', 'tincd', 'openssl', 'ip', '/usr/sbin/nft', 'tcpdump']) if (spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0) throw new Error(`${c} is not installed (apt-get install iperf3 openvpn tinc openssl iproute2 nftables)`)
  if (v.sched && !perfAvailable()) throw new Error('--sched needs perf (apt-get install linux-perf)')
  const pki = mkdtempSync(join(tmpdir(), 'overlan-bench-pki-'))
  const all: NetResult[][] = []
  try {
    makePki(pki)
    for (let round = 0; round < rounds; round++) {
      // Rotate the order every round so no variant always runs first (or after the same one).
      const order = variants.map((_, i) => variants[(i + round) % variants.length]!)
      const results: NetResult[] = []
      for (const variant of order) {
        const r = await measureVariant(variant, pki, tcpSeconds, idleOnly, v.sched)
        results.push(r)
        console.log(`round ${round + 1}/${rounds} ${variant.padEnd(14)} TCP ${f(r.tcpMbit, 0)} Mbit/s (1 % loss ${f(r.tcpLossMbit, 0)})${r.directSetupMs !== null ? `, direct after ${r.directSetupMs} ms` : ''}, RTT ${f(r.rttIdleMs, 3)} ms (p99 ${f(r.rttIdleP99Ms, 3)}), loaded ${f(r.rttLoadMs, 2)} ms, UDP ${f(r.udpKpps, 1)} kpps, hub ${f(r.hubUsPerFrame)} µs/frame, peer ${f(r.peerUsPerFrame)} µs/frame, idle CPU hub ${f(r.idleCpuPct.hub, 1)} % peer ${f(r.idleCpuPct.peer, 1)} %, retr ${r.retransmits}${r.passes !== null ? `, passes ${PASSES.map(p => f(r.passes!.perPassMs[p], 3)).join('/')} ms` : ''}`)
      }
      all.push(results)
    }
  } finally {
    rmSync(pki, { recursive: true, force: true })
  }
  return { rounds: all, table: netTable(all, idleOnly) }
}

/** Medians over rounds of the idle-ping CPU (older result files have none). */
const idleCpu = (rs: NetResult[]): string => {
  const of = (k: 'hub' | 'peer'): string => {
    const xs = rs.map(r => r.idleCpuPct?.[k]).filter((x): x is number => typeof x === 'number')
    return xs.length === 0 ? '–' : f(median(xs), 1)
  }
  return `${of('hub')} / ${of('peer')}`
}

/** Medians over rounds; ratios are per round against OpenVPN of the same round, then the median. */
const netTable = (all: NetResult[][], idleOnly = false): string => {
  const present = VARIANTS.filter(v => all[0]?.some(x => x.variant === v) === true)
  const of = (v: Variant): NetResult[] => all.map(r => r.find(x => x.variant === v)).filter((x): x is NetResult => x !== undefined)
  const ratioTo = (to: Variant) => (v: Variant, key: keyof NetResult): number => median(all.map(r => (r.find(x => x.variant === v)?.[key] as number ?? NaN) / (r.find(x => x.variant === to)?.[key] as number ?? NaN)))
  const ratio = ratioTo('openvpn')
  const ratioTinc = ratioTo('tinc')
  const rows = present.map(variant => {
    const rs = of(variant)
    const m = (key: keyof NetResult): number => median(rs.map(r => r[key] as number))
    const range = (key: keyof NetResult, d: number): string => `${f(Math.min(...rs.map(r => r[key] as number)), d)}–${f(Math.max(...rs.map(r => r[key] as number)), d)}`
    return `| ${variant} | ${f(m('tcpMbit'), 0)} (${range('tcpMbit', 0)}) | ${f(ratio(variant, 'tcpMbit'), 2)} | ${f(m('rttIdleMs'), 3)} / ${f(m('rttIdleP99Ms'), 3)} | ${f(ratio(variant, 'rttIdleMs'), 2)} | ${f(m('rttLoadMs'), 2)} | ${f(ratio(variant, 'rttLoadMs'), 2)} | ${f(m('udpKpps'), 1)} | ${f(ratio(variant, 'udpKpps'), 2)} | ${f(rs[0]!.hubUsPerFrame === null ? null : m('hubUsPerFrame'))} / ${f(rs[0]!.peerUsPerFrame === null ? null : m('peerUsPerFrame'))} | ${idleCpu(rs)} | ${f(m('retransmits'), 0)} | ${f(m('tcpLossMbit'), 0)} (${range('tcpLossMbit', 0)}) | ${f(ratio(variant, 'tcpLossMbit'), 2)} |`
  })
  const direct = of('overlan-direct')
  const setup = direct.map(r => r.directSetupMs).filter((x): x is number => x !== null)
  const hubCpu = direct.map(r => r.hubUsPerFrame).filter((x): x is number => x !== null)
  const wssPass = of('overlan-wss').map(r => r.passes?.medianPassMs).filter((x): x is number => x !== undefined)
  const passTable = [
    'Idle RTT per pass through a user-space process (bench/passes.ts: tcpdump on every hop, 100 pings; medians over rounds, ms):',
    '',
    `| variant | ${PASSES.join(' | ')} | median pass | samples |`,
    `|---|${PASSES.map(() => '---|').join('')}---|---|`,
    ...present.filter(v => v !== 'bridge').map(variant => {
      const ps = of(variant).map(r => r.passes).filter((p): p is PassResult => p !== null)
      if (ps.length === 0) return `| ${variant} | ${PASSES.map(() => '–').join(' | ')} | – | 0 |`
      return `| ${variant} | ${PASSES.map(p => f(median(ps.map(x => x.perPassMs[p])), 3)).join(' | ')} | ${f(median(ps.map(x => x.medianPassMs)), 3)} | ${ps.reduce((n, x) => n + x.samples, 0)} |`
    })
  ]
  const schedRows = present.flatMap(variant => {
    const ss = of(variant).map(r => r.sched).filter((x): x is SchedResult => x !== null && x !== undefined)
    if (ss.length === 0) return []
    const hop = (h: typeof HOPS[number], k: 'delayMs' | 'workMs'): string => f(median(ss.map(x => x.hops[h][k])), 3)
    return [`| ${variant} | ${f(median(ss.map(x => x.rttMs)), 3)} | ${HOPS.map(h => `${hop(h, 'delayMs')} + ${hop(h, 'workMs')}`).join(' | ')} | ${ss.reduce((n, x) => n + x.samples, 0)} |`]
  })
  if (schedRows.length > 0) {
    passTable.push('',
      'Idle round trip per hop without tcpdump (bench/sched.ts: perf sched record, 200 more pings; delay from the wake-up to running + work until it wakes the next process; medians over rounds, ms):',
      '',
      `| variant | ping to ping | ${HOPS.join(' | ')} | samples |`,
      `|---|---|${HOPS.map(() => '---|').join('')}---|`,
      ...schedRows)
  }
  if (idleOnly) {
    return [
      `Idle RTT only (--only idle), ${all.length} interleaved round(s): 200 pings 50 ms apart; median (min–max over rounds); ×ovpn, ×tinc = median of per-round ratios.`,
      '',
      '| variant | RTT idle median ms | p99 ms | ×ovpn | ×tinc | per-round ×ovpn | CPU % of a core during the pings, hub / peer |',
      '|---|---|---|---|---|---|---|',
      ...present.map(variant => {
        const rs = of(variant)
        const perRound = all.map(r => (r.find(x => x.variant === variant)?.rttIdleMs ?? NaN) / (r.find(x => x.variant === 'openvpn')?.rttIdleMs ?? NaN))
        return `| ${variant} | ${f(median(rs.map(r => r.rttIdleMs)), 3)} (${f(Math.min(...rs.map(r => r.rttIdleMs)), 3)}–${f(Math.max(...rs.map(r => r.rttIdleMs)), 3)}) | ${f(median(rs.map(r => r.rttIdleP99Ms)), 3)} | ${f(ratio(variant, 'rttIdleMs'), 2)} | ${f(ratioTinc(variant, 'rttIdleMs'), 2)} | ${perRound.map(x => f(x, 2)).join(', ')} | ${idleCpu(rs)} |`
      }),
      '',
      ...passTable
    ].join('\n')
  }
  return [
    `Network, ${all.length} interleaved round(s); median (min–max); ×ovpn = median of per-round ratios to OpenVPN.`,
    '',
    '| variant | TCP Mbit/s | ×ovpn | RTT idle median / p99 ms | ×ovpn | RTT under TCP load ms | ×ovpn | UDP 64 B kpps | ×ovpn | CPU µs/frame hub / peer | CPU % of a core during the idle pings, hub / peer | TCP retransmits | TCP, 1 % loss per link, Mbit/s | ×ovpn |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `overlan-direct against the targets (median of per-round ratios): idle RTT ${f(ratio('overlan-direct', 'rttIdleMs'), 2)}× OpenVPN (≤ 0.8), ${f(ratioTinc('overlan-direct', 'rttIdleMs'), 2)}× tinc (≤ 1.5); ` +
      `TCP ${f(ratioTinc('overlan-direct', 'tcpMbit'), 2)}× tinc (≥ 1.0); TCP with 1 % loss ${f(ratio('overlan-direct', 'tcpLossMbit'), 2)}× OpenVPN (≥ 3); ` +
      `hub CPU during the transfer ${f(hubCpu.length > 0 ? median(hubCpu) : null, 3)} µs per frame; direct path up ${setup.length > 0 ? `${Math.min(...setup)}–${Math.max(...setup)}` : '–'} ms after the second join (≤ 2000; measured by polling peer status).`,
    ...(wssPass.length === 0 ? [] : ['',
    `overlan-wss against its targets (median of per-round ratios to OpenVPN): idle RTT ${f(ratio('overlan-wss', 'rttIdleMs'), 2)}× (≤ 1.0); RTT under TCP load ${f(ratio('overlan-wss', 'rttLoadMs'), 2)}× (≤ 0.3); ` +
      `TCP ${f(ratio('overlan-wss', 'tcpMbit'), 2)}× (≥ 1.6); 64-byte UDP ${f(ratio('overlan-wss', 'udpKpps'), 2)}× (≥ 1.5); median pass ${f(median(wssPass), 3)} ms (≤ 0.15).`]),
    '',
    ...passTable
  ].join('\n')
}

const microTable = (m: MicroResult[]): string => ['Forwarding path, in process (Room.forward, no I/O):', '', '| case | ns per frame | frames/s |', '|---|---|---|',
  ...m.map(r => `| ${r.name} | ${r.nsPerFrame} | ${(r.framesPerS / 1e6).toFixed(2)} M |`)].join('\n')

const scaleTable = (s: ScaleResult): string => [
  `Hub scale: ${s.peers} simulated peers (real wss, no TAP) in ${s.rooms} rooms on one hub process.`, '',
  '| measure | value |', '|---|---|',
  `| hub RSS before the peers | ${s.rssBaseMiB.toFixed(1)} MiB |`,
  `| RSS per connected idle peer | ${s.rssPerPeerKiB.toFixed(1)} KiB (V8 heap in use: ${s.heapPerPeerKiB.toFixed(1)} KiB) |`,
  `| all ${s.peers} joined (50 at a time) | ${s.connectAllS.toFixed(1)} s |`,
  `| join latency with ${s.peers} connected (TLS + hello → welcome), median / p99 | ${s.joinMedianMs.toFixed(1)} / ${s.joinP99Ms.toFixed(1)} ms |`,
  ...s.forward.map(x => `| forwarding at saturation, ${x.name} | ${(x.framesPerS / 1000).toFixed(0)} k frames/s, ${x.hubUsPerFrame.toFixed(2)} µs hub CPU per frame (hub at ${x.hubCpuPercent.toFixed(0)} % of a core) |`)
].join('\n')

const clusterTable = (c: ClusterResult): string => [
  `Cluster: ${c.hubs} hubs (real processes, wss on loopback), one PostgreSQL 15, ${c.peers} simulated peers in ${c.rooms} rooms, each joining through a random hub.`, '',
  '| measure | value |', '|---|---|',
  `| join one at a time on the loaded cluster (TLS + hello → welcome), through the owner, median / p99 | ${c.idleJoinMs.direct.median.toFixed(1)} / ${c.idleJoinMs.direct.p99.toFixed(1)} ms (${c.idleJoinMs.direct.n}) |`,
  `| the same through another hub (redirect, a second TLS + hello), median / p99 | ${c.idleJoinMs.redirected.median.toFixed(1)} / ${c.idleJoinMs.redirected.p99.toFixed(1)} ms (${c.idleJoinMs.redirected.n}) |`,
  `| redirect adds (median) | ${(c.idleJoinMs.redirected.median - c.idleJoinMs.direct.median).toFixed(1)} ms (target ≤ 20) |`,
  `| during the join storm (50 at a time): without / with a redirect, median | ${c.joinMs.direct.median.toFixed(1)} / ${c.joinMs.redirected.median.toFixed(1)} ms (${c.joinMs.direct.n} / ${c.joinMs.redirected.n} joins) |`,
  `| rooms per hub | ${c.roomsPerHub.join(' / ')} |`,
  `| hub RSS per connected peer (all hubs) | ${c.rssPerPeerKiB.toFixed(1)} KiB (V8 heap in use: ${c.heapPerPeerKiB.toFixed(1)} KiB) |`,
  `| kill -9 of the hub with the most rooms: its ${c.failover.peersMoved} peers all re-joined elsewhere | ${c.failover.allBackS.toFixed(1)} s after the kill (target ≤ 20), ${c.failover.sameLease} with the same IP and MAC |`,
  `| rooms per surviving hub after the failover | ${c.failover.roomsPerHub.join(' / ')} |`
].join('\n')

const sections: string[] = []
const json: Record<string, unknown> = { machine }
if (parts.has('net')) { const n = await runNet(); json.net = n.rounds; sections.push(n.table) } else if (parts.has('idle')) { const n = await runNet(true); json.idle = n.rounds; sections.push(n.table) }
if (parts.has('micro')) { const m = runMicro(); json.micro = m; sections.push(microTable(m)) }
if (parts.has('floor')) { const f = await runFloorRounds(rounds, 200, console.log); json.floor = f; sections.push(floorTable(f)) }
if (parts.has('cold')) { const c = await runCold(); json.cold = c; sections.push(c === null ? 'Cold pass pieces: skipped (no native binding).' : coldTable(c)) }
if (parts.has('cluster')) { const c = await runCluster(Number(v['cluster-peers']), Number(v['cluster-rooms']), console.log); json.cluster = c; sections.push(clusterTable(c)) }
if (parts.has('scale')) { const s = await runScale(Number(v.peers), Number(v.rooms), console.log); json.scale = s; sections.push(scaleTable(s)) }

const header = `# overlan bench — ${machine.date}\n\ncommit ${machine.commit} · ${machine.cpu} · kernel ${machine.kernel} · Node ${machine.node} · ws ${machine.ws} · OpenVPN ${machine.openvpn} · tinc ${machine.tinc} · iperf3 ${machine.iperf3}\n`
const report = `${header}\n${sections.join('\n\n')}\n`
console.log(`\n${report}`)
const dir = join(ROOT, 'bench/results')
mkdirSync(dir, { recursive: true })
const minute = machine.date.replace(/:\d\d\.\d+Z$/, '').replace(/[:T]/g, '-')
// Two runs in one minute (e.g. --only scale, then --only cluster) each keep their file.
let stamp = minute
for (let n = 2; existsSync(join(dir, `${stamp}.md`)); n++) stamp = `${minute}-${n}`
writeFileSync(join(dir, `${stamp}.md`), report)
writeFileSync(join(dir, `${stamp}.json`), JSON.stringify(json, null, 2) + '\n')
console.log(`written: bench/results/${stamp}.md and .json`)
