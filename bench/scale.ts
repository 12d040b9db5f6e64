/**
 * Hub scale: the real hub process (dist/hub/cli.js, wss on loopback) with N simulated peers —
 * real TLS WebSocket connections that speak the protocol (hello → welcome, binary batches) but
 * have no TAP. Measures the hub's RSS per connected idle peer, join latency (TLS + hello →
 * welcome) with N peers connected, and the frames per second the hub forwards at saturation
 * with its CPU time per forwarded frame (from /proc/PID/stat).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { SUBPROTOCOL, encodeBatch, type WelcomeMessage } from '../core/protocol.js'

const ROOT = resolve(fileURLToPath(import.meta.url), '../..')
const TOKEN = 'bench-scale-token'

export interface ScaleResult {
  peers: number
  rooms: number
  rssBaseMiB: number
  rssPerPeerKiB: number
  connectAllS: number
  joinMedianMs: number
  joinP99Ms: number
  forward: Array<{ name: string, framesPerS: number, hubUsPerFrame: number, hubCpuPercent: number }>
}

const freePort = (): Promise<number> => new Promise(r => { const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => r(p)) }) })
const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
/** utime + stime of a process in µs (clock ticks of 10 ms on Linux). */
const cpuUs = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) * 10_000
}
const sleep = (ms: number): Promise<void> => new Promise(r => setTimeout(r, ms))
const quantile = (xs: number[], q: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]! }

interface SimPeer { ws: WebSocket, welcome: WelcomeMessage, received: number, joinMs: number }

const join_ = (url: string, room: string, name: string): Promise<SimPeer> => new Promise((resolve, reject) => {
  const start = process.hrtime.bigint()
  const ws = new WebSocket(url, SUBPROTOCOL, { rejectUnauthorized: false, perMessageDeflate: false })
  const timer = setTimeout(() => { ws.terminate(); reject(new Error(`${name}: no welcome in 30 s`)) }, 30_000)
  ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', version: 1, room, token: TOKEN, identity: randomBytes(16).toString('hex'), name })))
  ws.on('error', e => { clearTimeout(timer); reject(e) })
  ws.once('message', (data, isBinary) => {
    clearTimeout(timer)
    if (isBinary) { reject(new Error('binary before welcome')); return }
    const m = JSON.parse(String(data)) as WelcomeMessage
    if (m.type !== 'welcome') { reject(new Error(`${name}: ${String(data)}`)); return }
    const p: SimPeer = { ws, welcome: m, received: 0, joinMs: Number(process.hrtime.bigint() - start) / 1e6 }
    ws.on('message', (d: Buffer, bin) => { if (bin) p.received += countFramesFast(d) })
    resolve(p)
  })
})

/** Frames in a batch (u16 length prefixes); the hub only ever sends well-formed batches. */
const countFramesFast = (b: Buffer): number => { let n = 0; for (let off = 0; off + 2 <= b.length; off += 2 + b.readUInt16BE(off)) n++; return n }

const macBytes = (mac: string): Buffer => Buffer.from(mac.split(':').map(h => parseInt(h, 16)))
const udpFrame = (dst: string, src: string, len: number): Buffer => {
  const f = Buffer.alloc(len)
  macBytes(dst).copy(f, 0); macBytes(src).copy(f, 6)
  f.writeUInt16BE(0x0800, 12); f[14] = 0x45; f.writeUInt16BE(len - 14, 16); f[22] = 64; f[23] = 17
  f.writeUInt16BE(40000, 34); f.writeUInt16BE(5001, 36); f.writeUInt16BE(len - 34, 38)
  return f
}

/** Senders push `msg` as fast as their socket drains, for `ms`; returns frames delivered/s and hub CPU. */
const saturate = async (hubPid: number, pairs: Array<[SimPeer, SimPeer]>, framesPerMsg: number, frameLen: number, ms: number): Promise<{ framesPerS: number, hubUsPerFrame: number, hubCpuPercent: number }> => {
  const msgs = pairs.map(([a, b]) => encodeBatch(Array.from({ length: framesPerMsg }, () => udpFrame(b.welcome.mac, a.welcome.mac, frameLen))))
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
  await sleep(300)
  const frames = r1 - r0
  return { framesPerS: Math.round(frames / seconds), hubUsPerFrame: frames > 0 ? (c1 - c0) / frames : NaN, hubCpuPercent: (c1 - c0) / 1e6 / seconds * 100 }
}

export const runScale = async (peers = 1000, rooms = 100, log: (s: string) => void = () => {}): Promise<ScaleResult> => {
  const dir = mkdtempSync(join(tmpdir(), 'overlan-bench-scale-'))
  const port = await freePort()
  let hub: ChildProcess | null = null
  const sims: SimPeer[] = []
  try {
    hub = spawn(process.execPath, [join(ROOT, 'dist/hub/cli.js'), '--listen', `127.0.0.1:${port}`, '--state', dir, '--token', TOKEN, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    hub.stdout!.on('data', (d: Buffer) => { out += d.toString() })
    for (let i = 0; i < 200 && !out.includes('peer join --hub'); i++) await sleep(50)
    if (!out.includes('peer join --hub')) throw new Error(`hub did not start: ${out}`)
    const url = `wss://127.0.0.1:${port}`
    // One peer first, so the baseline includes TLS and room machinery already loaded.
    sims.push(await join_(url, 'warmup', 'warmup'))
    await sleep(1000)
    const rssBase = rssKiB(hub.pid!)
    const t0 = Date.now()
    for (let i = 0; i < peers; i += 50) {
      const batch = Array.from({ length: Math.min(50, peers - i) }, (_, k) => join_(url, `room${(i + k) % rooms}`, `p${i + k}`))
      sims.push(...await Promise.all(batch))
    }
    const connectAllS = (Date.now() - t0) / 1000
    log(`  ${peers} peers in ${rooms} rooms connected in ${connectAllS.toFixed(1)} s`)
    await sleep(3000) // let the hub settle (buffers released after handshakes)
    const rssAll = rssKiB(hub.pid!)
    const joins: number[] = []
    for (let i = 0; i < 30; i++) {
      const p = await join_(url, `room${i % rooms}`, `late${i}`)
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
      connectAllS,
      joinMedianMs: quantile(joins, 0.5),
      joinP99Ms: quantile(joins, 0.99),
      forward
    }
  } finally {
    for (const s of sims) s.ws.terminate()
    if (hub !== null && hub.exitCode === null) { hub.kill('SIGTERM'); await new Promise(r => hub!.once('exit', r)) }
    rmSync(dir, { recursive: true, force: true })
  }
}
