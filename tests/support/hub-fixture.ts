/**
 * In-process fixtures for integration tests: a real hub over TLS on 127.0.0.1 (real ws,
 * real https) in a temporary state directory, real Peer engines on in-memory TAPs, and raw
 * WebSocket clients for speaking the protocol by hand.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocket } from 'ws'
import { silentLogger } from '../../core/log.js'
import { SUBPROTOCOL } from '../../core/protocol.js'
import { resolveHubSettings, type HubFileConfig } from '../../hub/config.js'
import { Hub } from '../../hub/hub.js'
import { MemoryHostOs, type MemoryTap } from '../../peer/os/memory.js'
import { Peer } from '../../peer/peer.js'
import type { PeerSettings } from '../../peer/config.js'
import { ethFrame } from './frames.js'
import type { KeyPair } from '../../core/keys.js'

export const TOKEN = 'integration-token'

export interface Fixture {
  dir: string
  hub: Hub
  port: number
  url: string
  restart: () => Promise<void>
}

export const startHub = async (t: { teardown: (fn: () => unknown) => void }, extra: HubFileConfig = {}): Promise<Fixture> => {
  const dir = mkdtempSync(join(tmpdir(), 'overlan-it-'))
  const make = (port: number): Hub => new Hub(resolveHubSettings({}, { listen: `127.0.0.1:${port}`, state: join(dir, 'hub'), token: TOKEN, keepWarmMs: 0, ...extra }), { log: silentLogger })
  const f: Fixture = { dir, hub: make(0), port: 0, url: '', restart: async () => {} }
  f.port = await f.hub.start()
  f.url = `wss://127.0.0.1:${f.port}`
  f.restart = async () => {
    await f.hub.stop()
    f.hub = make(f.port)
    await f.hub.start()
  }
  t.teardown(async () => { await f.hub.stop(); rmSync(dir, { recursive: true, force: true }) })
  return f
}

export const peerSettings = (f: Fixture, name: string, room: string, extra: Partial<PeerSettings> = {}): PeerSettings => ({
  hub: f.url,
  room,
  token: TOKEN,
  name,
  iface: `ovl-${name}`,
  // In-process peers on loopback: the direct path is tested in its own tests (direct-link, e2e direct).
  directPath: false,
  directPort: 0,
  // Off in the in-process tests (a timer per peer; the hub's too): tests/integration/keep-warm.test.ts turns it on.
  keepWarmMs: 0,
  address: undefined,
  caFile: f.hub.tls!.certFile,
  pin: undefined,
  invite: undefined,
  insecure: false,
  stateDir: join(f.dir, name),
  reconnectMinMs: 100,
  reconnectMaxMs: 400,
  joinTimeoutMs: 5000,
  keepaliveTimeoutMs: 20_000,
  logLevel: 'info',
  mdns: false,
  netbios: false,
  ssdp: false,
  gameDiscovery: false,
  gamePorts: [],
  limitedBroadcast: 'off',
  ...extra
})

export interface RunningPeer { peer: Peer, tap: MemoryTap, mac: string, ip: string }

/** Peer deps beyond the OS and log: its identity (from the name by default) and key. */
export interface PeerIdentity { identity?: string, key?: KeyPair }

export const makePeer = (f: Fixture, name: string, room: string, extra: Partial<PeerSettings> = {}, who: PeerIdentity = {}): { peer: Peer, os: MemoryHostOs } => {
  const os = new MemoryHostOs()
  const identity = who.identity ?? Buffer.from(name.padEnd(16, '-')).toString('hex')
  return { peer: new Peer(peerSettings(f, name, room, extra), { os, log: silentLogger, identity, ...(who.key !== undefined ? { key: who.key } : {}) }), os }
}

export const startPeer = async (t: { teardown: (fn: () => unknown) => void }, f: Fixture, name: string, room: string, extra: Partial<PeerSettings> = {}, who: PeerIdentity = {}): Promise<RunningPeer> => {
  const { peer, os } = makePeer(f, name, room, extra, who)
  t.teardown(async () => { await peer.stop() })
  await peer.start()
  const link = os.links.get(`ovl-${name}`)!
  return { peer, tap: os.taps.get(`ovl-${name}`)!, mac: link.mac, ip: link.address }
}

export const received = (p: RunningPeer, marker: number): number =>
  p.tap.written.filter(f => f.length >= 60 && f[59] === marker).length

/** A frame whose last payload byte is a marker, so tests can tell their frames apart. */
export const marked = (dst: string, src: string, marker: number): Buffer => {
  const payload = Buffer.alloc(46)
  payload[45] = marker
  return ethFrame(dst, src, 0x88b5, payload)
}

export interface RawClient { ws: WebSocket, messages: string[], closed: Promise<number> }

export const raw = (f: Fixture, protocols: string[] = [SUBPROTOCOL]): RawClient => {
  const ws = new WebSocket(f.url, protocols, { ca: f.hub.tls!.cert })
  const messages: string[] = []
  ws.on('message', (d, isBinary) => { if (!isBinary) messages.push(String(d)) })
  ws.on('error', () => {})
  const closed = new Promise<number>(resolve => ws.on('close', (code) => { resolve(code) }))
  return { ws, messages, closed }
}
export const opened = (c: RawClient): Promise<void> => new Promise((resolve, reject) => { c.ws.once('open', () => { resolve() }); c.ws.once('error', reject) })
export const helloFor = (name: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ type: 'hello', version: 1, room: 'friday', token: TOKEN, identity: Buffer.from(name.padEnd(16, '-')).toString('hex'), name, ...extra })
