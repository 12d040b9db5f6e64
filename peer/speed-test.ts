/**
 * `peer test`: a bufferbloat test towards the hub, as the web's bufferbloat tests do it —
 * idle RTT first, then RTT while saturating the upload through the hub, then the download;
 * throughput each way and the latency the load added, with a grade. RTT is the WebSocket's
 * ping/pong every PROBE_MS (the same path as the room's frames); the hub counts and drops the
 * upload and sends filler for the download (protocol `test`), so nothing reaches other peers.
 */
import { median, quantileOf } from '../core/rtt-math.js'
import type { TestResultMessage } from '../core/protocol.js'

const PROBE_MS = 100
const IDLE_MS = 2000

export interface TestLink {
  /** Starts one phase at the hub. */
  start: (direction: 'up' | 'down', ms: number) => void
  /** Sends one filler batch if the socket's queue has room; false when full. */
  sendFiller: () => boolean
  /** One ping/pong round trip (ms); rejects when the connection goes. */
  ping: () => Promise<number>
  /** The hub's result of the phase now running. */
  result: (direction: 'up' | 'down') => Promise<TestResultMessage>
  /** Discard (true) or deliver (false) binary data from the hub. */
  sink: (on: boolean) => void
}

export interface PhaseResult { mbit: number, medianMs: number, p95Ms: number, addedMs: number }
export interface SpeedTestResult { idle: { medianMs: number, p95Ms: number }, up: PhaseResult, down: PhaseResult, grade: string }

/** Grades as the DSLReports/Waveform bufferbloat tests use them: the latency added under load. */
export const bufferbloatGrade = (addedMs: number): string =>
  addedMs < 5 ? 'A+' : addedMs < 30 ? 'A' : addedMs < 60 ? 'B' : addedMs < 200 ? 'C' : addedMs < 400 ? 'D' : 'F'

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

const probe = async (link: TestLink, ms: number, during?: () => void): Promise<number[]> => {
  const rtts: number[] = []
  const end = performance.now() + ms
  while (performance.now() < end) {
    during?.()
    rtts.push(await link.ping())
    await sleep(PROBE_MS)
  }
  return rtts
}

export const runSpeedTest = async (link: TestLink, phaseMs: number): Promise<SpeedTestResult> => {
  const idleRtts = await probe(link, IDLE_MS)
  const idle = { medianMs: median(idleRtts), p95Ms: quantileOf(idleRtts, 0.95) }
  const phase = async (direction: 'up' | 'down'): Promise<PhaseResult> => {
    link.sink(direction === 'down')
    const result = link.result(direction)
    link.start(direction, phaseMs)
    let pumping = direction === 'up'
    const pump = (): void => { if (!pumping) return; for (let i = 0; i < 64 && link.sendFiller(); i++); setImmediate(pump) }
    pump()
    const rtts = await probe(link, phaseMs - 200)
    const r = await result
    pumping = false
    link.sink(false)
    const m = median(rtts)
    return { mbit: r.bytes * 8 / Math.max(1, r.ms) / 1000, medianMs: m, p95Ms: quantileOf(rtts, 0.95), addedMs: Math.max(0, m - idle.medianMs) }
  }
  const up = await phase('up')
  await sleep(200)
  const down = await phase('down')
  return { idle, up, down, grade: bufferbloatGrade(Math.max(up.addedMs, down.addedMs)) }
}
