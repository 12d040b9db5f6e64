/**
 * The direct path: frames to another member over encrypted UDP, peer to peer, when a path to
 * it is up (core/direct/path.ts says when); the hub relays everything else.
 *
 *   members push (key, MAC, endpoints) ─► Remote per member ─► handshakes to its candidates
 *   (Noise IK, both sides at once: simultaneous open through NATs) ─► sessions ─► heartbeats
 *   TAP batch ─► take(): unicast IP frames for a usable member ─► one sealed datagram each;
 *                this host's ARP requests for such a member's address ─► answered here;
 *                the rest of the batch ─► the hub
 *   datagram ─► INIT / RESP / DATA ─► frame checked (for our MAC, from the member's leased
 *                MAC unless the room allows bridging) ─► deliver() ─► TAP
 *
 * Every packet that fails a check is dropped and counted by reason; handshakes are rate
 * limited before any DH is spent; tables are bounded by the members push (MAX_MEMBERS_PUSHED).
 */
import { zeroCounts } from '../core/counts.js'
import { PUNCH_TTL } from '../core/direct/path.js'
import { TYPE_DATA, TYPE_HANDSHAKE_INIT, TYPE_HANDSHAKE_RESP, receiverOf } from '../core/direct/transport.js'
import { DIRECT_MAX_FRAME, INNER_FRAME, INNER_PING, INNER_PONG, MAX_ENDPOINTS, directEligible, parseEndpoint, type Endpoint } from '../core/direct/wire.js'
import type { KeyPair } from '../core/keys.js'
import { RateLimitedLog, type Logger } from '../core/log.js'
import { BATCH_LEN_PREFIX, MAX_MEMBERS_PUSHED, compactBatch, type Member } from '../core/protocol.js'
import { maxFrameLenForMtu } from '../l2/ethernet.js'
import { CLASS_ARP, CLASS_UNICAST } from '../l2/packet-classes.js'
import { answerOwnArpRequest } from '../l2/arp.js'
import { parseIpv4 } from '../core/ipv4.js'
import { Remote, type DirectSession, type PendingHandshake } from './direct-remote.js'
import { Handshakes } from './direct-handshakes.js'
import type { Bind } from './udp-bind.js'
import type { FrameTransport } from './transport.js'

export const DIRECT_DROP_REASONS = [
  'bad_packet', // too short, unknown type, wrong length
  'unknown_index', // a RESP or DATA for no session of ours (stale, or forged)
  'auth', // DATA whose tag does not verify (forged or damaged)
  'replay', // DATA whose counter was seen or is behind the window
  'expired', // DATA for a session past REJECT_AFTER_MS
  'handshake_rate', // a handshake over the rate limit: dropped before any DH
  'handshake_invalid', // a handshake message that does not verify
  'handshake_replay', // a first message whose timestamp is not newer than the last accepted
  'not_member', // a handshake from a key that is not a member of the room now
  'src_mac', // a frame not from the member's leased MAC (the room does not allow bridging)
  'not_for_us', // a frame not addressed to this peer's MAC
  'too_big', // a frame over the room's MTU
  'internal_error' // a packet that made the code throw: dropped, logged (rate-limited)
] as const
export type DirectDropReason = typeof DIRECT_DROP_REASONS[number]

export { HANDSHAKES_PER_S } from './direct-handshakes.js'
/** What a punch carries: never meant to arrive; a receiver counts it as bad_packet. */
const PUNCH_PACKET = Buffer.from([0])
/** How long a session outlives its member's absence from a welcome's list (a failover's rejoins take up to ~20 s). */
export const REJOIN_GRACE_MS = 30_000

export interface DirectDeps {
  bind: Bind
  key: KeyPair
  log: Logger
  /** ms clock for timers (injected in tests). */
  now: () => number
  /** High-resolution clock for RTTs. */
  hr?: () => number
  /** A frame from the direct path that passed every check. */
  deliver: (buf: Buffer, off: number, len: number) => void
}

export class DirectCounters {
  sentFrames = 0
  sentBytes = 0
  receivedFrames = 0
  receivedBytes = 0
  handshakesSent = 0
  sessions = 0
  /** ARP requests of this host for a member on a direct path, answered without the hub. */
  arpAnswered = 0
  readonly drops = zeroCounts(DIRECT_DROP_REASONS)
}

