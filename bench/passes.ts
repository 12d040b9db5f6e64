/**
 * Idle RTT per pass: where a ping's round trip goes. tcpdump (nanosecond timestamps, one
 * kernel clock for every namespace) watches each hop of one ping at a time — a's TAP, a's
 * underlay, the hub's two underlays, b's underlay and b's TAP — and each pass through a
 * user-space process is the time from a packet entering it to the packet leaving it:
 *
 *   a TAP ─(peer a out)─► a u0 … hub u1 ─(hub a→b)─► hub u2 … b u0 ─(peer b in)─► b TAP
 *   b TAP ─(peer b out)─► b u0 … hub u2 ─(hub b→a)─► hub u1 … a u0 ─(peer a in)─► a TAP
 *
 * On a direct path (and tinc) the "hub" passes are the kernel routing the datagram.
 *
 * Only segments with payload count on the underlays (not bare ACKs); pings are 50 ms apart,
 * so each hop sees one packet per direction and ping. Medians over the pings.
 */
import type { Proc, Topology } from '../tests/support/netns.js'
import { waitForOutput } from '../tests/support/netns.js'
import { median } from './stats.js'

export const PASSES = ['peer a out', 'hub a→b', 'peer b in', 'peer b out', 'hub b→a', 'peer a in'] as const
export type PassName = typeof PASSES[number]
export interface PassResult { perPassMs: Record<PassName, number>, medianPassMs: number, samples: number }

interface Seen { t: number, src: string, dst: string, what: string }

const parse = (out: string): Seen[] => out.split('\n').flatMap(l => {
  const m = /^(\d+\.\d+) IP (\S+?)(?:\.\d+)? > (\S+?)(?:\.\d+)?: (.*)$/.exec(l)
  return m === null ? [] : [{ t: Number(m[1]) * 1000, src: m[2]!, dst: m[3]!, what: m[4]! }]
})

const PAYLOAD = 'tcp and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)'
/** Peer-to-peer variants: a ping's datagrams on the underlay (not heartbeats, not full-size probes). */
export const UDP_PING = 'udp and ip[2:2] > 120 and ip[2:2] < 400'

/**
 * Runs `pingRun` (which must send idle pings a -> b) while capturing, and splits its RTT
 * into passes. `tap` are the overlay devices, `underlay` a's and b's underlay addresses.
 */
export const measurePasses = async (topo: Topology, ns: { a: string, b: string }, tap: { a: string, b: string }, underlay: { a: string, b: string }, pingRun: () => Promise<unknown>, filter = PAYLOAD): Promise<PassResult | null> => {
  const start = (name: string, where: string, dev: string, filter: string): Proc =>
    topo.start(`tcpdump-${name}`, where, 'tcpdump', ['-i', dev, '-n', '-l', '-U', '-tt', '--time-stamp-precision=nano', filter])
  const caps = {
    aTap: start('a-tap', ns.a, tap.a, 'icmp'),
    aU: start('a-u0', ns.a, 'u0', filter),
    hubA: start('hub-u1', topo.hubNs, 'u1', filter),
    hubB: start('hub-u2', topo.hubNs, 'u2', filter),
    bU: start('b-u0', ns.b, 'u0', filter),
    bTap: start('b-tap', ns.b, tap.b, 'icmp')
  }
  for (const c of Object.values(caps)) await waitForOutput(c, /listening on/)
  await pingRun()
  for (const c of Object.values(caps)) await c.stop(2000)
  const s = Object.fromEntries(Object.entries(caps).map(([k, c]) => [k, parse(c.stdout)])) as Record<keyof typeof caps, Seen[]>
  const next = (list: Seen[], after: number, ok: (x: Seen) => boolean): number => list.find(x => x.t >= after && ok(x))?.t ?? NaN
  const samples: Record<PassName, number[]> = Object.fromEntries(PASSES.map(p => [p, []])) as unknown as Record<PassName, number[]>
  for (const req of s.aTap.filter(x => x.what.includes('echo request'))) {
    const t0 = req.t
    const t1 = next(s.aU, t0, x => x.src === underlay.a)
    const t2 = next(s.hubA, t1, x => x.src === underlay.a)
    const t3 = next(s.hubB, t2, x => x.dst === underlay.b)
    const t4 = next(s.bU, t3, x => x.dst === underlay.b)
    const t5 = next(s.bTap, t4, x => x.what.includes('echo request'))
    const t6 = next(s.bTap, t5, x => x.what.includes('echo reply'))
    const t7 = next(s.bU, t6, x => x.src === underlay.b)
    const t8 = next(s.hubB, t7, x => x.src === underlay.b)
    const t9 = next(s.hubA, t8, x => x.dst === underlay.a)
    const t10 = next(s.aU, t9, x => x.dst === underlay.a)
    const t11 = next(s.aTap, t10, x => x.what.includes('echo reply'))
    const passes = [t1 - t0, t3 - t2, t5 - t4, t7 - t6, t9 - t8, t11 - t10]
    // A ping that lost a hop (a keepalive in between, a capture that missed it) is not a sample.
    if (passes.some(p => !Number.isFinite(p) || p < 0 || p > 20)) continue
    passes.forEach((p, i) => samples[PASSES[i]!].push(p))
  }
  const n = samples[PASSES[0]].length
  if (n === 0) return null
  return {
    perPassMs: Object.fromEntries(PASSES.map(p => [p, median(samples[p])])) as Record<PassName, number>,
    medianPassMs: median(PASSES.flatMap(p => samples[p])),
    samples: n
  }
}
