/**
 * Simulated peers for the hub benchmarks: real TLS WebSocket connections that speak the
 * protocol (hello → welcome, binary batches) but have no TAP; and the real hub process.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { SUBPROTOCOL, type WelcomeMessage } from '../core/protocol.js'
import { waitFor } from '../tests/support/wait.js'

export const ROOT = resolve(fileURLToPath(import.meta.url), '../..')

export { freePort } from '../tests/support/loopback.js'
export const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
export const sleep = (ms: number): Promise<void> => new Promise(r => setTimeout(r, ms))

export interface SimPeer { ws: WebSocket, welcome: WelcomeMessage, received: number, joinMs: number }

export const joinSim = (url: string, token: string, room: string, name: string, identity = randomBytes(16).toString('hex')): Promise<SimPeer> => new Promise((resolve, reject) => {
  const start = process.hrtime.bigint()
  const ws = new WebSocket(url, SUBPROTOCOL, { rejectUnauthorized: false, perMessageDeflate: false })
  const timer = setTimeout(() => { ws.terminate(); reject(new Error(`${name}: no welcome in 30 s`)) }, 30_000)
  ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', version: 1, room, token, identity, name })))
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
export const countFramesFast = (b: Buffer): number => { let n = 0; for (let off = 0; off + 2 <= b.length; off += 2 + b.readUInt16BE(off)) n++; return n }


/** The real hub (dist/hub/cli.js) with `args`; resolves once it printed its banner. */
export const startHubProcess = async (args: string[]): Promise<ChildProcess> => {
  const hub = spawn(process.execPath, [join(ROOT, 'dist/hub/cli.js'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  hub.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  await waitFor('the hub to start', () => { if (hub.exitCode !== null) throw new Error(`hub exited ${hub.exitCode}`); return out.includes('overlan hub listening') }, 10_000, 50)
  return hub
}

export const stopHubProcess = async (hub: ChildProcess): Promise<void> => {
  if (hub.exitCode !== null || hub.signalCode !== null) return
  hub.kill('SIGTERM')
  await new Promise(r => hub.once('exit', r))
}