export class DirectLink implements FrameTransport {
  readonly kind = 'direct' as const
  readonly counters = new DirectCounters()
  private readonly remotes = new Map<string, Remote>()
  private readonly byIndex = new Map<number, DirectSession | PendingHandshake>()
  /** Frames the last take() sent directly. */
  lastTaken = 0
  /** Usable remotes by leased MAC (48-bit number): the frame path's lookup. */
  private readonly byMac = new Map<number, Remote>()
  private readonly hr: () => number
  private readonly errorLog = new RateLimitedLog(10_000, 5)
  private myMac = -1
  private maxFrame = 0
  private bridging = false
  private enabled = false
  /** Scratch: the plaintext of the DATA packet being received (a UDP datagram is at most 64 KiB). */
  private readonly rx = Buffer.allocUnsafe(65536)
  /** Scratch: the ARP reply take() writes to the TAP. */
  private readonly arpReply = Buffer.alloc(60)
  /** Scratch: 1 for each frame of the current batch sent directly. */
  private readonly sentDirect = new Uint8Array(65536)

  private readonly handshakes: Handshakes

  constructor (private readonly d: DirectDeps) {
    this.hr = d.hr ?? (() => performance.now())
    this.handshakes = new Handshakes({ key: d.key, bind: d.bind, log: d.log, counters: this.counters, remotes: this.remotes, byIndex: this.byIndex })
    d.bind.onPacket = (msg, address, port) => { this.receive(msg, address, port) }
  }

  /** After each welcome: this peer's MAC and MTU, and whether the room wants direct paths. */
  configure (o: { mac: number, mtu: number, bridging: boolean, enabled: boolean }): void {
    this.myMac = o.mac
    this.maxFrame = Math.min(maxFrameLenForMtu(o.mtu), DIRECT_MAX_FRAME)
    this.bridging = o.bridging
    this.enabled = o.enabled
    if (!o.enabled) for (const r of this.remotes.values()) this.forget(r)
  }

  /**
   * The room's members as the hub pushed them: one Remote per member with a key and endpoints.
   * A member missing from a push is forgotten, except from the list of a welcome (`rejoined`):
   * after a failover the friend may not be back on a hub yet, so a live session is kept for
   * REJOIN_GRACE_MS rather than torn down and handshaken again when it returns — unless a
   * listed member now holds its MAC or address (its lease was freed and given again: a ban, a
   * release), so frames and ARP answers for the new holder never go to the old one.
   */
  setMembers (members: readonly Member[], now: number, rejoined = false): void {
    const seen = new Set<string>()
    const leased = new Set<number | string>()
    for (const m of this.enabled ? members.slice(0, MAX_MEMBERS_PUSHED) : []) {
      if (m.key === undefined || m.key === this.d.key.publicKey) continue
      const mac = macNumber(m.mac)
      seen.add(m.key)
      leased.add(mac).add(m.ip)
      let r = this.remotes.get(m.key)
      if (r === undefined) { r = new Remote(m.key); this.remotes.set(m.key, r) }
      r.unlistedUntil = 0
      if (mac !== r.mac) { this.dropMac(r); r.mac = mac }
      r.name = m.name
      r.ip = m.ip
      const eps = (m.endpoints ?? []).slice(0, MAX_ENDPOINTS).map(parseEndpoint).filter((e): e is Endpoint => e !== null)
      const changed = eps.map(e => `${e.address}:${e.port}`).join(',') !== r.candidates.map(e => `${e.address}:${e.port}`).join(',')
      r.candidates = eps
      r.timers.setCandidates(eps.length > 0 || r.current !== null, changed, now)
    }
    for (const [key, r] of this.remotes) {
      if (seen.has(key)) continue
      if (leased.has(r.mac) || leased.has(r.ip)) { this.forget(r); continue }
      if (rejoined && r.current !== null && r.unlistedUntil === 0) r.unlistedUntil = now + REJOIN_GRACE_MS
      if (r.unlistedUntil <= now) this.forget(r)
    }
  }

