/**
 * The MAC table (forwarding database) of one room's switch, as in Linux br_fdb.c:
 * learn source MAC -> port on every frame, refresh in place when nothing changed
 * (the fast path), move the entry when the MAC shows up on another port, expire
 * lazily at lookup and in a periodic sweep. Time is passed in (ms).
 *
 * A per-port limit bounds how many MACs one port may own, so a bridging peer (or a
 * flood of random source MACs) cannot fill the table; over the limit the frame is still
 * switched but its MAC is not learned (counted `fdb_port_full`).
 */
export const FDB_AGE_MS = 300_000
export const FDB_PORT_LIMIT = 64

export interface FdbOptions {
  ageMs?: number
  portLimit?: number
}

export interface FdbEntry {
  port: number
  seen: number
  /** Static entries (leases) never age and never move by learning. */
  static: boolean
}

export type LearnResult = 'refreshed' | 'learned' | 'moved' | 'port_full' | 'static_conflict'

export class Fdb {
  readonly ageMs: number
  readonly portLimit: number
  private readonly entries = new Map<number, FdbEntry>()
  private readonly perPort = new Map<number, number>()
  moves = 0

  constructor (options: FdbOptions = {}) {
    this.ageMs = options.ageMs ?? FDB_AGE_MS
    this.portLimit = options.portLimit ?? FDB_PORT_LIMIT
  }

  get size (): number { return this.entries.size }

  countFor (port: number): number { return this.perPort.get(port) ?? 0 }

  /** Learns `mac` on `port` at `now`. */
  learn (mac: number, port: number, now: number): LearnResult {
    const e = this.entries.get(mac)
    if (e !== undefined) {
      if (e.port === port) {
        if (!e.static) e.seen = now
        return 'refreshed'
      }
      if (e.static) return 'static_conflict'
      if (now - e.seen < this.ageMs && this.countFor(port) >= this.portLimit) return 'port_full'
      this.bump(e.port, -1)
      this.bump(port, 1)
      e.port = port
      e.seen = now
      this.moves++
      return 'moved'
    }
    if (this.countFor(port) >= this.portLimit) return 'port_full'
    this.entries.set(mac, { port, seen: now, static: false })
    this.bump(port, 1)
    return 'learned'
  }

  /**
   * Pins `mac` to `port` (a lease). Replaces a learned entry; never another port's static
   * entry (returns false, nothing changed): a lease is never moved by someone else's.
   */
  setStatic (mac: number, port: number): boolean {
    const e = this.entries.get(mac)
    if (e !== undefined && e.static && e.port !== port) return false
    this.remove(mac)
    this.entries.set(mac, { port, seen: 0, static: true })
    this.bump(port, 1)
    return true
  }

  /** Port that owns `mac` (learned or static, aged or not), or -1. No expiry side effect. */
  ownerOf (mac: number): number {
    return this.entries.get(mac)?.port ?? -1
  }

  /** Port for `mac`, or -1 when unknown or expired (expired entries are removed here). */
  lookup (mac: number, now: number): number {
    const e = this.entries.get(mac)
    if (e === undefined) return -1
    if (!e.static && now - e.seen >= this.ageMs) {
      this.remove(mac)
      return -1
    }
    return e.port
  }

  remove (mac: number): void {
    const e = this.entries.get(mac)
    if (e === undefined) return
    this.entries.delete(mac)
    this.bump(e.port, -1)
  }

  /** Forgets every entry (static too) of a port that left. */
  removePort (port: number): number {
    let n = 0
    for (const [mac, e] of this.entries) {
      if (e.port === port) { this.entries.delete(mac); n++ }
    }
    this.perPort.delete(port)
    return n
  }

  /** Removes expired entries; returns how many. Call periodically (e.g. every 10 s). */
  sweep (now: number): number {
    let n = 0
    for (const [mac, e] of this.entries) {
      if (!e.static && now - e.seen >= this.ageMs) {
        this.entries.delete(mac)
        this.bump(e.port, -1)
        n++
      }
    }
    return n
  }

  /** Snapshot for status output (not for the hot path). */
  * [Symbol.iterator] (): IterableIterator<[number, Readonly<FdbEntry>]> {
    yield * this.entries
  }

  private bump (port: number, d: number): void {
    const n = (this.perPort.get(port) ?? 0) + d
    if (n <= 0) this.perPort.delete(port)
    else this.perPort.set(port, n)
  }
}
