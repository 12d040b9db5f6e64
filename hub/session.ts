/**
 * One connected peer as seen by the hub: its WebSocket, lease, counters and the bounded
 * send path. Sending never blocks and never grows memory without bound: when the peer's
 * socket holds more than `sendQueueBytes` unsent bytes, new batches are dropped and
 * counted `queue_full` (TCP inside the overlay recovers; a deep queue would only add
 * latency — the TCP-in-TCP bufferbloat the README explains). Flooded traffic (broadcast,
 * multicast, unknown unicast) may fill only FLOOD_SHARE of that queue, so floods other
 * members send, even within their storm buckets, never starve this peer's unicast.
 */
import { OPEN, type WsConnection } from '../core/websocket/connection.js'
import { MAX_HEADER } from '../core/websocket/frame.js'
import { BATCH_LEN_PREFIX, DIRECT_PER_S, LIST_BURST, LIST_PER_S } from '../core/protocol.js'
import { zeroCounts } from '../core/counts.js'
import { RttStats } from '../core/rtt.js'
import type { Impairment } from './impairment.js'

/** Why the hub dropped something of one session's; also the metric label. */
export const SESSION_DROP_REASONS = [
  'queue_full', // the peer's socket held more than sendQueueBytes unsent (frames, or a control message)
  'bad_batch', // a binary message whose frame lengths do not add up
  'before_welcome', // binary data before the join completed
  'impaired_loss', // lost on purpose by the room's impairment
  'list_rate', // a `list` over LIST_PER_S: ignored
  'test_rate', // a throughput test within TEST_EVERY_MS of the last: ignored
  'direct_rate', // a `direct` over DIRECT_PER_S: ignored
  'not_owner', // data for a clustered room this hub may no longer switch (its fence ran out)
  'internal_error' // a message that made a decoder throw: dropped, logged with its stack
] as const
export type SessionDropReason = typeof SESSION_DROP_REASONS[number]

/** Per-destination batch being assembled from frames of a mixed incoming batch. */
const OUT_SLAB_BYTES = 256 * 1024
const OUT_FLUSH_BYTES = 64 * 1024
/**
 * Bytes an impaired port may hold back for its delay, like netem's 1000-packet limit: the
 * send queue is kept short for latency, but 40 ms of delay at 100 Mbit/s is already 500 KiB.
 */
export const IMPAIRMENT_HOLD_BYTES = 2 * 1024 * 1024
/** Share of a peer's send queue that flooded frames may occupy. */
export const FLOOD_SHARE = 0.5

export class SessionCounters {
  rxFrames = 0
  rxBytes = 0
  txFrames = 0
  txBytes = 0
  readonly drops = zeroCounts(SESSION_DROP_REASONS)
}

export interface SessionInfo {
  room: string
  identity: string
  name: string
  mac: string
  ip: string
}

export class Session {
  // set at construction
  readonly port: number
  readonly ws: WsConnection
  readonly remote: string
  readonly connectedAt: number
  private readonly sendQueueBytes: number
  private readonly floodQueueBytes: number

  // set once on welcome
  info: SessionInfo | null = null
  /** Refused or replaced: nothing it sends is processed any more. */
  refused = false
  /** A hello with a key waits for its proof (the nonce is single-use). */
  challenge: { hello: import('../core/protocol.js').HelloMessage, nonce: string } | null = null
  /** A hello is being admitted (an invite check may take a while): no second one. */
  joining = false
  /** The public key this session proved, if it joined with one. */
  key: string | null = null
  /** A throughput test in progress (peer test): its direction, end, bytes; when the last began. */
  test: { direction: 'up' | 'down', until: number, bytes: number, start: number } | null = null
  readonly lastTestAt = { up: -Infinity, down: -Infinity }
  /** The peer's direct-path candidates ("ip:port") and how many members it reaches directly. */
  endpoints: string[] = []
  reaching = 0
  private directAt = -Infinity

  // set by the room (config or admin API); null = a perfect link
  impairment: Impairment | null = null
  /** Bytes held back by the impairment delay (bounded by IMPAIRMENT_HOLD_BYTES). */
  private delayedBytes = 0

  /** RTT to this peer, from the WebSocket pings the hub sends for keepalive. */
  readonly rtt = new RttStats()
  /** When the last ping left (hrtime ms), 0 when none is out. */
  pingSentAt = 0

  // owned by the hub's receive path
  lastSeen: number
  readonly counters = new SessionCounters()
  private slab: Buffer | null = null
  private slabStart = 0
  private slabEnd = 0
  private pendingFrames = 0
  /** Every frame of the pending batch was flooded (it then gets the flood share of the queue). */
  private pendingFlooded = true
  private listTokens = LIST_BURST
  private listAt: number

  constructor (port: number, ws: WsConnection, remote: string, now: number, sendQueueBytes: number) {
    this.port = port
    this.ws = ws
    this.remote = remote
    this.connectedAt = now
    this.lastSeen = now
    this.listAt = now
    this.sendQueueBytes = sendQueueBytes
    this.floodQueueBytes = sendQueueBytes * FLOOD_SHARE
  }

  /** At most DIRECT_PER_S `direct` messages a second; false (counted) for one over it. */
  allowDirect (now: number): boolean {
    if (now - this.directAt < 1000 / DIRECT_PER_S) { this.counters.drops.direct_rate++; return false }
    this.directAt = now
    return true
  }