  /** Timers: handshakes, heartbeats, loss; a few times a second. */
  tick (now: number): void {
    for (const r of this.remotes.values()) {
      if (r.unlistedUntil !== 0 && r.unlistedUntil <= now) { this.forget(r); continue }
      if (r.current !== null && r.current.t.expired(now)) { this.byIndex.delete(r.current.index); r.current = null }
      const sessionUp = r.current !== null
      const d = r.timers.due(now, sessionUp, sessionUp && r.current!.t.needsRekey(now) && r.pending === null)
      if (d.punch) this.punch(r)
      if (d.handshake) this.handshakes.start(r, now)
      if (d.punch || d.handshake) r.timers.onAttempt(now)
      if (d.ping) this.sendPing(r, d.full)
      if (r.usable) this.byMac.set(r.mac, r)
      else this.dropMac(r)
    }
  }

  /**
   * Sends the frames of a TAP batch that may go direct; returns the batch of the others for
   * the hub (the same buffer when none went direct), or null when every frame did. `classes`
   * holds each frame's traffic class (peer/frame-path.ts): only plain unicast goes direct —
   * ARP, ND, IGMP/MLD and discovery (even unicast answers, which feed the hub's directory)
   * keep going through the hub.
   */
  take (batch: Buffer, frames: number, classes: Uint8Array): Buffer | null {
    this.lastTaken = 0
    if (this.byMac.size === 0) return batch
    let off = 0
    let direct = 0
    this.d.bind.cork?.()
    try {
      for (let i = 0; i < frames; i++) {
        const len = batch.readUInt16BE(off)
        const f = off + BATCH_LEN_PREFIX
        let sent = 0
        if (classes[i] === CLASS_UNICAST && len <= this.maxFrame && directEligible(batch, f, len)) {
          const r = this.byMac.get(batch.readUIntBE(f, 6))
          if (r !== undefined) { this.sendFrame(r, batch, f, len); sent = 1; direct++ }
        } else if (classes[i] === CLASS_ARP) {
          // Frames to that member need no hub, so neither does finding its MAC: with the hub
          // away (a failover) the kernel's re-check of a stale entry would otherwise fail.
          const n = answerOwnArpRequest(batch, f, len, this.myMac, this.directMacOf, this.arpReply)
          if (n > 0) { this.counters.arpAnswered++; this.d.deliver(this.arpReply, 0, n); sent = 1; direct++ }
        }
        this.sentDirect[i] = sent
        off = f + len
      }
    } finally {
      // A throw mid-batch must not leave later sends (handshakes, pings) held.
      this.d.bind.uncork?.()
    }
    this.lastTaken = direct
    if (direct === 0) return batch
    return direct === frames ? null : compactBatch(batch, frames, this.sentDirect)
  }

  /** The MAC of the member leased `ip` when a direct path to it is up, else -1 (few members: a scan). */
  private readonly directMacOf = (ip: number): number => {
    for (const r of this.byMac.values()) if (parseIpv4(r.ip) === ip) return r.mac
    return -1
  }

  /** How a member is reached, for status: by its leased MAC text. */
  pathOf (mac: string): { path: 'direct' | 'relay', rttMs: number | null, endpoint: string | null } | null {
    const m = macNumber(mac)
    for (const r of this.remotes.values()) {
      if (r.mac !== m) continue
      const rtt = r.rtt.median
      return r.usable
        ? { path: 'direct', rttMs: rtt === null ? null : Math.round(rtt * 1000) / 1000, endpoint: `${r.endpoint!.address}:${r.endpoint!.port}` }
        : { path: 'relay', rttMs: null, endpoint: null }
    }
    return null
  }

  /** Members reached directly now. */
  get reaching (): number { return this.byMac.size }

  /** Opens this side's NAT towards the member's candidates without reaching its NAT (path.ts). */
  private punch (r: Remote): void {
    this.d.bind.sendWithTtl(PUNCH_PACKET, r.candidates, PUNCH_TTL)
  }

  // --- data ---

  private receive (msg: Buffer, address: string, port: number): void {
    const now = this.d.now()
    const type = msg.length > 0 ? msg[0] : -1
    try {
      if (type === TYPE_DATA) this.onData(msg, address, port, now)
      else if (type === TYPE_HANDSHAKE_INIT) this.handshakes.onInit(msg, { address, port }, now)
      else if (type === TYPE_HANDSHAKE_RESP) this.handshakes.onResp(msg, { address, port }, now)
      else if (msg.length === 1 && type === 0) return // a punch that got through (a peer on this LAN): nothing to do
      else this.counters.drops.bad_packet++
    } catch (e) {
      this.counters.drops.internal_error++
      const suppressed = this.errorLog.allow(now)
      if (suppressed >= 0) this.d.log.error('direct.internal_error', { from: `${address}:${port}`, error: (e as Error)?.stack ?? String(e), suppressed: suppressed || undefined })
    }
  }

