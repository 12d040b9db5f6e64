/**
 * Cluster benchmark (`npm run bench -- --only cluster`): PostgreSQL 15 (started here, as the
 * tests do), three real hub processes with --store on loopback (wss, one shared certificate)
 * and N simulated peers (real TLS WebSockets speaking the protocol, no TAP) in R rooms, each
 * peer joining through a random hub and following redirects. Measures join latency with and
 * without a redirect, rooms per hub, hub RSS per peer, then kill -9 of the hub owning the most
 * rooms: the time until every one of its peers re-joined elsewhere (retrying the other hubs),
 * whether each kept its IP and MAC, and rooms per hub after the failover.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { SUBPROTOCOL, type WelcomeMessage } from '../core/protocol.js'
import { TestPostgres } from '../tests/support/postgres.js'
import { waitFor } from '../tests/support/wait.js'
import { getJson } from '../tests/support/loopback.js'
import { ROOT, freePort, rssKiB, sleep } from './sim-peer.js'
import { median, quantile } from './stats.js'

const TOKEN = 'bench-cluster-token'

export interface ClusterResult {
  hubs: number
  peers: number
  rooms: number
  /** During the join storm (50 at a time). */
  joinMs: { direct: { median: number, p99: number, n: number }, redirected: { median: number, p99: number, n: number } }
  /** One at a time on the loaded cluster: the redirect's own cost. */
  idleJoinMs: { direct: { median: number, p99: number, n: number }, redirected: { median: number, p99: number, n: number } }
  roomsPerHub: number[]
  rssPerPeerKiB: number
  /** Of that, the V8 heap in use (the rest is native: TLS, sockets, allocator). */
  heapPerPeerKiB: number
  failover: { peersMoved: number, allBackS: number, sameLease: number, roomsPerHub: number[] }
}

interface Hub { port: number, url: string, child: ChildProcess, dir: string }

