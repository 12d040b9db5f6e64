/**
 * Multicast group membership per port (RFC 4541 snooping), keyed by group MAC. Each group
 * keeps a flat array of member ports, rebuilt only when membership changes, so the
 * forwarding path reads it without allocating. Memberships expire after the group
 * membership interval unless refreshed by a report (the hub's queries prompt them).
 */
export class GroupTable {
  // set at construction
  readonly membershipMs: number

  // owned by join/leave/sweep
  private readonly groups = new Map<number, { expires: Map<number, number>, ports: number[] }>()
  /** Has any membership report been seen? Until then unknown groups flood. */
  seenAny = false

  constructor (membershipMs: number) {
    this.membershipMs = membershipMs
  }

  get size (): number { return this.groups.size }

  get memberships (): number {
    let n = 0
    for (const g of this.groups.values()) n += g.ports.length
    return n
  }

  join (group: number, port: number, now: number): void {
    this.seenAny = true
    let g = this.groups.get(group)
    if (g === undefined) { g = { expires: new Map(), ports: [] }; this.groups.set(group, g) }
    const had = g.expires.has(port)
    g.expires.set(port, now + this.membershipMs)
    if (!had) g.ports = [...g.expires.keys()]
  }

  leave (group: number, port: number): void {
    this.seenAny = true
    const g = this.groups.get(group)
    if (g === undefined || !g.expires.delete(port)) return
    if (g.expires.size === 0) this.groups.delete(group)
    else g.ports = [...g.expires.keys()]
  }

  /** Member ports of `group` (possibly empty). The array is never modified later: safe to keep. */
  members (group: number): readonly number[] {
    return this.groups.get(group)?.ports ?? NO_PORTS
  }

  removePort (port: number): void {
    for (const [group, g] of this.groups) {
      if (!g.expires.delete(port)) continue
      if (g.expires.size === 0) this.groups.delete(group)
      else g.ports = [...g.expires.keys()]
    }
  }

  sweep (now: number): number {
    let n = 0
    for (const [group, g] of this.groups) {
      let changed = false
      for (const [port, exp] of g.expires) if (exp <= now) { g.expires.delete(port); changed = true; n++ }
      if (!changed) continue
      if (g.expires.size === 0) this.groups.delete(group)
      else g.ports = [...g.expires.keys()]
    }
    return n
  }

  /** Snapshot for status: group MAC -> member ports. */
  snapshot (): Array<{ group: number, ports: number[] }> {
    return [...this.groups].map(([group, g]) => ({ group, ports: [...g.ports] }))
  }
}

const NO_PORTS: readonly number[] = Object.freeze([])