  private onData (msg: Buffer, address: string, port: number, now: number): void {
    const s = this.byIndex.get(receiverOf(msg))
    if (s === undefined || !('t' in s)) { this.counters.drops.unknown_index++; return }
    if (s.t.expired(now)) { this.counters.drops.expired++; return }
    const replays = s.t.rejectedReplay
    const len = s.t.open(msg, this.rx)
    if (len < 0) { if (s.t.rejectedReplay > replays) this.counters.drops.replay++; else this.counters.drops.auth++; return }
    const r = s.remote
    r.timers.onAuthenticated(now)
    // Roaming (as WireGuard): answer where authentic packets come from.
    if (r.endpoint === null || r.endpoint.port !== port || r.endpoint.address !== address) r.endpoint = { address, port }
    if (len < 1) return
    const plain = this.rx
    const inner = plain[0]
    if (inner === INNER_FRAME) this.onFrame(r, plain, len - 1)
    else if (inner === INNER_PING && len >= 5) this.sendInner(r, INNER_PONG, plain.readUInt32LE(1), len)
    else if (inner === INNER_PONG && len >= 7 && plain.readUInt32LE(1) === r.pingId && r.pingAt > 0) {
      r.rtt.add(this.hr() - r.pingAt)
      r.pingAt = 0
      if (r.pingFull && plain.readUInt16LE(5) >= 1 + this.maxFrame) r.timers.onFullPong(now)
      else r.timers.onAuthenticated(now)
    }
  }

  /** A frame at rx[1, 1+len): delivered (synchronously: rx is reused) when it passes the checks. */
  private onFrame (r: Remote, plain: Buffer, len: number): void {
    if (len < 14) { this.counters.drops.bad_packet++; return }
    if (len > this.maxFrame) { this.counters.drops.too_big++; return }
    if (plain.readUIntBE(1, 6) !== this.myMac) { this.counters.drops.not_for_us++; return }
    if (!this.bridging && plain.readUIntBE(7, 6) !== r.mac) { this.counters.drops.src_mac++; return }
    this.counters.receivedFrames++
    this.counters.receivedBytes += len
    this.d.deliver(plain, 1, len)
  }

  private sendFrame (r: Remote, buf: Buffer, off: number, len: number): void {
    const e = r.endpoint!
    this.d.bind.send(r.current!.t.sealFrame(INNER_FRAME, buf, off, len), e.port, e.address)
    this.counters.sentFrames++
    this.counters.sentBytes += len
  }

  private sendPing (r: Remote, full: boolean): void {
    if (r.pingFull && r.pingAt > 0) r.timers.onFullPingLost()
    r.pingId = (r.pingId + 1) >>> 0
    r.pingAt = this.hr()
    r.pingFull = full
    this.sendInner(r, INNER_PING, r.pingId, full ? 1 + this.maxFrame : 5)
  }

  /** A ping (padded to `len`) or a pong (echoing the ping's length). */
  private sendInner (r: Remote, inner: number, id: number, len: number): void {
    if (r.current === null || r.endpoint === null) return
    const plain = Buffer.alloc(inner === INNER_PING ? len : 7)
    plain[0] = inner
    plain.writeUInt32LE(id >>> 0, 1)
    if (inner === INNER_PONG) plain.writeUInt16LE(Math.min(len, 0xffff), 5)
    this.d.bind.send(r.current.t.seal(plain), r.endpoint.port, r.endpoint.address)
  }

  // --- bookkeeping ---

  private forget (r: Remote): void {
    for (const s of [r.current, r.previous, r.pending]) if (s !== null) this.byIndex.delete(s.index)
    this.dropMac(r)
    this.remotes.delete(r.key)
  }

  /** Its MAC's entry, if it is this remote's (another may hold that MAC now). */
  private dropMac (r: Remote): void { if (this.byMac.get(r.mac) === r) this.byMac.delete(r.mac) }
}

/** "02:aa:…" as a 48-bit number (-1 when malformed). */
export const macNumber = (mac: string): number => {
  const hex = mac.replaceAll(':', '')
  return /^[0-9a-f]{12}$/i.test(hex) ? parseInt(hex, 16) : -1
}
