/**
 * NetBIOS name service presence (RFC 1001 §15, RFC 1002 §4.2, B-node): registers the
 * peer's workstation name <00> by broadcast on the overlay, defends its names against other
 * registrations, answers name queries for the workstation <00> and file server <20> names
 * and node status (NBSTAT, what `nmblookup -A` asks) with the overlay address, and releases
 * the registration on stop. <20> is answered but not announced: announcing it would list
 * every peer as a file server in room directories; a real SMB server (nmbd) announces it.
 */
import type { Socket, RemoteInfo } from 'node:dgram'
import type { Logger } from '../core/log.js'
import { unrefSleep } from './sleep.js'
import {
  NAME_FLAG_ACTIVE, NBNS_PORT, OPCODE_QUERY, OPCODE_REGISTRATION, OPCODE_RELEASE, RCODE_ACT_ERR, SUFFIX_SERVER,
  SUFFIX_WORKSTATION, TYPE_NB, TYPE_NBSTAT, decode, encode, packet, type NbName, type NbPacket, type NbRecord
} from './nbns.js'

/** RFC 1002 §4.6 B-node broadcast registration: 3 tries, 250 ms apart. */
const REGISTRATION_TRIES = 3
const REGISTRATION_GAP_MS = 250
const NAME_TTL_S = 300_000

export interface NbnsResponderOptions {
  /** NetBIOS name (upper case, ≤ 15 characters). */
  name: string
  ipv4: string
  /** Subnet broadcast address of the overlay, where registrations go. */
  broadcast: string
  mac: string
}

export interface NbnsResponderDeps {
  socket: Socket
  log: Logger
  sleep?: (ms: number) => Promise<void>
}

export class NbnsResponder {
  private readonly options: NbnsResponderOptions
  private readonly deps: NbnsResponderDeps
  private readonly sleep: (ms: number) => Promise<void>
  private readonly names: NbName[]
  private nextId = Math.floor(Math.random() * 0x7fff)
  private running = false
  /** Names another node refused us (negative registration response). */
  readonly conflicts = new Set<string>()
  answered = 0
  bad = 0

  constructor (options: NbnsResponderOptions, deps: NbnsResponderDeps) {
    this.options = options
    this.deps = deps
    this.sleep = deps.sleep ?? unrefSleep
    this.names = [{ name: options.name, suffix: SUFFIX_WORKSTATION }, { name: options.name, suffix: SUFFIX_SERVER }]
    deps.socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => { this.onMessage(msg, rinfo) })
  }

  async start (): Promise<void> {
    this.running = true
    for (let i = 0; i < REGISTRATION_TRIES && this.running; i++) {
      this.broadcastPacket(OPCODE_REGISTRATION, this.names[0]!)
      await this.sleep(REGISTRATION_GAP_MS)
    }
    if (this.conflicts.size > 0) this.deps.log.warn('nbns.conflict', { names: [...this.conflicts].join(',') })
    this.deps.log.info('nbns.registered', { name: this.options.name, ip: this.options.ipv4 })
  }

  /** Registers again by broadcast (the hub restarted and forgot the room's directory). */
  reannounce (): void {
    if (this.running) this.broadcastPacket(OPCODE_REGISTRATION, this.names[0]!)
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    this.broadcastPacket(OPCODE_RELEASE, this.names[0]!)
  }

  private nbRecord (n: NbName): NbRecord {
    return { name: n, type: TYPE_NB, ttl: NAME_TTL_S, addresses: [{ group: false, ont: 0, address: this.options.ipv4 }] }
  }

  private broadcastPacket (opcode: number, n: NbName): void {
    this.nextId = (this.nextId + 1) & 0xffff
    const p = packet({ id: this.nextId, opcode, recursionDesired: true, broadcast: true, questions: [{ name: n, type: TYPE_NB }], additionals: [this.nbRecord(n)] })
    this.deps.socket.send(encode(p), NBNS_PORT, this.options.broadcast)
  }

  private owns (n: NbName): boolean {
    return this.names.some(m => m.suffix === n.suffix && m.name.toUpperCase() === n.name.toUpperCase())
  }

  private onMessage (msg: Buffer, rinfo: RemoteInfo): void {
    if (rinfo.address === this.options.ipv4) return // our own broadcast
    let p: NbPacket
    try {
      p = decode(msg)
    } catch {
      this.bad++
      return
    }
    if (p.response) {
      if (p.opcode === OPCODE_REGISTRATION && p.rcode === RCODE_ACT_ERR) {
        for (const a of p.answers) if (this.owns(a.name)) this.conflicts.add(`${a.name.name}<${a.name.suffix.toString(16).padStart(2, '0')}>`)
      }
      return
    }
    if (!this.running) return
    const q = p.questions[0]
    if (q === undefined) return
    if (p.opcode === OPCODE_QUERY && q.type === TYPE_NB && this.owns(q.name)) {
      this.reply(rinfo, packet({ id: p.id, response: true, opcode: OPCODE_QUERY, authoritative: true, recursionDesired: p.recursionDesired, answers: [this.nbRecord(q.name)] }))
    } else if (p.opcode === OPCODE_QUERY && q.type === TYPE_NBSTAT && (q.name.name === '*' || this.owns(q.name))) {
      const names = this.names.map(name => ({ name, flags: NAME_FLAG_ACTIVE }))
      this.reply(rinfo, packet({ id: p.id, response: true, opcode: OPCODE_QUERY, authoritative: true, answers: [{ name: q.name, type: TYPE_NBSTAT, ttl: 0, names, unitId: this.options.mac }] }))
    } else if ((p.opcode === OPCODE_REGISTRATION || p.opcode === 15) && this.owns(q.name)) {
      // Someone registers our name: defend it (RFC 1002 §5.1.1.2, negative response to the registrant).
      const claimed = p.additionals[0]
      if (claimed?.type === TYPE_NB && claimed.addresses.every(a => a.address === this.options.ipv4)) return
      this.reply(rinfo, packet({ id: p.id, response: true, opcode: OPCODE_REGISTRATION, authoritative: true, recursionDesired: true, rcode: RCODE_ACT_ERR, answers: [this.nbRecord(q.name)] }))
      this.deps.log.warn('nbns.defended', { name: q.name.name, from: rinfo.address })
    }
  }

  private reply (to: RemoteInfo, p: NbPacket): void {
    this.answered++
    this.deps.socket.send(encode(p), to.port, to.address)
  }
}
