/**
 * `GET /metrics` in the Prometheus text format (prom-client; same access as /status): rooms
 * and peers, frames and bytes by direction and class, drops by reason, queue depths, joins by
 * how, refusals by code, door refusals, internal errors, and the process (CPU, memory, event
 * loop lag, GC). Values are read from the hub's own counters when scraped: nothing is
 * counted twice and the forwarding path does no extra work.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { FRAME_CLASS_NAMES } from '../l2/packet.js'
import type { Doors } from './doors.js'
import type { Room } from './room.js'
import type { Session } from './session.js'

export interface MetricsSource {
  rooms: () => Iterable<Room>
  doors: Doors
  internalErrors: () => number
}

export class HubMetrics {
  readonly registry = new Registry()
  readonly joins: Counter<'via'>
  readonly refusals: Counter<'code'>
  /** Hub <-> peer WebSocket round trips (keepalive ping/pong). */
  readonly rtt: Histogram

  constructor (src: MetricsSource) {
    const r = this.registry
    collectDefaultMetrics({ register: r, prefix: 'overlan_hub_' })
    const rooms = (): Room[] => [...src.rooms()]
    new Gauge({ name: 'overlan_rooms', help: 'Rooms on this hub', registers: [r], collect () { this.set(rooms().length) } })
    new Gauge({ name: 'overlan_peers', help: 'Peers connected', registers: [r], collect () { this.set(rooms().reduce((n, x) => n + x.size, 0)) } })
    new Gauge({
      name: 'overlan_send_queue_bytes', help: 'Bytes queued towards peers, not yet written (sum over peers)', registers: [r],
      collect () { let n = 0; for (const x of rooms()) for (const s of x.list()) n += s.ws.bufferedAmount; this.set(n) }
    })
    // Frames and bytes share one shape: rx per class from the switch, tx summed over sessions.
    const switched = (name: string, help: string, rx: (x: Room) => ArrayLike<number>, tx: (s: Session) => number): void => {
      new Counter({
        name, help, labelNames: ['direction', 'class'] as const, registers: [r],
        collect () {
          this.reset()
          for (const x of rooms()) {
            const v = rx(x)
            FRAME_CLASS_NAMES.forEach((c, i) => { if (v[i]! > 0) this.inc({ direction: 'rx', class: c }, v[i]!) })
            let sum = 0
            for (const s of x.list()) sum += tx(s)
            if (sum > 0) this.inc({ direction: 'tx', class: 'all' }, sum)
          }
        }
      })
    }
    switched('overlan_frames_total', 'Frames switched: rx by class (from peers), tx (to peers)', x => x.switch.counters.frames, s => s.counters.txFrames)
    switched('overlan_bytes_total', 'Bytes switched: rx by class, tx to peers', x => x.switch.counters.bytes, s => s.counters.txBytes)
    new Counter({
      name: 'overlan_drops_total', help: 'Frames and messages dropped, by reason (switch and peer sessions)', labelNames: ['reason'] as const, registers: [r],
      collect () {
        this.reset()
        for (const x of rooms()) {
          for (const [reason, n] of Object.entries(x.switch.counters.drops)) if (n > 0) this.inc({ reason }, n)
          for (const s of x.list()) for (const [reason, n] of Object.entries(s.counters.drops)) if (n > 0) this.inc({ reason }, n)
          if (x.feed.dropped > 0) this.inc({ reason: 'directory_feed' }, x.feed.dropped)
        }
      }
    })
    new Counter({
      name: 'overlan_door_refusals_total', help: 'Connections and joins refused at the doors, by door', labelNames: ['door'] as const, registers: [r],
      collect () { this.reset(); for (const [door, n] of Object.entries(src.doors.refused)) if (n > 0) this.inc({ door }, n) }
    })
    new Counter({ name: 'overlan_internal_errors_total', help: 'Messages that made a decoder throw (each dropped)', registers: [r], collect () { this.reset(); const n = src.internalErrors(); if (n > 0) this.inc(n) } })
    this.joins = new Counter({ name: 'overlan_joins_total', help: 'Joins, by how the peer got in', labelNames: ['via'] as const, registers: [r] })
    this.rtt = new Histogram({ name: 'overlan_peer_rtt_seconds', help: 'Round-trip time between the hub and its peers (WebSocket ping/pong)', buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1], registers: [r] })
    this.refusals = new Counter({ name: 'overlan_refusals_total', help: 'Join refusals and session ends, by code', labelNames: ['code'] as const, registers: [r] })
  }

  async text (): Promise<{ contentType: string, body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}
