/**
 * Hub scale: the real hub process (dist/hub/cli.js, wss on loopback) with N simulated peers —
 * real TLS WebSocket connections that speak the protocol (hello → welcome, binary batches) but
 * have no TAP. Measures the hub's RSS per connected idle peer, join latency (TLS + hello →
 * welcome) with N peers connected, and the frames per second the hub forwards at saturation
 * with its CPU time per forwarded frame (from /proc/PID/stat).
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type WebSocket from 'ws'
import { encodeBatch, type WelcomeMessage } from '../core/protocol.js'
import { udp4Frame } from '../tests/support/frames.js'
import { waitFor } from '../tests/support/wait.js'
import { getJson } from '../tests/support/loopback.js'
import { freePort, joinSim, rssKiB, sleep, startHubProcess, stopHubProcess, type SimPeer } from './sim-peer.js'
import { cpuUs, quantile } from './stats.js'

const TOKEN = 'bench-scale-token'

export interface ScaleResult {
  peers: number
  rooms: number
  rssBaseMiB: number
  rssPerPeerKiB: number
  /** Of that, the V8 heap in use (the rest is native: TLS, sockets, allocator). */
  heapPerPeerKiB: number
  connectAllS: number
  joinMedianMs: number
  joinP99Ms: number
  forward: Array<{ name: string, framesPerS: number, hubUsPerFrame: number, hubCpuPercent: number }>
}

/** A UDP frame of `len` bytes on the wire from `a` to `b` (14 + 20 + 8 header bytes). */
const udpFrame = (b: WelcomeMessage, a: WelcomeMessage, len: number): Buffer =>
  udp4Frame(b.mac, a.mac, a.ip, b.ip, 40000, 5001, Buffer.alloc(len - 42))

/** Senders push `msg` as fast as their socket drains, for `ms`; returns frames delivered/s and hub CPU. */
const saturate = async (hubPid: number, pairs: Array<[SimPeer, SimPeer]>, framesPerMsg: number, frameLen: number, ms: number): Promise<{ framesPerS: number, hubUsPerFrame: number, hubCpuPercent: number }> => {
  const msgs = pairs.map(([a, b]) => encodeBatch(Array.from({ length: framesPerMsg }, () => udpFrame(b.welcome, a.welcome, frameLen))))
  for (const [, b] of pairs) b.received = 0
  let running = true
  const pump = (ws: WebSocket, msg: Buffer): void => {
    if (!running) return
    for (let i = 0; i < 16 && ws.bufferedAmount < 256 * 1024; i++) ws.send(msg, { binary: true })
    setImmediate(pump, ws, msg)
  }
  pairs.forEach(([a], i) => pump(a.ws, msgs[i]!))
  await sleep(500) // reach steady state
  const c0 = cpuUs(hubPid)
  const r0 = pairs.reduce((n, [, b]) => n + b.received, 0)
  const t0 = process.hrtime.bigint()
  await sleep(ms)
  const c1 = cpuUs(hubPid)
  const r1 = pairs.reduce((n, [, b]) => n + b.received, 0)
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  running = false
  await waitFor('the senders to drain', () => pairs.every(([a]) => a.ws.bufferedAmount === 0), 10_000, 20)
  const frames = r1 - r0
  return { framesPerS: Math.round(frames / seconds), hubUsPerFrame: frames > 0 ? (c1 - c0) / frames : NaN, hubCpuPercent: (c1 - c0) / 1e6 / seconds * 100 }
}

export const runScale = async (peers = 1000, rooms = 100, log: (s: string) => void = () => {}): Promise<ScaleResult> => {
  const dir = mkdtempSync(join(tmpdir(), 'overlan-bench-scale-'))
  const port = await freePort()
  let hub: ChildProcess | null = null
  const sims: SimPeer[] = []
  try {
    // Every simulated peer comes from 127.0.0.1: lift the per-address doors (README "Limits")
    // that would rightly stop one address opening 1000 connections in seconds.
    writeFileSync(join(dir, 'hub.yaml'), 'maxPreAuthPerAddress: 100000\njoinAttemptsPerMinute: 1000000\n')
    hub = await startHubProcess(['--config', join(dir, 'hub.yaml'), '--listen', `127.0.0.1:${port}`, '--state', dir, '--token', TOKEN, '--log-level', 'warn'])
    const url = `wss://127.0.0.1:${port}`
    // One peer first, so the baseline includes TLS and room machinery already loaded.
    sims.push(await joinSim(url, TOKEN, 'warmup', 'warmup'))
    await sleep(1000)
    const rssBase = rssKiB(hub.pid!)
    const heapBase = (await getJson(port, '/status')).memory.heapUsedMiB as number
    const t0 = Date.now()
    for (let i = 0; i < peers; i += 50) {
      const batch = Array.from({ length: Math.min(50, peers - i) }, (_, k) => joinSim(url, TOKEN, `room${(i + k) % rooms}`, `p${i + k}`))
      sims.push(...await Promise.all(batch))
    }
    const connectAllS = (Date.now() - t0) / 1000
    log(`  ${peers} peers in ${rooms} rooms connected in ${connectAllS.toFixed(1)} s`)
    await sleep(3000) // let the hub settle (buffers released after handshakes)
    const rssAll = rssKiB(hub.pid!)
    const heapAll = (await getJson(port, '/status')).memory.heapUsedMiB as number
    const joins: number[] = []
    for (let i = 0; i < 30; i++) {
      const p = await joinSim(url, TOKEN, `room${i % rooms}`, `late${i}`)
      joins.push(p.joinMs)
      sims.push(p)
    }
    log(`  join latency with ${peers} connected: median ${quantile(joins, 0.5).toFixed(1)} ms`)
    // Saturation: in 10 rooms one peer sends to another (the rest stay idle but connected).
    const byRoom = new Map<string, SimPeer[]>()
    for (const s of sims) byRoom.set(s.welcome.room, [...byRoom.get(s.welcome.room) ?? [], s])
    const pairs = [...byRoom.values()].filter(l => l.length >= 2).slice(0, 10).map(l => [l[0]!, l[1]!] as [SimPeer, SimPeer])
    const forward: ScaleResult['forward'] = []
    for (const [name, n, len] of [['full-size frames (MTU 1400), 32 per message', 32, 1414], ['64-byte frames, 1 per message', 1, 64], ['64-byte frames, 32 per message', 32, 64]] as const) {
      const r = await saturate(hub.pid!, pairs, n, len, 3000)
      forward.push({ name, ...r })
      log(`  ${name}: ${r.framesPerS} frames/s, ${r.hubUsPerFrame.toFixed(2)} µs hub CPU per frame`)
    }
    return {
      peers, rooms,
      rssBaseMiB: rssBase / 1024,
      rssPerPeerKiB: (rssAll - rssBase) / peers,
      heapPerPeerKiB: (heapAll - heapBase) * 1024 / peers,
      connectAllS,
      joinMedianMs: quantile(joins, 0.5),
      joinP99Ms: quantile(joins, 0.99),
      forward
    }
  } finally {
    for (const s of sims) s.ws.terminate()
    if (hub !== null) await stopHubProcess(hub)
    rmSync(dir, { recursive: true, force: true })
  }
}
