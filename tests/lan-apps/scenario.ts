/**
 * Scenario support for tests/lan-apps: real applications on peers in network namespaces,
 * through the real hub and `peer` processes. Each peer namespace has an underlay veth that
 * is also its default route, so applications never see the overlay as their only network.
 * Everything started here is stopped, and every namespace deleted, even when a test fails.
 */
import test, { type ExecutionContext } from 'ava'
import { spawnSync } from 'node:child_process'
import { netnsUnavailable } from '../support/netns.js'
import { Overlay } from '../support/overlay.js'
import { skipWithReason } from '../support/skip.js'

export interface ScenarioOptions {
  /** Commands that must exist (apps and tools); the scenario is skipped with a message otherwise. */
  needs: string[]
  /** Peer name -> room. */
  peers: Record<string, string>
  /** Extra `peer join` flags per peer. */
  peerArgs?: Record<string, string[]>
}

const missing = (cmds: string[]): string[] => cmds.filter(c => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0)

/** Registers a serial scenario file: one overlay for all its tests. Returns the overlay and a `serial` test function. */
export const scenario = (tag: string, options: ScenarioOptions): { o: Overlay, serial: typeof test.serial, ns: (peer: string) => string, ip: Record<string, string> } => {
  const absent = missing(options.needs)
  const why = netnsUnavailable(['ip']) ?? (absent.length > 0 ? `not installed: ${absent.join(', ')} (see README "LAN application scenarios")` : null)
  const o = new Overlay(tag)
  const ip: Record<string, string> = {}
  if (why !== null) {
    skipWithReason(`${tag} scenario`, why)
    return { o, serial: test.serial.skip as unknown as typeof test.serial, ns: () => '', ip }
  }
  test.before(async () => {
    await o.init(Object.keys(options.peers))
    await o.startHub()
    for (const [name, room] of Object.entries(options.peers)) {
      await o.startPeer(name, room, options.peerArgs?.[name] ?? [])
      ip[name] = await o.ipOf(name)
    }
  })
  test.after.always(async () => { await o.cleanup() })
  return { o, serial: test.serial, ns: (peer: string) => o.topo.host(peer).ns, ip }
}

/** Sets the room's impairment through the hub's admin API (loopback in the hub namespace). */
export const impair = async (o: Overlay, room: string, spec: { delayMs?: number, jitterMs?: number, lossPercent?: number }): Promise<void> => {
  const body = JSON.stringify({ room, ...spec })
  const script = `const r=require('https').request({host:'127.0.0.1',port:443,path:'/admin/impairment',method:'PUT',headers:{'content-type':'application/json'},rejectUnauthorized:false},res=>{res.resume();process.exit(res.statusCode===200?0:1)});r.on('error',()=>process.exit(1));r.end(${JSON.stringify(body)})`
  const r = await o.topo.run(o.topo.hubNs, 'node', ['-e', script])
  if (r.code !== 0) throw new Error(`impairment not set: ${r.stderr}`)
}

/** Runs `fn` and returns what it returned and how long it took (ms). */
export const timed = async <T>(fn: () => Promise<T>): Promise<{ value: T, ms: number }> => {
  const start = process.hrtime.bigint()
  const value = await fn()
  return { value, ms: Number(process.hrtime.bigint() - start) / 1e6 }
}

export type Ctx = ExecutionContext
