/**
 * One other member as the direct link sees it: its key and leased MAC (from the hub's
 * members push), its candidates, the path's timers, and up to three sessions by our index
 * (current, previous — kept so that crossing handshakes and rekeys lose no packet — and one
 * handshake of ours waiting for its answer).
 */
import type { Initiator } from '../core/direct/noise.js'
import { PathTimers } from '../core/direct/path.js'
import type { TransportSession } from '../core/direct/transport.js'
import type { Endpoint } from '../core/direct/wire.js'
import { RttStats } from '../core/rtt.js'

export interface DirectSession { readonly t: TransportSession, readonly index: number, readonly remote: Remote }
export interface PendingHandshake { readonly initiator: Initiator, readonly index: number, readonly remote: Remote }

export class Remote {
  readonly timers = new PathTimers()
  readonly rtt = new RttStats()
  name = ''
  ip = ''
  /** The member's leased MAC as a 48-bit number (frames from it must carry it). */
  mac = -1
  candidates: Endpoint[] = []
  /** Missing from the welcome after a rejoin: kept until then (ms clock), else 0. */
  unlistedUntil = 0
  /** Where its authenticated packets last came from: where ours go. */
  endpoint: Endpoint | null = null
  current: DirectSession | null = null
  previous: DirectSession | null = null
  pending: PendingHandshake | null = null
  /** The newest handshake timestamp accepted from it (older ones are replays). */
  lastTimestamp: Buffer | null = null
  /** The heartbeat in flight: id, when (hrtime ms), and whether it was full size. */
  pingId = 0
  pingAt = 0
  pingFull = false

  constructor (readonly key: string) {}

  /** Frames may take the path now. */
  get usable (): boolean { return this.timers.state === 'direct' && this.current !== null && this.endpoint !== null }
}
