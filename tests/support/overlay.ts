/**
 * A running overlay for end-to-end tests: the real `hub` and `peer` commands (dist/) in
 * the namespaces of a Topology. Peers use fast reconnects so restart tests stay short.
 */
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Topology, waitForOutput, type Proc } from './netns.js'

export const ROOT = resolve(fileURLToPath(import.meta.url), '../../..')
export const HUB = join(ROOT, 'dist/hub/cli.js')
export const PEER = join(ROOT, 'dist/peer/cli.js')
export const UDP_TOOL = join(ROOT, 'tests/support/udp-tool.mjs')
export const TCP_TOOL = join(ROOT, 'tests/support/tcp-tool.mjs')
export const TOKEN = 'e2e-join-token'

export interface PeerInfo {
  address: string
  mac: string
  state: string
  counters: { reconnects: number }
  mssClamped: number
  members: Array<{ name: string, ip: string, mac: string, path: 'direct' | 'relay', rttMs: number | null }>
  direct: { counters: { arpAnswered: number, sessions: number } }
  keepWarm: { periodMs: number, running: boolean, runs: number, hot: number, error: string | null }
  tap: { readFrames: number, writeFrames: number }
}

export class Overlay {
  readonly topo: Topology
  hub: Proc | null = null
  readonly peers = new Map<string, Proc>()
  /** false: the hub runs with --no-tls and peers join over ws:// (benchmarks compare both). */
  tls = true

  constructor (tag: string, routeUnderlays = true) {
    this.topo = new Topology(tag, routeUnderlays)
  }

  /** Namespaces for the hub and each named host; peer.yaml with fast reconnects. */
  async init (hosts: string[]): Promise<void> {
    await this.topo.init()
    for (const h of hosts) await this.topo.addHost(h)
    writeFileSync(join(this.topo.dir, 'peer.yaml'), 'reconnectMinS: 0.2\nreconnectMaxS: 1\n')
  }

  get caFile (): string { return join(this.topo.dir, 'hub/tls/hub-cert.pem') }

  async startHub (extra: string[] = []): Promise<Proc> {
    this.hub = this.topo.start('hub', this.topo.hubNs, 'node', [HUB, '--listen', '0.0.0.0:443', '--state', join(this.topo.dir, 'hub'), '--token', TOKEN, ...(this.tls ? [] : ['--no-tls']), ...extra])
    await waitForOutput(this.hub, /peer join --hub/)
    return this.hub
  }

  /** `hub`: the --hub value (a list for clusters); by default the hub namespace's side of the host's underlay. */
  async startPeer (name: string, room: string, extra: string[] = [], hub?: string): Promise<Proc> {
    const h = this.topo.host(name)
    const p = this.topo.start(name, h.ns, 'node', [PEER, 'join', '--hub', hub ?? (this.tls ? `wss://${h.hubIp}` : `ws://${h.hubIp}:443`), '--room', room, '--token', TOKEN,
      ...(this.tls ? ['--ca', this.caFile] : []), '--name', name, '--state', join(this.topo.dir, name), '--config', join(this.topo.dir, 'peer.yaml'), ...extra])
    this.peers.set(name, p)
    await waitForOutput(p, /joined room/)
    return p
  }

  async status (name: string): Promise<PeerInfo> {
    const r = await this.topo.run(this.topo.host(name).ns, 'node', [PEER, 'status', '--json'])
    if (r.code !== 0) throw new Error(`peer status ${name}: ${r.stderr}`)
    return JSON.parse(r.stdout) as PeerInfo
  }

  async ipOf (name: string): Promise<string> { return (await this.status(name)).address.split('/')[0]! }

  /**
   * A hub's GET /status, fetched inside the hub namespace: from loopback by default; a hub
   * on another address answers with `adminToken`.
   */
  async hubStatus (host = '127.0.0.1', adminToken?: string): Promise<{ rooms: Array<Record<string, any>>, [k: string]: any }> {
    const headers = adminToken !== undefined ? `,headers:{authorization:'Bearer ${adminToken}'}` : ''
    const script = `require('https').get({host:'${host}',port:443,path:'/status',rejectUnauthorized:false${headers}},r=>{let s='';r.on('data',d=>s+=d);r.on('end',()=>process.stdout.write(s))}).on('error',e=>{console.error(e.message);process.exit(1)})`
    const r = await this.topo.run(this.topo.hubNs, 'node', ['-e', script])
    if (r.code !== 0) throw new Error(`hub ${host} status: ${r.stderr}`)
    return JSON.parse(r.stdout) as { rooms: Array<Record<string, any>> }
  }

  /** tcpdump on a host's ovl0 until stopped; resolves once it listens. */
  async capture (name: string, filter: string, extra: string[] = []): Promise<Proc> {
    const p = this.topo.start(`tcpdump-${name}`, this.topo.host(name).ns, 'tcpdump', ['-i', 'ovl0', '-n', '-l', '-U', ...extra, filter])
    await waitForOutput(p, /listening on ovl0/)
    return p
  }

  async cleanup (): Promise<void> { await this.topo.cleanup() }
}
