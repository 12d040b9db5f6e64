/**
 * The direct link's handshakes (Noise IK, core/direct/noise.ts): started towards a member's
 * candidates, answered for members only, each rate limited before any DH is spent, and the
 * sessions they make installed as current (the previous kept for packets in flight).
 */
import { randomBytes } from 'node:crypto'
import { Initiator, MSG2_PAYLOAD_LEN, Responder, timestamp, type SessionKeys } from '../core/direct/noise.js'
import { TransportSession, receiverOf } from '../core/direct/transport.js'
import { INIT_LEN, RESP_LEN, encodeInit, encodeResp, initPayload, type Endpoint } from '../core/direct/wire.js'
import type { KeyPair } from '../core/keys.js'
import type { Logger } from '../core/log.js'
import type { DirectCounters } from './direct-link.js'
import type { DirectSession, PendingHandshake, Remote } from './direct-remote.js'
import type { Bind } from './udp-bind.js'

/** Handshakes processed per second (burst as many): each costs four X25519 operations. */
export const HANDSHAKES_PER_S = 50
const PROLOGUE = Buffer.from('overlan.direct.1')

export interface HandshakeContext {
  key: KeyPair
  bind: Bind
  log: Logger
  counters: DirectCounters
  remotes: Map<string, Remote>
  byIndex: Map<number, DirectSession | PendingHandshake>
}

export class Handshakes {
  private tokens = HANDSHAKES_PER_S
  private tokensAt = 0
  private lastTs = 0

  constructor (private readonly c: HandshakeContext) {}

  start (r: Remote, now: number): void {
    if (r.pending !== null) this.c.byIndex.delete(r.pending.index)
    const index = this.newIndex()
    const initiator = new Initiator(this.c.key, r.key, PROLOGUE)
    // Timestamps must grow per initiator (the responder's replay check), even within one ms.
    const ts = Math.max(Date.now(), this.lastTs + 1)
    this.lastTs = ts
    const packet = encodeInit(initiator.writeMessage1(initPayload(timestamp(ts), index)))
    r.pending = { initiator, index, remote: r }
    this.c.byIndex.set(index, r.pending)
    // A rekey of a live path goes where the path is; probing goes to every candidate.
    const targets = r.usable ? [r.endpoint!] : r.endpoint !== null ? [r.endpoint, ...r.candidates] : r.candidates
    for (const e of targets) this.c.bind.send(packet, e.port, e.address)
    this.c.counters.handshakesSent++
  }

  onInit (msg: Buffer, from: Endpoint, now: number): void {
    if (msg.length !== INIT_LEN) { this.c.counters.drops.bad_packet++; return }
    if (!this.takeToken(now)) { this.c.counters.drops.handshake_rate++; return }
    const responder = new Responder(this.c.key, PROLOGUE)
    const payload = responder.readMessage1(msg.subarray(1))
    if (payload === null) { this.c.counters.drops.handshake_invalid++; return }
    const r = this.c.remotes.get(responder.remoteStatic!)
    if (r === undefined) { this.c.counters.drops.not_member++; return }
    const ts = payload.subarray(0, 12)
    if (r.lastTimestamp !== null && Buffer.compare(ts, r.lastTimestamp) <= 0) { this.c.counters.drops.handshake_replay++; return }
    r.lastTimestamp = Buffer.from(ts)
    const index = this.newIndex()
    const mine = Buffer.alloc(MSG2_PAYLOAD_LEN)
    mine.writeUInt32LE(index, 0)
    const { msg: msg2, keys } = responder.writeMessage2(mine)
    this.c.bind.send(encodeResp(payload.readUInt32LE(12), msg2), from.port, from.address)
    this.establish(r, keys, payload.readUInt32LE(12), index, from, now)
  }

  onResp (msg: Buffer, from: Endpoint, now: number): void {
    if (msg.length !== RESP_LEN) { this.c.counters.drops.bad_packet++; return }
    const p = this.c.byIndex.get(receiverOf(msg))
    if (p === undefined || !('initiator' in p)) { this.c.counters.drops.unknown_index++; return }
    if (!this.takeToken(now)) { this.c.counters.drops.handshake_rate++; return }
    const r = p.remote
    const done = p.initiator.readMessage2(msg.subarray(5))
    if (done === null) { this.c.counters.drops.handshake_invalid++; return }
    r.pending = null // the index now names the session
    this.establish(r, done.keys, done.payload.readUInt32LE(0), p.index, from, now)
  }

  private establish (r: Remote, keys: SessionKeys, remoteIndex: number, index: number, from: Endpoint, now: number): void {
    if (r.previous !== null) this.c.byIndex.delete(r.previous.index)
    r.previous = r.current
    r.current = { t: new TransportSession(remoteIndex, keys.send, keys.receive, now), index, remote: r }
    this.c.byIndex.set(index, r.current)
    const moved = r.endpoint === null || r.endpoint.address !== from.address || r.endpoint.port !== from.port
    r.endpoint = from
    r.timers.onEstablished(now)
    this.c.counters.sessions++
    if (moved) this.c.log.info('direct.session', { name: r.name, endpoint: `${from.address}:${from.port}` })
  }

  private takeToken (now: number): boolean {
    this.tokens = Math.min(HANDSHAKES_PER_S, this.tokens + (now - this.tokensAt) * HANDSHAKES_PER_S / 1000)
    this.tokensAt = now
    if (this.tokens < 1) return false
    this.tokens--
    return true
  }

  private newIndex (): number {
    for (;;) {
      const i = randomBytes(4).readUInt32LE(0)
      if (!this.c.byIndex.has(i)) return i
    }
  }
}
