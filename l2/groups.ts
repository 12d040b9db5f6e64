/**
 * Multicast group membership per port (RFC 4541 snooping), keyed by group MAC. Each group
 * keeps a flat array of member ports, rebuilt only when membership changes, so the
 * forwarding path reads it without allocating. Memberships expire after the group
 * membership interval unless refreshed by a report (the hub's queries prompt them).
 * Bounded per port and per room (l2/limits.ts): a report flood fills its port's share only.
 */
import { DEFAULT_TABLE_LIMITS } from './limits.js'

export interface GroupLimits {
  perPort?: number
  perRoom?: number
}

export class GroupTable {
  // set at construction
  readonly membershipMs: number
  private readonly perPortLimit: number
  private readonly roomLimit: number

  // owned by join/leave/sweep
  private readonly groups = new Map<number, { expires: Map<number, number>, ports: number[] }>()
  /** Groups each port is a member of. */
  private readonly perPort = new Map<number, number>()
  /** Has any membership report been seen? Until then unknown groups flood. */
  seenAny = false

  constructor (membershipMs: number, limits: GroupLimits = {}) {
    this.membershipMs = membershipMs
    this.perPortLimit = limits.perPort ?? DEFAULT_TABLE_LIMITS.groupsPerPort
    this.roomLimit = limits.perRoom ?? DEFAULT_TABLE_LIMITS.groupsPerRoom
  }

  get size (): number { return this.groups.size }

  get memberships (): number {
    let n = 0
    for (const g of this.groups.values()) n += g.ports.length
    return n
  }

  countFor (port: number): number { return this.perPort.get(port) ?? 0 }

  /** Adds or refreshes a membership; false (nothing changed) when a bound is reached. */
  join (group: number, port: number, now: number): boolean {
    this.seenAny = true
    let g = this.groups.get(group)
    if (g?.expires.has(port) === true) { g.expires.set(port, now + this.membershipMs); return true }
    if (this.countFor(port) >= this.perPortLimit) return false
    if (g === undefined) {
      if (this.groups.size >= this.roomLimit) return false
      g = { expires: new Map(), ports: [] }
      this.groups.set(group, g)
    }
    g.expires.set(port, now + this.membershipMs)
    g.ports = [...g.expires.keys()]
    this.bump(port, 1)
    return true
  }

  leave (group: number, port: number): void {
    this.seenAny = true
    const g = this.groups.get(group)
    if (g === undefined || !g.expires.has(port)) return
    this.drop(group, g, port)
  }

  /** Member ports of `group` (possibly empty). The array is never modified later: safe to keep. */
  members (group: number): readonly number[] {
    return this.groups.get(group)?.ports ?? NO_PORTS
  }

  removePort (port: number): void {
    for (const [group, g] of this.groups) if (g.expires.has(port)) this.drop(group, g, port)
    this.perPort.delete(port)
  }

  sweep (now: number): number {
    let n = 0
    for (const [group, g] of this.groups) {
      for (const [port, exp] of g.expires) if (exp <= now) { this.drop(group, g, port); n++ }
    }
    return n
  }

  /** Snapshot for status: group MAC -> member ports. */
  snapshot (): Array<{ group: number, ports: number[] }> {
    return [...this.groups].map(([group, g]) => ({ group, ports: [...g.ports] }))
  }

  private drop (group: number, g: { expires: Map<number, number>, ports: number[] }, port: number): void {
    g.expires.delete(port)
    this.bump(port, -1)
    if (g.expires.size === 0) this.groups.delete(group)
    else g.ports = [...g.expires.keys()]
  }

  private bump (port: number, d: number): void {
    const n = (this.perPort.get(port) ?? 0) + d
    if (n <= 0) this.perPort.delete(port)
    else this.perPort.set(port, n)
  }
}

const NO_PORTS: readonly number[] = Object.freeze([])
