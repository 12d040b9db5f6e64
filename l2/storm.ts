/**
 * Storm control: per-port token buckets for flooded traffic — broadcast, multicast,
 * unknown unicast — plus a separate, larger bucket for discovery traffic (ARP, ND,
 * IGMP/MLD, DHCP, mDNS, SSDP, NetBIOS, LLMNR, WS-Discovery, LAN-game discovery), so a
 * flood of junk never starves a game lobby and a lobby's chatter is never taken for a
 * storm. Defaults and their reasons are in the README. Time passed in (ms).
 */
export const STORM_BROADCAST = 0
export const STORM_MULTICAST = 1
export const STORM_UNKNOWN_UNICAST = 2
export const STORM_DISCOVERY = 3
const KINDS = 4

export interface StormLimits {
  /** Packets per second allowed per port; 0 = unlimited. */
  broadcastPps: number
  multicastPps: number
  unknownUnicastPps: number
  discoveryPps: number
  /** Bucket depth in seconds of rate: bursts up to rate × burstS pass at once. */
  burstS: number
}

export const DEFAULT_STORM_LIMITS: StormLimits = {
  broadcastPps: 1000,
  multicastPps: 5000,
  unknownUnicastPps: 2000,
  discoveryPps: 2000,
  burstS: 2
}

export class StormControl {
  private readonly rates: Float64Array
  private readonly depths: Float64Array
  /** Per port: tokens[KINDS], then last-refill time[KINDS]. */
  private readonly buckets = new Map<number, Float64Array>()

  constructor (limits: StormLimits) {
    this.rates = Float64Array.from([limits.broadcastPps, limits.multicastPps, limits.unknownUnicastPps, limits.discoveryPps])
    this.depths = this.rates.map(r => Math.max(1, r * limits.burstS))
  }

  /** Takes one token of `kind` for `port` at `now`; false when the bucket is empty. */
  allow (port: number, kind: number, now: number): boolean {
    const rate = this.rates[kind]!
    if (rate === 0) return true
    let b = this.buckets.get(port)
    if (b === undefined) {
      b = new Float64Array(KINDS * 2)
      for (let k = 0; k < KINDS; k++) { b[k] = this.depths[k]!; b[KINDS + k] = now }
      this.buckets.set(port, b)
    }
    const elapsed = now - b[KINDS + kind]!
    let tokens = b[kind]!
    if (elapsed > 0) {
      tokens = Math.min(this.depths[kind]!, tokens + elapsed * rate / 1000)
      b[KINDS + kind] = now
    }
    if (tokens < 1) { b[kind] = tokens; return false }
    b[kind] = tokens - 1
    return true
  }

  removePort (port: number): void { this.buckets.delete(port) }
}
