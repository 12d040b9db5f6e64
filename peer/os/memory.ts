/**
 * In-memory implementation of the OS boundary for tests of the layers above it: a TAP
 * whose "kernel side" is a pair of functions the test drives. Same contract as linux.ts.
 */
import { encodeBatch } from '../../core/protocol.js'
import { TapCounters, type BatchHandler, type GameRouteSpec, type HostOs, type LinkConfig, type TapDevice } from './host-os.js'

export class MemoryTap implements TapDevice {
  readonly counters = new TapCounters()
  /** Frames the peer wrote to the TAP (what the host's kernel would receive). */
  readonly written: Buffer[] = []
  private onBatch: BatchHandler | null = null
  closed = false
  /** Set by the test to simulate a full kernel queue. */
  full = false

  constructor (readonly name: string) {}

  start (onBatch: BatchHandler): void {
    if (this.onBatch !== null) throw new Error('tap already started')
    this.onBatch = onBatch
  }

  write (buf: Buffer, off: number, len: number): boolean {
    if (this.closed || this.full) { this.counters.writeDrops++; return false }
    this.written.push(Buffer.from(buf.subarray(off, off + len)))
    this.counters.writeFrames++
    this.counters.writeBytes += len
    return true
  }

  /** The host sends frames out of the TAP (as one wake-up's batch). */
  inject (...frames: Buffer[]): void {
    if (this.onBatch === null || this.closed) return
    for (const f of frames) { this.counters.readFrames++; this.counters.readBytes += f.length }
    this.onBatch(encodeBatch(frames), frames.length)
  }

  /** keep-warm's calls (linux.ts runs system calls on an eventfd; here there are none to run). */
  warmCalls = 0
  warm (): void { this.warmCalls++ }

  async close (): Promise<void> { this.closed = true }
}

export class MemoryHostOs implements HostOs {
  readonly taps = new Map<string, MemoryTap>()
  readonly links = new Map<string, LinkConfig>()

  openTap (name: string): MemoryTap {
    const t = new MemoryTap(name)
    this.taps.set(name, t)
    return t
  }

  readonly gameRoutes = new Map<string, GameRouteSpec>()

  async configureLink (name: string, config: LinkConfig): Promise<void> {
    this.links.set(name, { ...config })
  }

  bindToDevice (): void {}

  async installGameRoutes (iface: string, spec: GameRouteSpec): Promise<void> { this.gameRoutes.set(iface, spec) }

  async removeGameRoutes (iface: string): Promise<void> { this.gameRoutes.delete(iface) }

  /** Interfaces with the broadcast copy installed, and the host's groups on other interfaces (tests set them). */
  readonly broadcastCopies = new Set<string>()
  multicastGroups: string[] = []

  async installBroadcastCopy (iface: string): Promise<void> { this.broadcastCopies.add(iface) }

  async removeBroadcastCopy (iface: string): Promise<void> { this.broadcastCopies.delete(iface) }

  hostMulticastGroups (): string[] { return [...this.multicastGroups] }
}
