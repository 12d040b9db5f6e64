/**
 * Feeds a room's directory off the forwarding path. Room.forward only copies the UDP
 * payload of a discovery frame into a bounded queue (at most FEED_QUEUE_MAX waiting, each
 * peer held to FEED_PER_PEER_PPS); the decoders (dns-packet, SSDP, NBNS, game answers) run
 * later, in batches of FEED_BATCH per event-loop turn. So a chatty or hostile room costs
 * forwarding one small copy per admitted frame, and decoding can never stall it.
 *
 *   forward ─► push (peer rate? queue room? copy) ─► queue ─► drain on a later turn ─► directory
 */
import type { Observation, RoomDirectory } from '../discovery/directory.js'

export const FEED_QUEUE_MAX = 256
export const FEED_PER_PEER_PPS = 50
export const FEED_BURST = 100
export const FEED_BATCH = 64

interface Pending { o: Observation, payload: Buffer }

export class DirectoryFeed {
  // set at construction
  private readonly directory: RoomDirectory
  private readonly defer: (fn: () => void) => void

  // owned by push/drain
  private queue: Pending[] = []
  private readonly buckets = new Map<string, { tokens: number, at: number }>()
  private scheduled = false
  /** Observations not decoded: over a peer's rate or the queue bound. */
  dropped = 0

  constructor (directory: RoomDirectory, defer: (fn: () => void) => void = setImmediate) {
    this.directory = directory
    this.defer = defer
  }

  get queued (): number { return this.queue.length }

  /** Queues a copy of the UDP payload b[off, end); the caller's buffer is not kept. */
  push (o: Observation, b: Buffer, off: number, end: number): void {
    let bucket = this.buckets.get(o.peer)
    if (bucket === undefined) { bucket = { tokens: FEED_BURST, at: o.now }; this.buckets.set(o.peer, bucket) }
    bucket.tokens = Math.min(FEED_BURST, bucket.tokens + (o.now - bucket.at) * FEED_PER_PEER_PPS / 1000)
    bucket.at = o.now
    if (bucket.tokens < 1 || this.queue.length >= FEED_QUEUE_MAX) { this.dropped++; return }
    bucket.tokens--
    const payload = Buffer.allocUnsafe(end - off)
    b.copy(payload, 0, off, end)
    this.queue.push({ o, payload })
    if (!this.scheduled) { this.scheduled = true; this.defer(this.drain) }
  }

  /** A peer left: its queued observations must not bring its entries back. */
  removePeer (peer: string): void {
    this.buckets.delete(peer)
    this.queue = this.queue.filter(p => p.o.peer !== peer)
  }

  private readonly drain = (): void => {
    this.scheduled = false
    const batch = this.queue.splice(0, FEED_BATCH)
    for (const p of batch) this.directory.observe(p.o, p.payload, 0, p.payload.length)
    if (this.queue.length > 0) { this.scheduled = true; this.defer(this.drain) }
  }
}
