/**
 * What the peer does to each frame crossing its TAP, both ways: count it by traffic class,
 * drop it when it exceeds the room's MTU (+ Ethernet header + VLAN tag), and clamp the MSS
 * of TCP SYNs so TCP across the overlay never needs fragmentation (l2/mss.ts). Outgoing,
 * limited broadcasts and game multicast the kernel copied from the physical network get
 * the overlay source address, and duplicates are dropped (l2/broadcast-copy.ts).
 * Rewrites happen in place: outgoing batches are TAP slab memory not yet handed to ws,
 * incoming ones are messages ws gave us.
 */
import { BATCH_LEN_PREFIX, MAX_MESSAGE_BYTES, compactBatch, countFrames } from '../core/protocol.js'
import { BroadcastCopy } from '../l2/broadcast-copy.js'
import { maxFrameLenForMtu } from '../l2/ethernet.js'
import { clampMss } from '../l2/mss.js'
import { FRAME_CLASS_COUNT, FRAME_CLASS_NAMES, FrameInfo, inspect } from '../l2/packet.js'

export class ClassCounters {
  readonly frames = new Float64Array(FRAME_CLASS_COUNT)
  readonly bytes = new Float64Array(FRAME_CLASS_COUNT)

  toJSON (): { frames: Record<string, number>, bytes: Record<string, number> } {
    return {
      frames: Object.fromEntries(FRAME_CLASS_NAMES.map((n, i) => [n, this.frames[i]!])),
      bytes: Object.fromEntries(FRAME_CLASS_NAMES.map((n, i) => [n, this.bytes[i]!]))
    }
  }
}

export class FramePath {
  readonly sent = new ClassCounters()
  readonly received = new ClassCounters()
  mssClamped = 0
  /** Frames left in the batch `outgoing` returned last, and the traffic class of each. */
  lastFrames = 0
  readonly lastClasses = new Uint8Array(Math.ceil(MAX_MESSAGE_BYTES / (BATCH_LEN_PREFIX + 14)) + 1024)
  oversizeOut = 0
  oversizeIn = 0
  /** Source rewrite and de-duplication of copied broadcasts (peer/presence.ts turns it on). */
  readonly copy = new BroadcastCopy()
  private mtu = 0
  private maxLen = 0
  private readonly info = new FrameInfo()
  /** Scratch: 1 for each frame of the current outgoing batch that is dropped. */
  private readonly dropped = new Uint8Array(Math.ceil(MAX_MESSAGE_BYTES / (BATCH_LEN_PREFIX + 14)) + 1024)

  setMtu (mtu: number): void {
    this.mtu = mtu
    this.maxLen = maxFrameLenForMtu(mtu)
  }

  /**
   * Prepares a batch read from the TAP: returns the batch to send (the same buffer, or a
   * compacted copy when oversize frames had to go) and sets `lastFrames`; null if nothing is left.
   */
  outgoing (batch: Buffer, frames: number, now = 0): Buffer | null {
    let off = 0
    let oversize = 0
    let duplicates = 0
    let kept = 0
    for (let i = 0; i < frames; i++) {
      const len = batch.readUInt16BE(off)
      const f = off + BATCH_LEN_PREFIX
      let drop = 0
      if (len > this.maxLen) { oversize++; drop = 1 } else {
        this.visit(batch, f, len, this.sent)
        if (!this.copy.outgoing(batch, f, this.info, now)) { duplicates++; drop = 1 } else this.lastClasses[kept++] = this.info.cls
      }
      this.dropped[i] = drop
      off = f + len
    }
    this.lastFrames = frames - oversize - duplicates
    this.oversizeOut += oversize
    if (oversize + duplicates === 0) return batch
    return this.lastFrames === 0 ? null : compactBatch(batch, frames, this.dropped)
  }

  /** Walks a batch from the hub, calling `write` for each frame that fits the MTU. Returns frames, or -1 when malformed. */
  incoming (msg: Buffer, write: (buf: Buffer, off: number, len: number) => void): number {
    const n = countFrames(msg)
    if (n < 0) return -1
    let off = 0
    for (let i = 0; i < n; i++) {
      const len = msg.readUInt16BE(off)
      const f = off + BATCH_LEN_PREFIX
      if (len > this.maxLen) this.oversizeIn++
      else { this.visit(msg, f, len, this.received); write(msg, f, len) }
      off = f + len
    }
    return n
  }

  /** One frame from the direct path: counted and clamped like the hub's; false when over the MTU. */
  incomingFrame (b: Buffer, off: number, len: number): boolean {
    if (len > this.maxLen) { this.oversizeIn++; return false }
    this.visit(b, off, len, this.received)
    return true
  }

  private visit (b: Buffer, off: number, len: number, counters: ClassCounters): void {
    const info = this.info
    inspect(b, off, len, info)
    counters.frames[info.cls]!++
    counters.bytes[info.cls]! += len
    if (info.srcPort >= 0 && clampMss(b, info, this.mtu)) this.mssClamped++
  }
}
