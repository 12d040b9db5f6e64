/**
 * IP -> MAC bindings of one room, for ARP/ND suppression (as in EVPN, RFC 7432 §10) and
 * the guard against address theft. Static bindings come from leases (IPv4 address and the
 * EUI-64 link-local IPv6 address of the leased MAC) and never age; learned ones come from
 * ARP senders, gratuitous ARP, neighbour solicitations and advertisements, and age like
 * MAC entries. Learned bindings may move between ports; static ones may not be claimed.
 * Learned bindings are bounded per port and per room (l2/limits.ts): a port that sends a
 * new sender address per frame fills its own share, never the room's memory.
 */
import { FDB_AGE_MS } from './fdb.js'
import { DEFAULT_TABLE_LIMITS } from './limits.js'

export interface Binding {
  mac: number
  port: number
  seen: number
  static: boolean
}

export type BindResult = 'ok' | 'stolen' | 'full'

class Table<K> {
  readonly map = new Map<K, Binding>()
  /** Learned (not static) bindings per port. */
  private readonly perPort = new Map<number, number>()
  private learned = 0

  constructor (private readonly ageMs: number, private readonly perPortLimit: number, private readonly roomLimit: number) {}

  get learnedCount (): number { return this.learned }

  setStatic (key: K, mac: number, port: number): void {
    const b = this.map.get(key)
    if (b !== undefined && !b.static) this.forget(key, b)
    this.map.set(key, { mac, port, seen: 0, static: true })
  }

  /** Learns key -> mac on port, unless the key is statically bound to another port or a bound is reached. */
  learn (key: K, mac: number, port: number, now: number): BindResult {
    const b = this.map.get(key)
    if (b !== undefined && b.static) return b.port === port ? 'ok' : 'stolen'
    if (b !== undefined) {
      if (b.port !== port) {
        if (this.countFor(port) >= this.perPortLimit) return 'full'
        this.bump(b.port, -1)
        this.bump(port, 1)
        b.port = port
      }
      b.mac = mac
      b.seen = now
      return 'ok'
    }
    if (this.countFor(port) >= this.perPortLimit || this.learned >= this.roomLimit) return 'full'
    this.map.set(key, { mac, port, seen: now, static: false })
    this.bump(port, 1)
    this.learned++
    return 'ok'
  }

  countFor (port: number): number { return this.perPort.get(port) ?? 0 }

  /** Statically bound to a port other than `port`? */
  ownedByOther (key: K, port: number): boolean {
    const b = this.map.get(key)
    return b !== undefined && b.static && b.port !== port
  }

  lookup (key: K, now: number): Binding | undefined {
    const b = this.map.get(key)
    if (b === undefined) return undefined
    if (!b.static && now - b.seen >= this.ageMs) { this.forget(key, b); return undefined }
    return b
  }

  removePort (port: number): void {
    for (const [k, b] of this.map) if (b.port === port) { if (b.static) this.map.delete(k); else this.forget(k, b) }
    this.perPort.delete(port)
  }

  sweep (now: number): void {
    for (const [k, b] of this.map) if (!b.static && now - b.seen >= this.ageMs) this.forget(k, b)
  }

  private forget (key: K, b: Binding): void {
    this.map.delete(key)
    this.bump(b.port, -1)
    this.learned--
  }

  private bump (port: number, d: number): void {
    const n = (this.perPort.get(port) ?? 0) + d
    if (n <= 0) this.perPort.delete(port)
    else this.perPort.set(port, n)
  }
}

export interface NeighborLimits {
  ageMs?: number
  perPort?: number
  perRoom?: number
}

export class NeighborTable {
  /** IPv4 address (u32) -> binding. */
  readonly v4: Table<number>
  /** IPv6 address (hex string of its 16 bytes; built only for ND frames) -> binding. */
  readonly v6: Table<string>

  constructor (limits: NeighborLimits = {}) {
    const age = limits.ageMs ?? FDB_AGE_MS
    const perPort = limits.perPort ?? DEFAULT_TABLE_LIMITS.bindingsPerPort
    const perRoom = limits.perRoom ?? DEFAULT_TABLE_LIMITS.bindingsPerRoom
    this.v4 = new Table(age, perPort, perRoom)
    this.v6 = new Table(age, perPort, perRoom)
  }

  get size (): number { return this.v4.map.size + this.v6.map.size }

  removePort (port: number): void { this.v4.removePort(port); this.v6.removePort(port) }

  sweep (now: number): void { this.v4.sweep(now); this.v6.sweep(now) }
}

export const v6Key = (b: Buffer, off: number): string => b.toString('hex', off, off + 16)
