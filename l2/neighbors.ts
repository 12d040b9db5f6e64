/**
 * IP -> MAC bindings of one room, for ARP/ND suppression (as in EVPN, RFC 7432 §10) and
 * the guard against address theft. Static bindings come from leases (IPv4 address and the
 * EUI-64 link-local IPv6 address of the leased MAC) and never age; learned ones come from
 * ARP senders, gratuitous ARP, neighbour solicitations and advertisements, and age like
 * MAC entries. Learned bindings may move between ports; static ones may not be claimed.
 */
import { FDB_AGE_MS } from './fdb.js'

export interface Binding {
  mac: number
  port: number
  seen: number
  static: boolean
}

export type BindResult = 'ok' | 'stolen'

class Table<K> {
  readonly map = new Map<K, Binding>()

  constructor (private readonly ageMs: number) {}

  setStatic (key: K, mac: number, port: number): void {
    this.map.set(key, { mac, port, seen: 0, static: true })
  }

  /** Learns key -> mac on port, unless the key is statically bound to another port. */
  learn (key: K, mac: number, port: number, now: number): BindResult {
    const b = this.map.get(key)
    if (b !== undefined && b.static) return b.port === port ? 'ok' : 'stolen'
    if (b !== undefined) { b.mac = mac; b.port = port; b.seen = now; return 'ok' }
    this.map.set(key, { mac, port, seen: now, static: false })
    return 'ok'
  }

  /** Statically bound to a port other than `port`? */
  ownedByOther (key: K, port: number): boolean {
    const b = this.map.get(key)
    return b !== undefined && b.static && b.port !== port
  }

  lookup (key: K, now: number): Binding | undefined {
    const b = this.map.get(key)
    if (b === undefined) return undefined
    if (!b.static && now - b.seen >= this.ageMs) { this.map.delete(key); return undefined }
    return b
  }

  removePort (port: number): void {
    for (const [k, b] of this.map) if (b.port === port) this.map.delete(k)
  }

  sweep (now: number): void {
    for (const [k, b] of this.map) if (!b.static && now - b.seen >= this.ageMs) this.map.delete(k)
  }
}

export class NeighborTable {
  /** IPv4 address (u32) -> binding. */
  readonly v4: Table<number>
  /** IPv6 address (hex string of its 16 bytes; built only for ND frames) -> binding. */
  readonly v6: Table<string>

  constructor (ageMs = FDB_AGE_MS) {
    this.v4 = new Table(ageMs)
    this.v6 = new Table(ageMs)
  }

  get size (): number { return this.v4.map.size + this.v6.map.size }

  removePort (port: number): void { this.v4.removePort(port); this.v6.removePort(port) }

  sweep (now: number): void { this.v4.sweep(now); this.v6.sweep(now) }
}

export const v6Key = (b: Buffer, off: number): string => b.toString('hex', off, off + 16)
