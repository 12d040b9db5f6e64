/** JSON snapshot of the hub for `GET /status`: rooms, peers, counters. Built on demand, never on the hot path. */
import { formatCidr } from '../core/ipv4.js'
import type { Room } from './room.js'

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
  drops: Record<string, number>
}

export interface RoomStatus {
  name: string
  subnet: string
  mtu: number
  maxPeers: number
  peers: PeerStatus[]
  switch: {
    frames: number
    bytes: number
    unicast: number
    broadcast: number
    multicast: number
    unknownUnicast: number
    fdbSize: number
    fdbMoves: number
    drops: Record<string, number>
  }
}

export interface HubStatus {
  uptimeS: number
  pendingConnections: number
  rooms: RoomStatus[]
}

export const hubStatus = (rooms: Iterable<Room>, pending: number, now: number, startedAt: number): HubStatus => ({
  uptimeS: Math.round((now - startedAt) / 1000),
  pendingConnections: pending,
  rooms: [...rooms].map(r => {
    const c = r.switch.counters
    return {
      name: r.settings.name,
      subnet: formatCidr(r.settings.subnet),
      mtu: r.settings.mtu,
      maxPeers: r.settings.maxPeers,
      peers: r.list().map(s => ({
        name: s.info!.name,
        ip: s.info!.ip,
        mac: s.info!.mac,
        remote: s.remote,
        connectedS: Math.round((now - s.connectedAt) / 1000),
        rxFrames: s.counters.rxFrames,
        rxBytes: s.counters.rxBytes,
        txFrames: s.counters.txFrames,
        txBytes: s.counters.txBytes,
        drops: { ...s.counters.drops }
      })),
      switch: {
        frames: c.frames,
        bytes: c.bytes,
        unicast: c.unicast,
        broadcast: c.broadcast,
        multicast: c.multicast,
        unknownUnicast: c.unknownUnicast,
        fdbSize: r.switch.fdb.size,
        fdbMoves: r.switch.fdb.moves,
        drops: { ...c.drops }
      }
    }
  })
})