  /**
   * Sends one control message through the same bound as data: a peer that stops reading
   * cannot make the hub queue answers for it. False (counted `queue_full`) when dropped.
   */
  sendControl (text: string): boolean {
    if (this.ws.readyState !== OPEN) return false
    if (this.ws.bufferedAmount > this.sendQueueBytes) { this.counters.drops.queue_full++; return false }
    return this.ws.sendText(text)
  }

  /** Takes a `list` token (LIST_PER_S per second, bursts of LIST_BURST); false counts `list_rate`. */
  allowList (now: number): boolean {
    this.listTokens = Math.min(LIST_BURST, this.listTokens + (now - this.listAt) * LIST_PER_S / 1000)
    this.listAt = now
    if (this.listTokens < 1) { this.counters.drops.list_rate++; return false }
    this.listTokens--
    return true
  }

  /**
   * Sends a whole batch of `frames` frames, copied: `buf` may be the read buffer a received
   * message sits in, which the next read overwrites.
   */
  sendBatch (buf: Buffer, frames: number, flooded = false): void {
    if (this.impairment !== null) { this.sendImpaired(buf, frames, flooded, this.impairment); return }
    if (this.admits(buf.length, frames, flooded)) this.ws.sendBinary(buf, 0, buf.length)
  }

  /** The queue bound: false (counted) when this batch is dropped; else counted as sent. */
  private admits (bytes: number, frames: number, flooded: boolean): boolean {
    if (this.ws.readyState !== OPEN || this.ws.bufferedAmount > (flooded ? this.floodQueueBytes : this.sendQueueBytes)) {
      this.counters.drops.queue_full += frames
      return false
    }
    this.counters.txFrames += frames
    this.counters.txBytes += bytes
    return true
  }

  /** Loss per frame, then one delay for what is left of the batch (copied: the batch may be shared). */
  private sendImpaired (buf: Buffer, frames: number, flooded: boolean, imp: Impairment): void {
    const kept: Buffer[] = []
    let off = 0
    for (let i = 0; i < frames; i++) {
      const end = off + BATCH_LEN_PREFIX + buf.readUInt16BE(off)
      if (imp.lose()) this.counters.drops.impaired_loss++
      else kept.push(buf.subarray(off, end))
      off = end
    }
    if (kept.length === 0) return
    const out = Buffer.concat(kept)
    if (this.delayedBytes + out.length > Math.max(this.sendQueueBytes, IMPAIRMENT_HOLD_BYTES)) { this.counters.drops.queue_full += kept.length; return }
    const delay = imp.delay()
    const send = (): void => { if (this.admits(out.length, kept.length, flooded)) this.ws.sendBinary(out, 0, out.length) }
    if (delay === 0) { send(); return }
    this.delayedBytes += out.length
    setTimeout(() => { this.delayedBytes -= out.length; send() }, delay).unref()
  }

  /** Copies one length-prefixed frame buf[off, off+len) into this peer's pending batch. */
  append (buf: Buffer, off: number, len: number, flooded = false): void {
    this.ensureRoom(len)
    if (!flooded) this.pendingFlooded = false
    buf.copy(this.slab!, this.slabEnd, off, off + len)
    this.slabEnd += len
    this.pendingFrames++
    if (this.slabEnd - this.slabStart >= OUT_FLUSH_BYTES) this.flush()
  }

  /** Room for `len` more bytes in the pending batch, which starts MAX_HEADER bytes into its region (the frame header goes there). */
  private ensureRoom (len: number): void {
    const head = this.pendingFrames === 0 ? MAX_HEADER : 0
    if (this.slab !== null && this.slabEnd + head + len <= this.slab.length) {
      if (head > 0) this.slabStart = this.slabEnd = this.slabEnd + head
      return
    }
    this.flush()
    // A fresh slab; the old one stays alive only while the socket still holds its regions.
    this.slab = Buffer.allocUnsafe(Math.max(OUT_SLAB_BYTES, MAX_HEADER + len))
    this.slabStart = this.slabEnd = MAX_HEADER
  }

  /** Copies one bare frame (no length prefix), e.g. a reply the switch built, into the pending batch. */
  appendFrame (frame: Buffer, off: number, len: number): void {
    this.ensureRoom(BATCH_LEN_PREFIX + len)
    this.slab!.writeUInt16BE(len, this.slabEnd)
    frame.copy(this.slab!, this.slabEnd + BATCH_LEN_PREFIX, off, off + len)
    this.slabEnd += BATCH_LEN_PREFIX + len
    this.pendingFrames++
    this.pendingFlooded = false
  }

  /** Sends the pending batch, framed in place (the header into the room left before it). */
  flush (): void {
    if (this.pendingFrames === 0 || this.slab === null) return
    const start = this.slabStart
    const len = this.slabEnd - start
    const n = this.pendingFrames
    const flooded = this.pendingFlooded
    this.slabStart = this.slabEnd
    this.pendingFrames = 0
    this.pendingFlooded = true
    if (this.impairment !== null) { this.sendImpaired(this.slab.subarray(start, start + len), n, flooded, this.impairment); return }
    if (this.admits(len, n, flooded)) this.ws.sendFramed(this.slab, start, len)
  }
}
