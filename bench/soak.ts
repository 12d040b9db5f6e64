/**
 * `npm run soak` — a benchmark, not a timed test: for 60 s (--seconds) a mix of every flood
 * of the hardening issue (bench/soak-attacker.ts, its own process) runs against one real hub
 * process while two honest peers in the same room exchange unicast frames. Prints and writes
 * to bench/results/: the hub's peak RSS, /healthz latency (p50/p99/max, polled every 100 ms
 * from a keep-alive connection), the honest peers' delivery, the hub's drop and refusal
 * counters, and whether the hub is alive at the end. Targets (README "Limits"): RSS never
 * above 300 MiB, /healthz p99 under 50 ms, honest unicast delivery 100 %, the hub alive.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, get } from 'node:https'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { encodeBatch } from '../core/protocol.js'
import { udp4Frame } from '../tests/support/frames.js'
import { waitFor } from '../tests/support/wait.js'
import { ROOT, freePort, joinSim, rssKiB, sleep, startHubProcess, stopHubProcess } from './sim-peer.js'
import { quantile } from './stats.js'

const { values: v } = parseArgs({ options: { seconds: { type: 'string', default: '60' } } })
const seconds = Number(v.seconds)
const TOKEN = 'bench-soak-token'
const HONEST_FPS = 500

const dir = mkdtempSync(join(tmpdir(), 'overlan-soak-'))
const port = await freePort()
const url = `wss://127.0.0.1:${port}`
const hub = await startHubProcess(['--listen', `127.0.0.1:${port}`, '--state', dir, '--token', TOKEN, '--log-level', 'error'])
const pid = hub.pid!
const alice = await joinSim(url, TOKEN, 'friday', 'alice')
const bob = await joinSim(url, TOKEN, 'friday', 'bob')

// Honest unicast alice -> bob: a sequence number in each frame, counted once at bob.
const seen = new Uint8Array(HONEST_FPS * (seconds + 10))
let sentHonest = 0
bob.ws.on('message', (d: Buffer, binary: boolean) => {
  if (!binary) return
  for (let off = 0; off + 2 <= d.length; off += 2 + d.readUInt16BE(off)) {
    const f = d.subarray(off + 2, off + 2 + d.readUInt16BE(off))
    if (f.length >= 60 && f.readUInt16BE(36) === 5001 && f.readUInt16BE(34) === 40000) { const n = f.readUInt32BE(42); if (n < seen.length) seen[n] = 1 }
  }
})
const honest = setInterval(() => {
  const frames = Array.from({ length: HONEST_FPS / 100 }, () => {
    const payload = Buffer.alloc(64); payload.writeUInt32BE(sentHonest++, 0)
    return udp4Frame(bob.welcome.mac, alice.welcome.mac, alice.welcome.ip, bob.welcome.ip, 40000, 5001, payload)
  })
  alice.ws.send(encodeBatch(frames))
}, 10)

// /healthz every 100 ms, one keep-alive connection (a monitor would do the same).
const agent = new Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false })
const health: number[] = []
let healthFailures = 0
const probe = (): Promise<void> => new Promise(resolve => {
  const t0 = process.hrtime.bigint()
  const req = get({ host: '127.0.0.1', port, path: '/healthz', agent, timeout: 5000 }, res => {
    res.resume()
    res.on('end', () => { if (res.statusCode === 200) health.push(Number(process.hrtime.bigint() - t0) / 1e6); else healthFailures++; resolve() })
  })
  req.on('timeout', () => { req.destroy() })
  req.on('error', () => { healthFailures++; resolve() })
})
const fetchStatus = (): Promise<Record<string, any>> => new Promise(resolve => {
  get({ host: '127.0.0.1', port, path: '/status', rejectUnauthorized: false }, res => { let s = ''; res.on('data', (d: Buffer) => { s += d.toString() }); res.on('end', () => { try { resolve(JSON.parse(s) as Record<string, any>) } catch { resolve({}) } }) }).on('error', () => { resolve({}) })
})
let duringAttack: Record<string, any> = {}
let peakRss = rssKiB(pid)
const started = Date.now()
const attacker = spawn(process.execPath, ['--import=tsx', join(ROOT, 'bench/soak-attacker.ts'), url, TOKEN, String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] })
let attackOut = ''
attacker.stdout!.on('data', (d: Buffer) => { attackOut += d.toString() })
console.log(`soak: ${seconds} s of floods against the hub (pid ${pid}); honest alice -> bob at ${HONEST_FPS} frames/s`)
while (Date.now() - started < seconds * 1000) {
  await probe()
  if (hub.exitCode === null && hub.signalCode === null) peakRss = Math.max(peakRss, rssKiB(pid))
  if (Object.keys(duringAttack).length === 0 && Date.now() - started > seconds * 1000 - 3000) duringAttack = await fetchStatus()
  await sleep(100)
}
await waitFor('the attacker to finish', () => attacker.exitCode !== null, 30_000, 100)
clearInterval(honest)
await sleep(2000) // the last honest frames arrive
const alive = hub.exitCode === null && hub.signalCode === null
const hwm = alive ? Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) : 0
const status = alive ? await fetchStatus() : {}
let delivered = 0
for (let i = 0; i < sentHonest; i++) delivered += seen[i]!
const friday = (duringAttack.rooms as Array<Record<string, any>> | undefined)?.find(r => r.name === 'friday')
const peersOf = (st: Record<string, any>): Array<Record<string, any>> => (st.rooms as Array<Record<string, any>> | undefined)?.find(r => r.name === 'friday')?.peers ?? []
const result = {
  date: new Date().toISOString(),
  seconds,
  machine: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
  node: process.version,
  hubAlive: alive,
  peakRssMiB: Math.max(peakRss, hwm) / 1024,
  healthz: { samples: health.length, failures: healthFailures, p50Ms: quantile(health, 0.5), p99Ms: quantile(health, 0.99), maxMs: Math.max(...health) },
  honest: { sent: sentHonest, delivered, percent: sentHonest > 0 ? delivered / sentHonest * 100 : 0 },
  attack: JSON.parse(attackOut.trim().split('\n').pop() || '{}') as Record<string, number>,
  /** 3 s before the end, while every flood runs. */
  duringAttack: { switchDrops: friday?.switch.drops, neighbors: friday?.switch.neighbors, groups: friday?.switch.groups, directory: friday?.directory?.length, doors: duringAttack.doors, peers: peersOf(duringAttack).map(p => ({ name: p.name, drops: p.drops })) },
  /** At the end, once the attacker stopped. */
  after: alive ? { doors: status.doors, internalErrors: status.internalErrors, honestDrops: peersOf(status).map(p => ({ name: p.name, drops: p.drops })) } : null
}
const ok = result.hubAlive && result.peakRssMiB <= 300 && result.healthz.p99Ms < 50 && result.honest.percent === 100
const md = [
  `# overlan soak ${result.date}`, '',
  `${seconds} s of every flood at once against one hub process (${result.machine}, Node ${result.node}); two honest peers in the attacked room.`, '',
  '| measure | result | target |', '|---|---|---|',
  `| hub alive at the end | ${result.hubAlive ? 'yes' : '**no**'} | yes |`,
  `| hub peak RSS | ${result.peakRssMiB.toFixed(0)} MiB | ≤ 300 MiB |`,
  `| /healthz p50 / p99 / max (${result.healthz.samples} samples, ${result.healthz.failures} failed) | ${result.healthz.p50Ms.toFixed(1)} / ${result.healthz.p99Ms.toFixed(1)} / ${result.healthz.maxMs.toFixed(1)} ms | p99 < 50 ms |`,
  `| honest unicast delivered | ${result.honest.delivered} / ${result.honest.sent} (${result.honest.percent.toFixed(2)} %) | 100 % |`, '',
  `Sent by the attacker: ${Object.entries(result.attack).map(([k, n]) => `${k} ${n}`).join(', ')}.`, '',
  `Hub counters while the floods ran: ${JSON.stringify(result.duringAttack)}`, '',
  `At the end: ${JSON.stringify(result.after)}`, '',
  ok ? 'All targets met.' : '**Targets not met.**', ''
].join('\n')
mkdirSync(join(ROOT, 'bench/results'), { recursive: true })
const stamp = result.date.slice(0, 16).replace(/[T:]/g, '-')
writeFileSync(join(ROOT, `bench/results/soak-${stamp}.md`), md)
writeFileSync(join(ROOT, `bench/results/soak-${stamp}.json`), JSON.stringify(result, null, 1) + '\n')
console.log(md)
alice.ws.terminate()
bob.ws.terminate()
await stopHubProcess(hub)
rmSync(dir, { recursive: true, force: true })
process.exit(ok ? 0 : 1)
