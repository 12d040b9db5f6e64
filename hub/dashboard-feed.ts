/**
 * The dashboard's live feed: `GET /events`, Server-Sent Events with one JSON snapshot a
 * second (rooms, members with RTT, path and rates each way, drops by reason, services, the
 * hub's health), computed once per second for all open streams and only while one is open.
 * At most MAX_STREAMS streams (a dashboard tab each).
 */
import type { ServerResponse } from 'node:http'
import { formatCidr } from '../core/ipv4.js'
import type { Room } from './room.js'

const MAX_STREAMS = 16
const EVERY_MS = 1000

export interface Snapshot {
  health: { peers: number, rooms: number, rssMiB: number, uptimeS: number }
  /** hub --store: this hub's id, the rooms it owns, the live hubs, the store's state. */
  cluster?: { hub: string, owns: string[], hubs: string[], store: string }
  rooms: Array<{
    name: string
    subnet: string
    peers: Array<{ name: string, ip: string, mac: string, onlineS: number, rttMs: number | null, path: 'relay' | 'direct', rxBps: number, txBps: number, drops: Record<string, number> }>
    services: Array<{ peer: string, kind: string, type: string, name: string, address: string, port: number | null, detail: string }>
  }>
}

export class DashboardFeed {
  private readonly streams = new Set<ServerResponse>()
  private timer: NodeJS.Timeout | null = null
  private last = new Map<unknown, { rx: number, tx: number, t: number }>()

  constructor (private readonly rooms: () => Iterable<Room>, private readonly uptimeS: () => number, private readonly cluster: () => Snapshot['cluster'] | undefined = () => undefined) {}

  /** Adds a stream; false when there are too many already. */
  open (res: ServerResponse): boolean {
    if (this.streams.size >= MAX_STREAMS) return false
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    this.streams.add(res)
    res.on('close', () => { this.streams.delete(res); if (this.streams.size === 0) this.stop() })
    this.send(res, this.snapshot())
    if (this.timer === null) { this.timer = setInterval(() => { this.tick() }, EVERY_MS); this.timer.unref() }
    return true
  }

  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    for (const s of this.streams) s.end()
    this.streams.clear()
  }

  private tick (): void {
    const snap = this.snapshot()
    for (const s of this.streams) this.send(s, snap)
  }

  private send (res: ServerResponse, snap: Snapshot): void {
    // A stalled tab does not make the hub buffer without bound.
    if (res.writableLength > 1024 * 1024) { res.destroy(); return }
    res.write(`data: ${JSON.stringify(snap)}\n\n`)
  }

  snapshot (): Snapshot {
    const now = performance.now()
    const next = new Map<unknown, { rx: number, tx: number, t: number }>()
    let peers = 0
    const rooms = [...this.rooms()].map(r => {
      peers += r.size
      const sw = r.switch
      return {
        name: r.settings.name,
        subnet: formatCidr(r.settings.subnet),
        peers: r.list().map(s => {
          const prev = this.last.get(s)
          const cur = { rx: s.counters.rxBytes, tx: s.counters.txBytes, t: now }
          next.set(s, cur)
          const dt = prev !== undefined ? (now - prev.t) / 1000 : 0
          const drops: Record<string, number> = {}
          for (const [k, n] of Object.entries(s.counters.drops)) if (n > 0) drops[k] = n
          for (const [k, n] of Object.entries(sw.countersOf(s.port)?.drops ?? {})) if (n > 0) drops[k] = (drops[k] ?? 0) + n
          return {
            name: s.info!.name,
            ip: s.info!.ip,
            mac: s.info!.mac,
            onlineS: Math.round((Date.now() - s.connectedAt) / 1000),
            rttMs: s.rtt.median,
            path: 'relay' as const,
            rxBps: prev !== undefined && dt > 0 ? (cur.rx - prev.rx) / dt : 0,
            txBps: prev !== undefined && dt > 0 ? (cur.tx - prev.tx) / dt : 0,
            drops
          }
        }),
        services: r.directory.list(Date.now())
      }
    })
    this.last = next
    const cluster = this.cluster()
    return { health: { peers, rooms: rooms.length, rssMiB: process.memoryUsage.rss() / 1048576, uptimeS: this.uptimeS() }, ...(cluster !== undefined ? { cluster } : {}), rooms }
  }
}
