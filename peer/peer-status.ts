/** What `peer status --json` says (the running peer's PeerStatus), and the peer's counters. */
import { zeroCounts } from '../core/counts.js'
import type { Member } from '../core/protocol.js'
import type { RttStats } from '../core/rtt.js'
import type { DirectPathStatus } from './direct-path.js'
import type { ClassCounters } from './frame-path.js'
import type { KeepWarmStatus } from '../core/keep-warm.js'

export type PeerState = 'starting' | 'connecting' | 'connected' | 'reconnecting' | 'stopped'
/** Drops counted here (also metric labels); oversize drops are counted by the frame path. */
export const PEER_DROP_REASONS = [
  'disconnected', // no hub connection and no direct path for the frame
  'queue_full', // the hub link's send queue is over its high-water mark
  'bad_batch', // a batch from the hub that does not parse
  'tap_full', // the TAP refused the write (EAGAIN)
  'internal_error' // a batch that made the code throw: dropped, logged (rate-limited)
] as const
export type PeerDropReason = typeof PEER_DROP_REASONS[number]

export class PeerCounters {
  /** Frames read from the TAP and sent to the hub. */
  sentFrames = 0
  sentBytes = 0
  /** Frames received from the hub and written to the TAP. */
  receivedFrames = 0
  receivedBytes = 0
  reconnects = 0
  readonly drops = zeroCounts(PEER_DROP_REASONS)
}

export type MemberView = Member & { path: 'direct' | 'relay', rttMs: number | null, endpoint?: string | null }

export interface PeerStatus {
  state: PeerState
  room: string
  name: string
  hub: string
  iface: string
  address: string | null
  mac: string | null
  mtu: number | null
  /** Every other member of the room, kept current by the hub's pushes, with how it is reached. */
  members: MemberView[]
  /** RTT to the hub: last, median, p95 (ms). */
  hubRtt: ReturnType<RttStats['toJSON']>
  /** The direct path: on or off, its UDP socket's port and candidates, members reached, counters. */
  direct: DirectPathStatus
  startedAt: number
  connectedAt: number | null
  uptimeS: number
  connectedS: number | null
  lastError: string | null
  /** PeerCounters, with the frame path's oversize drops added to `drops`. */
  counters: Omit<PeerCounters, 'drops'> & { drops: Record<string, number> }
  /** Frames and bytes by traffic class, each way; MSS rewrites and oversize drops. */
  sentByClass: ReturnType<ClassCounters['toJSON']>
  receivedByClass: ReturnType<ClassCounters['toJSON']>
  mssClamped: number
  /** The data path's keep-warm timer (core/keep-warm.ts): period (0 = off), ticks that ran, skipped hot; `relay`: the loop that keeps the hub link's code warm. */
  keepWarm: KeepWarmStatus & { relay: import('../core/websocket/warm-loop.js').WarmLoopStatus }
  tap: { readFrames: number, readBytes: number, writeFrames: number, writeBytes: number, writeDrops: number }
}

/** Members as status shows them: peer to peer with the path's RTT, or via the hub (this peer's RTT to the hub plus the member's). */
export const memberViews = (members: readonly Member[], self: string | undefined, hubRttMs: number | null, pathOf: (mac: string) => { path: 'direct' | 'relay', rttMs: number | null, endpoint: string | null } | null): MemberView[] =>
  members.filter(x => x.mac !== self).map(({ endpoints: _e, ...x }) => {
    const d = pathOf(x.mac)
    if (d !== null && d.path === 'direct') return { ...x, path: 'direct' as const, rttMs: d.rttMs, endpoint: d.endpoint }
    const relay = hubRttMs !== null && x.hubRttMs !== undefined && x.hubRttMs !== null ? Math.round((hubRttMs + x.hubRttMs) * 1000) / 1000 : null
    return { ...x, path: 'relay' as const, rttMs: relay }
  })
