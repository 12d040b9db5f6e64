/** JSON snapshot of the hub for `GET /status`: rooms, peers, counters. Built on demand, never on the hot path. */
import { formatCidr } from '../core/ipv4.js'
import type { RttStats } from '../core/rtt.js'
import { formatMac } from '../l2/ethernet.js'
import { FRAME_CLASS_NAMES } from '../l2/packet.js'
import type { TrafficCounters } from '../l2/switch.js'
import type { Room } from './room.js'
import type { DirectoryEntry } from '../discovery/directory.js'
import type { ImpairmentSpec } from './impairment.js'

export interface ClassCounts { frames: Record<string, number>, bytes: Record<string, number> }

export interface PeerStatus {
  name: string
  ip: string
  mac: string
  remote: string
  connectedS: number
  rxFrames: number
  rxBytes: number
  txFrames: number
  txBytes: number
  /** Frames this peer sent into the switch, by class. */
  byClass: ClassCounts
  /** Session drops (queue_full, bad_batch…) and switch drops of its frames, by reason; zeros left out. */
  drops: Record<string, number>
  /** RTT hub <-> peer (keepalive ping/pong). */
  rtt: ReturnType<RttStats['toJSON']>
}

export interface RoomStatus {
  name: string
  subnet: string
  mtu: number
  maxPeers: number
  arpSuppression: boolean
  snooping: boolean
  impairment: { room: ImpairmentSpec, peers: Record<string, ImpairmentSpec> }
  peers: PeerStatus[]
  switch: {
    byClass: ClassCounts
    unicast: number
    flooded: number
    unknownUnicast: number
    multicastToMembers: number
    multicastUnsubscribed: number
    arpReplies: number
    ndReplies: number
    membershipReports: number
    fdbSize: number
    fdbMoves: number
    neighbors: number
    groups: number
    memberships: number
    drops: Record<string, number>
  }
  groups: Array<{ group: string, members: string[] }>
  /** What each peer offers (mDNS/DNS-SD, SSDP, NetBIOS, game servers). */
  directory: DirectoryEntry[]
  /** Discovery frames waiting to be decoded, and those not decoded (over a peer's rate or the queue bound). */
  directoryFeed: { queued: number, dropped: number }
}

export interface HubStatus {
  uptimeS: number
  pendingConnections: number
  rooms: RoomStatus[]
  /** Open connections, those not yet joined, and refusals by door (hub/doors.ts). */
  doors?: { connections: number, preAuth: number, refused: Record<string, number> }
  /** Messages that made a decoder throw (each dropped and logged). */
  internalErrors?: number
  /** The process's memory (MiB): resident, V8 heap in use, and off-heap buffers (sockets' and TLS's). */
  memory?: { rssMiB: number, heapUsedMiB: number, externalMiB: number }
  /** The UDP reflector for the direct path: its port, answers, drops by reason. */
  udp?: { port: number, answered: number, drops: Record<string, number> } | null
  /** The relay's keep-warm loop (core/websocket/warm-loop.ts): period (0 = off), ticks that ran, skipped hot, its loopback socket. */
  keepWarm?: import('../core/websocket/warm-loop.js').WarmLoopStatus | null
  /** How peers' WebSockets are read: 'onread' (no stream machinery), 'stream' where this Node lacks it; null before the first. */
  wsReader?: 'onread' | 'stream' | null
  /** hub --store: this hub's id and URL, the rooms it owns (epoch, ms of fence left), the cluster's hubs. */
  cluster?: ReturnType<import('./cluster/cluster.js').Cluster['status']> | null
}

const byClass = (t: TrafficCounters): ClassCounts => ({
  frames: Object.fromEntries(FRAME_CLASS_NAMES.map((n, i) => [n, t.frames[i]!])),
  bytes: Object.fromEntries(FRAME_CLASS_NAMES.map((n, i) => [n, t.bytes[i]!]))
})

const nonZero = (...sources: Array<Record<string, number>>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const src of sources) for (const [k, v] of Object.entries(src)) if (v !== 0) out[k] = (out[k] ?? 0) + v
  return out
}

export const hubStatus = (rooms: Iterable<Room>, pending: number, now: number, startedAt: number): HubStatus => ({
  uptimeS: Math.round((now - startedAt) / 1000),
  pendingConnections: pending,
  rooms: [...rooms].map(r => {
    const sw = r.switch
    const c = sw.counters
    const nameOfPort = new Map(r.list().map(s => [s.port, s.info!.name]))
    return {
      name: r.settings.name,
      subnet: formatCidr(r.settings.subnet),
      mtu: r.settings.mtu,
      maxPeers: r.settings.maxPeers,
      arpSuppression: sw.arpSuppression,
      snooping: sw.snooping,
      directPath: r.settings.directPath,
      impairment: { room: r.settings.impairment.room, peers: Object.fromEntries(r.settings.impairment.peers) },
      peers: r.list().map(s => {
        const pc = sw.countersOf(s.port)
        return {
          name: s.info!.name,
          ip: s.info!.ip,
          mac: s.info!.mac,
          remote: s.remote,
          connectedS: Math.round((now - s.connectedAt) / 1000),
          rxFrames: s.counters.rxFrames,
          rxBytes: s.counters.rxBytes,
          txFrames: s.counters.txFrames,
          txBytes: s.counters.txBytes,
          byClass: pc !== undefined ? byClass(pc) : { frames: {}, bytes: {} },
          drops: nonZero(s.counters.drops, pc?.drops ?? {}),
          rtt: s.rtt.toJSON(),
          // How many of its room's members this peer reaches peer to peer (it says so itself).
          direct: { reaching: s.reaching, endpoints: s.endpoints }
        }
      }),
      switch: {
        byClass: byClass(c),
        unicast: c.unicast,
        flooded: c.flooded,
        unknownUnicast: c.unknownUnicast,
        multicastToMembers: c.multicastToMembers,
        multicastUnsubscribed: c.multicastUnsubscribed,
        arpReplies: c.arpReplies,
        ndReplies: c.ndReplies,
        membershipReports: c.membershipReports,
        fdbSize: sw.fdb.size,
        fdbMoves: sw.fdb.moves,
        neighbors: sw.neighbors.size,
        groups: sw.groups.size,
        memberships: sw.groups.memberships,
        drops: nonZero(c.drops)
      },
      groups: sw.groups.snapshot().map(g => ({ group: formatMac(g.group), members: g.ports.map(p => nameOfPort.get(p) ?? String(p)) })),
      directory: r.directory.list(now),
      directoryFeed: { queued: r.feed.queued, dropped: r.feed.dropped }
    }
  })
})