const startHub = async (dir: string, store: string, tlsFrom: string | null): Promise<Hub> => {
  const port = await freePort()
  const url = `wss://127.0.0.1:${port}`
  if (tlsFrom !== null) cpSync(join(tlsFrom, 'tls'), join(dir, 'tls'), { recursive: true })
  // Every simulated peer comes from 127.0.0.1: the per-address doors would (rightly) refuse them.
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'hub.yaml'), 'maxPreAuthPerAddress: 100000\njoinAttemptsPerMinute: 1000000\nmaxConnections: 100000\n')
  const child = spawn(process.execPath, [join(ROOT, 'dist/hub/cli.js'), '--config', join(dir, 'hub.yaml'), '--listen', `127.0.0.1:${port}`, '--state', dir, '--token', TOKEN, '--store', store, '--public-url', url, '--udp-listen', 'off', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  await waitFor('a cluster hub to start', () => { if (child.exitCode !== null) throw new Error(`hub exited ${child.exitCode}`); return out.includes('overlan hub listening') }, 20_000, 50)
  return { port, url, child, dir }
}

const status = async (h: Hub): Promise<any> => await getJson(h.port, '/status')

interface Sim { name: string, room: string, identity: string, ws: WebSocket | null, welcome: WelcomeMessage | null, hub: string }

/** One join through `url`, following redirects (at most 4): the welcome, how long, whether redirected. */
const joinOnce = (sim: Sim, url: string, redirects = 0): Promise<{ welcome: WelcomeMessage, ms: number, redirected: boolean }> => new Promise((resolve, reject) => {
  const start = process.hrtime.bigint()
  const ws = new WebSocket(url, SUBPROTOCOL, { rejectUnauthorized: false, perMessageDeflate: false, handshakeTimeout: 5000 })
  const timer = setTimeout(() => { ws.terminate(); reject(new Error('no welcome in 10 s')) }, 10_000)
  ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', version: 1, room: sim.room, token: TOKEN, identity: sim.identity, name: sim.name, ...(sim.welcome !== null ? { lease: { mac: sim.welcome.mac, ip: sim.welcome.ip } } : {}) })))
  ws.on('error', e => { clearTimeout(timer); reject(e) })
  ws.on('close', () => { clearTimeout(timer); reject(new Error('closed before welcome')) })
  ws.on('message', (data, isBinary) => {
    if (isBinary) return
    const m = JSON.parse(String(data)) as { type: string, url?: string }
    if (m.type === 'redirect' && redirects < 4) {
      clearTimeout(timer)
      ws.removeAllListeners('close')
      ws.terminate()
      joinOnce(sim, m.url!, redirects + 1).then(r => { resolve({ ...r, ms: Number(process.hrtime.bigint() - start) / 1e6, redirected: true }) }, reject)
      return
    }
    if (m.type !== 'welcome') return
    clearTimeout(timer)
    ws.removeAllListeners('close')
    ws.removeAllListeners('message')
    sim.ws = ws
    sim.hub = url
    resolve({ welcome: m as unknown as WelcomeMessage, ms: Number(process.hrtime.bigint() - start) / 1e6, redirected: false })
  })
})

/** Joins through the hubs in a random order, retrying with backoff until `deadline`. */
const joinAny = async (sim: Sim, urls: string[], deadline: number): Promise<{ welcome: WelcomeMessage, ms: number, redirected: boolean }> => {
  let delay = 200
  for (let i = Math.floor(Math.random() * urls.length); ; i++) {
    try { return await joinOnce(sim, urls[i % urls.length]!) } catch (e) {
      if (Date.now() > deadline) throw e
      await sleep(delay + Math.random() * delay)
      delay = Math.min(delay * 2, 1000)
    }
  }
}

export const runCluster = async (peers: number, rooms: number, log: (s: string) => void): Promise<ClusterResult> => {
  const db = new TestPostgres()
  const base = mkdtempSync(join(tmpdir(), 'overlan-bench-cluster-'))
  const hubs: Hub[] = []
  const sims: Sim[] = []
  try {
    await db.start()
    hubs.push(await startHub(join(base, 'h0'), db.url, null))
    for (let i = 1; i < 3; i++) hubs.push(await startHub(join(base, `h${i}`), db.url, join(base, 'h0')))
    const urls = hubs.map(h => h.url)
    // As the one-hub scale bench measures: one peer per hub first (TLS, room and store machinery
    // loaded, including a redirect on each), a second to settle; after the joins, 3 s to settle.
    for (const [i, u] of urls.entries()) {
      const w: Sim = { name: `warmup-${i}`, room: `warmup-${i}`, identity: randomBytes(16).toString('hex'), ws: null, welcome: null, hub: '' }
      w.welcome = (await joinOnce(w, u)).welcome
      const r: Sim = { ...w, name: `warmup-r${i}`, identity: randomBytes(16).toString('hex'), welcome: null, ws: null }
      r.welcome = (await joinOnce(r, urls[(i + 1) % urls.length]!)).welcome
      sims.push(w, r)
    }
    await sleep(1000)
    const rss0each = hubs.map(h => rssKiB(h.child.pid!))
    const mem0 = await Promise.all(hubs.map(async h => (await status(h)).memory))
    const rss0 = rss0each.reduce((a, b) => a + b, 0)
    const direct: number[] = []
    const redirected: number[] = []
    const warm = sims.length
    for (let i = 0; i < peers; i++) sims.push({ name: `p${i}`, room: `room-${i % rooms}`, identity: randomBytes(16).toString('hex'), ws: null, welcome: null, hub: '' })
    const t0 = Date.now()
    for (let i = warm; i < sims.length; i += 50) {
      await Promise.all(sims.slice(i, i + 50).map(async s => {
        const r = await joinAny(s, urls, Date.now() + 60_000)
        s.welcome = r.welcome;
        (r.redirected ? redirected : direct).push(r.ms)
      }))
    }
    log(`cluster: ${peers} peers in ${rooms} rooms joined in ${((Date.now() - t0) / 1000).toFixed(1)} s (${redirected.length} redirected)`)
    await sleep(3000) // as the scale bench: buffers released after the handshakes
    const rss1each = hubs.map(h => rssKiB(h.child.pid!))
    const rss1 = rss1each.reduce((a, b) => a + b, 0)
    const mem1 = await Promise.all(hubs.map(async h => (await status(h)).memory))
    for (const [i, h] of hubs.entries()) {
      const on = sims.filter(x => x.hub === h.url).length
      const per = (d: number): string => `${(d * 1024 / Math.max(on, 1)).toFixed(1)} KiB`
      log(`cluster: hub ${i}: ${on} peers; per peer RSS ${per((rss1each[i]! - rss0each[i]!) / 1024)}, V8 heap ${per(mem1[i].heapUsedMiB - mem0[i].heapUsedMiB)}, external ${per(mem1[i].externalMiB - mem0[i].externalMiB)}`)
    }
    const st = await Promise.all(hubs.map(async h => await status(h)))
    const owned = st.map(x => x.cluster.owned.length as number)
    log(`cluster: rooms per hub ${owned.join(' / ')}`)
    // Join latency on the loaded but idle cluster, one join at a time: through the owner, and through another hub (a redirect).
    const idle = { direct: [] as number[], redirected: [] as number[] }
    for (let i = 0; i < 40; i++) {
      const room = `room-${i % rooms}`
      const ownerIdx = st.findIndex(x => x.cluster.owned.some((o: { room: string }) => o.room === room))
      for (const via of [ownerIdx, (ownerIdx + 1) % hubs.length]) {
        const sim: Sim = { name: `probe${i}-${via}`, room, identity: randomBytes(16).toString('hex'), ws: null, welcome: null, hub: '' }
        const r = await joinOnce(sim, urls[via]!)
        sim.ws?.terminate();
        (r.redirected ? idle.redirected : idle.direct).push(r.ms)
      }
    }

    // kill -9 of the hub with the most rooms; its peers retry the others.
    const victim = owned.indexOf(Math.max(...owned))
    const gone = sims.filter(s => s.hub === hubs[victim]!.url)
    const before = new Map(gone.map(s => [s.identity, `${s.welcome!.mac} ${s.welcome!.ip}`]))
    const others = urls.filter((_, i) => i !== victim)
    const killedAt = Date.now()
    hubs[victim]!.child.kill('SIGKILL')
    let same = 0
    await Promise.all(gone.map(async s => {
      s.ws?.terminate()
      const r = await joinAny(s, others, killedAt + 60_000)
      if (`${r.welcome.mac} ${r.welcome.ip}` === before.get(s.identity)) same++
    }))
    const allBackS = (Date.now() - killedAt) / 1000
    log(`cluster: ${gone.length} peers of the killed hub back in ${allBackS.toFixed(1)} s, ${same} with the same IP and MAC`)
    const after = await Promise.all(hubs.filter((_, i) => i !== victim).map(async h => (await status(h)).cluster.owned.length as number))
    const q = (xs: number[]): { median: number, p99: number, n: number } => ({ median: median(xs), p99: quantile(xs, 0.99), n: xs.length })
    return {
      hubs: hubs.length,
      peers,
      rooms,
      joinMs: { direct: q(direct), redirected: q(redirected) },
      idleJoinMs: { direct: q(idle.direct), redirected: q(idle.redirected) },
      roomsPerHub: owned,
      rssPerPeerKiB: (rss1 - rss0) / peers,
      heapPerPeerKiB: mem1.reduce((n, m, i) => n + m.heapUsedMiB - mem0[i].heapUsedMiB, 0) * 1024 / peers,
      failover: { peersMoved: gone.length, allBackS, sameLease: same, roomsPerHub: after }
    }
  } finally {
    for (const s of sims) s.ws?.terminate()
    for (const h of hubs) { h.child.kill('SIGKILL') }
    await db.stop()
    rmSync(base, { recursive: true, force: true })
  }
}
