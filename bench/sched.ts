/**
 * Idle RTT per hop without tcpdump: the scheduler's view of a ping's round trip.
 *
 * bench/passes.ts times each pass with tcpdump on every hop, and tcpdump is not free: on this
 * machine it adds ~0.3 ms to OpenVPN's round trip and next to nothing to overlan's, so its
 * per-pass figures flatter overlan. This measures the same chain from `perf sched record`
 * (the kernel's sched_wakeup and sched_switch tracepoints, nothing on the data path):
 *
 *   ping ─wakes─► peer a ─wakes─► hub ─wakes─► peer b ─wakes─► hub ─wakes─► peer a ─wakes─► ping
 *
 * For each hop, `delay` is from the wake-up to the process running (an idle CPU waking, or
 * the waker still finishing on the same CPU) and `work` from then to it waking the next
 * process (read, decrypt, switch, encrypt, the write that delivers). The write wakes the next
 * process from inside the kernel, so `work` ends there; what the process does after its send
 * shows up as the next hop's delay when both share a CPU. perf's own tracing adds a little to
 * every hop, the same for every variant.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '../tests/support/wait.js'
import { median } from './stats.js'

export const HOPS = ['peer a out', 'hub a→b', 'peer b in+out', 'hub b→a', 'peer a in'] as const
export type HopName = typeof HOPS[number]
export interface HopTimes { delayMs: number, workMs: number }
export interface SchedResult { rttMs: number, hops: Record<HopName, HopTimes>, samples: number }

/** Whether `perf sched` can run here (the linux-perf package, root). */
export const perfAvailable = (): boolean => spawnSync('perf', ['--version']).status === 0

export interface Ev { t: number, wake: boolean, from: number, to: number }

const LINE = /^\s*([\d.]+)\s+\[\d+\]\s+(?:<idle>|swapper|\S*?\[(\d+)(?:\/\d+)?\])\s+(.*)$/
const WAKE = /awakened: \S*?\[(\d+)(?:\/\d+)?\]/
const NEXT = /next: \S*?\[(\d+)(?:\/\d+)?\]/

/** `perf sched timehist -w` lines -> wake-ups (from waker to wakee) and switches (from prev to next); thread ids. */
export const parseTimehist = (text: string): Ev[] => text.split('\n').flatMap((line): Ev[] => {
  const m = LINE.exec(line)
  if (m === null) return []
  const t = Number(m[1]) * 1000
  const from = m[2] === undefined ? 0 : Number(m[2])
  const w = WAKE.exec(m[3]!)
  if (w !== null) return [{ t, wake: true, from, to: Number(w[1]) }]
  const n = NEXT.exec(m[3]!)
  return n === null ? [] : [{ t, wake: false, from, to: Number(n[1]) }]
})

/**
 * Splits each round trip of `ping` into the five hops between the given processes (main
 * thread ids). A chain that breaks (a wake-up lost, a hop over 20 ms) is not a sample.
 */
export const chains = (events: Ev[], ping: number, role: { a: number, hub: number, b: number }): SchedResult | null => {
  const hops: Array<[number, number]> = [[role.a, role.hub], [role.hub, role.b], [role.b, role.hub], [role.hub, role.a], [role.a, ping]]
  const LIMIT = 20
  // The first index at or after i where `task` runs: its switch-in, or i itself if it was already running.
  const running = (i: number, task: number): number => {
    for (let j = i; j < events.length && events[j]!.t - events[i]!.t < LIMIT; j++) {
      const e = events[j]!
      if (!e.wake && e.to === task) return j
      if (!e.wake && e.from === task) return i
    }
    return -1
  }
  const wakes = (i: number, from: number, to: number): number => {
    for (let j = i; j < events.length && events[j]!.t - events[i]!.t < LIMIT; j++) {
      const e = events[j]!
      if (e.wake && e.from === from && e.to === to) return j
    }
    return -1
  }
  const delay: number[][] = HOPS.map(() => [])
  const work: number[][] = HOPS.map(() => [])
  const rtt: number[] = []
  events.forEach((e, i) => {
    if (!e.wake || e.from !== ping || e.to !== role.a) return
    const d: number[] = []
    const w: number[] = []
    let at = i
    for (const [from, to] of hops) {
      const run = running(at, from)
      const next = run < 0 ? -1 : wakes(run, from, to)
      if (next < 0) return
      d.push(events[run]!.t - events[at]!.t)
      w.push(events[next]!.t - events[run]!.t)
      at = next
    }
    rtt.push(events[at]!.t - e.t)
    d.forEach((x, k) => delay[k]!.push(x))
    w.forEach((x, k) => work[k]!.push(x))
  })
  if (rtt.length === 0) return null
  return {
    rttMs: median(rtt),
    hops: Object.fromEntries(HOPS.map((h, k) => [h, { delayMs: median(delay[k]!), workMs: median(work[k]!) }])) as Record<HopName, HopTimes>,
    samples: rtt.length
  }
}

/** The `ping` thread that woke `a` most often: the one the pings ran in. */
const pingThread = (events: Ev[], a: number, exclude: Set<number>): number | null => {
  const n = new Map<number, number>()
  for (const e of events) if (e.wake && e.to === a && !exclude.has(e.from)) n.set(e.from, (n.get(e.from) ?? 0) + 1)
  // The hub wakes a once per ping too; ping is the waker whose wakee a then wakes back.
  const back = new Set(events.filter(e => e.wake && e.from === a).map(e => e.to))
  const best = [...n].filter(([pid]) => back.has(pid)).sort((x, y) => y[1] - x[1])[0]
  return best?.[0] ?? null
}

/**
 * Records the scheduler system-wide while `pings` runs and splits its round trips into hops.
 * `peers` are the two peers' (or clients') main thread ids, a's first; `hub` the hub's.
 */
export const measureSched = async (peers: [number, number], hub: number, pings: () => Promise<unknown>): Promise<SchedResult | null> => {
  const dir = mkdtempSync(join(tmpdir(), 'overlan-sched-'))
  const data = join(dir, 'sched.data')
  const perf = spawn('perf', ['sched', 'record', '-a', '-q', '-o', data], { stdio: 'ignore' })
  const exited = new Promise<void>(resolve => perf.once('exit', () => resolve()))
  try {
    await waitFor('perf sched record to start', () => existsSync(data) && statSync(data).size > 0, 10_000)
    await pings()
  } finally {
    perf.kill('SIGINT')
    await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 30_000).unref())])
  }
  try {
    const out = spawnSync('perf', ['sched', 'timehist', '-i', data, '-w', '-n'], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 })
    const events = parseTimehist(out.stdout)
    const ping = pingThread(events, peers[0], new Set([hub, peers[1]]))
    return ping === null ? null : chains(events, ping, { a: peers[0], hub, b: peers[1] })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
