/**
 * The peer's side of the direct path, around the link (peer/direct-link.ts): the UDP socket
 * (a Bind), the reflexive address the hub's reflector reports, this peer's candidates, the
 * link's timers, and what the hub is told (`direct` messages, only when something changed).
 */
import { lookup } from 'node:dns/promises'
import { isIPv4 } from 'node:net'
import type { KeyPair } from '../core/keys.js'
import type { Logger } from '../core/log.js'
import { MAX_ENDPOINTS, type DirectMessage, type Member } from '../core/protocol.js'
import { localCandidates } from './candidates.js'
import { DirectLink, macNumber } from './direct-link.js'
import { Reflexive } from './reflexive.js'
import type { Bind } from './udp-bind.js'

/** How often the link's timers run (heartbeats are 1 s; loss is noticed within this of 3 s). */
export const DIRECT_TICK_MS = 250

export interface DirectPathStatus { enabled: boolean, reflexive: string | null, localPort: number | null, endpoints: string[], reaching: number, counters: Record<string, unknown> }

export class DirectPath {
  readonly reflexive: Reflexive
  readonly link: DirectLink
  /** The room allows direct paths (the last welcome said so). */
  enabled = false
  private endpoints: string[] = []
  private announced = ''
  private closed = false

  constructor (private readonly bind: Bind, key: KeyPair, log: Logger, now: () => number, deliver: (buf: Buffer, off: number, len: number) => void) {
    this.reflexive = new Reflexive(bind)
    this.link = new DirectLink({ bind, key, log, now, deliver })
    const toLink = bind.onPacket
    bind.onPacket = (msg, address, port) => { if (!this.reflexive.handle(msg)) toLink(msg, address, port) }
  }

  get localPort (): number | null { return this.bind.localPort }

  /** The socket's part of a pass, for core/keep-warm.ts (peer/warm-pass.ts). */
  warm (): void { this.bind.warm?.() }

  /** After each welcome: this peer's lease and the room's choice. Tells the hub anew. */
  configure (m: { mac: string, mtu: number, allowBridging?: boolean, directPath?: boolean }, members: readonly Member[], now: number): void {
    this.enabled = m.directPath === true
    this.link.configure({ mac: macNumber(m.mac), mtu: m.mtu, bridging: m.allowBridging === true, enabled: this.enabled })
    this.link.setMembers(members, now, true)
    this.announced = ''
  }

  setMembers (members: readonly Member[], now: number): void { this.link.setMembers(members, now) }

  /**
   * The reflexive address (from the reflector on the hub's host at `udpPort`) and the host's
   * own addresses except the overlay's `iface`: this peer's candidates.
   */
  async findCandidates (hubUrl: string, udpPort: number, iface: string): Promise<string[]> {
    const port = await this.bind.open()
    if (port === null || this.closed) return []
    const host = await ipv4Of(new URL(hubUrl).hostname.replace(/^\[|\]$/g, ''))
    if (this.closed) return []
    const reflexive = host === null ? null : await this.reflexive.ask(host, udpPort)
    if (this.closed) return [] // re-checked after every await
    this.endpoints = [...new Set([...(reflexive !== null ? [reflexive] : []), ...localCandidates(iface, port)])].slice(0, MAX_ENDPOINTS)
    return this.endpoints
  }

  /** The reflexive address the last ask found is the one now known. */
  get hasReflexive (): boolean { return this.reflexive.address !== null }

  /** Runs the link's timers; returns the `direct` message to send the hub when what it knows changed (else null). */
  tick (now: number, connected: boolean): DirectMessage | null {
    if (this.closed) return null
    this.link.tick(now)
    if (!connected || !this.enabled || this.endpoints.length === 0) return null
    const said = `${this.endpoints.join(',')} ${this.link.reaching}`
    if (said === this.announced) return null
    this.announced = said
    return { type: 'direct', endpoints: this.endpoints, reaching: this.link.reaching }
  }

  status (): DirectPathStatus {
    return {
      enabled: this.enabled,
      reflexive: this.reflexive.address,
      localPort: this.bind.localPort,
      endpoints: this.endpoints,
      reaching: this.link.reaching,
      counters: { ...this.link.counters, drops: { ...this.link.counters.drops }, sendErrors: this.bind.sendErrors, ...this.bind.stats?.() }
    }
  }

  close (): void { this.closed = true; this.bind.close() }
}

/** The hub's IPv4 address: the reflector is asked over the udp4 socket, so a name is resolved first (null when it has none). */
const ipv4Of = async (host: string): Promise<string | null> => {
  if (isIPv4(host)) return host
  try { return (await lookup(host, { family: 4 })).address } catch { return null }
}
