/**
 * mDNS presence (RFC 6762): answers A/AAAA queries for `<name>.local` with the overlay
 * address, on a socket bound to the overlay interface only. Probes first (§8.1: three
 * queries 250 ms apart, proposed records in the authority section) and picks "name-2",
 * "name-3"… on a conflict (§9); then announces twice (§8.3); says goodbye (TTL 0) on stop.
 * Queries from a port other than 5353 are legacy unicast (§6.7): answered to the sender
 * with the query ID and question, TTL at most 10 s.
 */
import type { Socket, RemoteInfo } from 'node:dgram'
import dnsPacket from 'dns-packet'
import type { Logger } from '../core/log.js'
import { unrefSleep } from './sleep.js'

export const MDNS_GROUP = '224.0.0.251'
export const MDNS_PORT = 5353
const PROBE_GAP_MS = 250
const ANNOUNCE_GAP_MS = 1000
const MAX_RENAMES = 20

export interface MdnsResponderOptions {
  /** Host label without ".local". */
  name: string
  ipv4: string
  ipv6?: string[]
  ttlS?: number
}

export interface MdnsResponderDeps {
  socket: Socket
  log: Logger
  sleep?: (ms: number) => Promise<void>
}

type Answer = dnsPacket.Answer
/** QTYPE 255 (RFC 1035 §3.2.3); missing from @types/dns-packet's RecordType. */
const ANY = 'ANY' as dnsPacket.RecordType

export class MdnsResponder {
  // set at construction
  private readonly options: MdnsResponderOptions
  private readonly deps: MdnsResponderDeps
  private readonly sleep: (ms: number) => Promise<void>

  // owned by probe / message handling
  /** The name currently claimed (may differ from the wished one after a conflict). */
  name: string
  private attempt = 1
  private state: 'idle' | 'probing' | 'running' | 'stopped' = 'idle'
  private conflict = false
  answered = 0
  bad = 0

  constructor (options: MdnsResponderOptions, deps: MdnsResponderDeps) {
    this.options = options
    this.deps = deps
    this.sleep = deps.sleep ?? unrefSleep
    this.name = options.name
    deps.socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => { this.onMessage(msg, rinfo) })
  }

  get fqdn (): string { return `${this.name}.local` }

  /** Probes until a free name is found, then announces. Resolves when running. */
  async start (): Promise<void> {
    for (let renames = 0; renames <= MAX_RENAMES && this.state !== 'stopped'; renames++) {
      this.state = 'probing'
      this.conflict = false
      for (let i = 0; i < 3 && !this.conflict && this.state === 'probing'; i++) {
        this.send({ type: 'query', id: 0, questions: [{ name: this.fqdn, type: ANY }], authorities: this.records(this.ttl()) })
        await this.sleep(PROBE_GAP_MS)
      }
      if (!this.conflict) break
      this.attempt++
      const next = `${this.options.name}-${this.attempt}`
      this.deps.log.warn('mdns.conflict', { name: this.fqdn, next: `${next}.local` })
      this.name = next
    }
    if (this.state === 'stopped') return
    this.state = 'running'
    this.deps.log.info('mdns.claimed', { name: this.fqdn, ip: this.options.ipv4 })
    for (let i = 0; i < 2 && this.state === 'running'; i++) {
      this.announce(this.ttl())
      if (i === 0) await this.sleep(ANNOUNCE_GAP_MS)
    }
  }

  /** Announces again (the hub restarted and forgot the room's directory). */
  reannounce (): void {
    if (this.state === 'running') this.announce(this.ttl())
  }

  stop (): void {
    if (this.state === 'running') this.announce(0)
    this.state = 'stopped'
  }

  private ttl (): number { return this.options.ttlS ?? 120 }

  private records (ttl: number, flush = false): Answer[] {
    const out: Answer[] = [{ name: this.fqdn, type: 'A', ttl, class: 'IN', flush, data: this.options.ipv4 }]
    for (const a of this.options.ipv6 ?? []) out.push({ name: this.fqdn, type: 'AAAA', ttl, class: 'IN', flush, data: a })
    return out
  }

  private announce (ttl: number): void {
    this.send({ type: 'response', id: 0, flags: dnsPacket.AUTHORITATIVE_ANSWER, answers: this.records(ttl, true) })
  }

  private send (p: dnsPacket.Packet, to?: RemoteInfo): void {
    // Stopped: the owner closes the socket next, and a probe or announcement still waiting on
    // its timer would throw ERR_SOCKET_DGRAM_NOT_RUNNING out of that timer (the process with it).
    if (this.state === 'stopped') return
    this.deps.socket.send(dnsPacket.encode(p), to?.port ?? MDNS_PORT, to?.address ?? MDNS_GROUP)
  }

  private onMessage (msg: Buffer, rinfo: RemoteInfo): void {
    let p: dnsPacket.DecodedPacket
    try {
      p = dnsPacket.decode(msg)
    } catch {
      this.bad++
      return
    }
    const mine = (n: string): boolean => n.toLowerCase() === this.fqdn.toLowerCase()
    if (p.type === 'response') {
      // Someone else answers for our name with other data: a conflict (§9).
      const clash = (p.answers ?? []).some(a => mine(a.name) && (a.type === 'A' || a.type === 'AAAA') && (a.ttl ?? 0) > 0 &&
        !(a.type === 'A' ? a.data === this.options.ipv4 : (this.options.ipv6 ?? []).includes(a.data as string)))
      if (!clash) return
      if (this.state === 'probing') { this.conflict = true; return }
      if (this.state === 'running') { this.deps.log.warn('mdns.conflict_after_claim', { name: this.fqdn, from: rinfo.address }); void this.restart() }
      return
    }
    if (this.state !== 'running') return
    const answers: Answer[] = []
    const legacy = rinfo.port !== MDNS_PORT
    const ttl = legacy ? Math.min(10, this.ttl()) : this.ttl()
    for (const q of p.questions ?? []) {
      if (!mine(q.name)) continue
      for (const r of this.records(ttl, !legacy)) if (q.type === ANY || q.type === r.type) answers.push(r)
    }
    if (answers.length === 0) return
    this.answered++
    if (legacy) this.send({ type: 'response', id: p.id, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: p.questions, answers }, rinfo)
    else this.send({ type: 'response', id: 0, flags: dnsPacket.AUTHORITATIVE_ANSWER, answers })
  }

  private async restart (): Promise<void> {
    this.attempt++
    this.name = `${this.options.name}-${this.attempt}`
    await this.start()
  }
}
