/**
 * A room: one L2 switch and the sessions plugged into it. Rooms never share a switch, a
 * port or a buffer, so no frame can cross from one room to another.
 *
 *   binary message ──► countFrames (malformed: drop whole, `bad_batch`)
 *                  ──► decide() per frame into `decisions`
 *                  ──► all frames same decision? forward the received buffer as is (no copy)
 *                      else copy each frame into its destinations' pending batches, flush
 */
import { BATCH_LEN_PREFIX, MAX_MESSAGE_BYTES, countFrames } from '../core/protocol.js'
import { ETH_HEADER_LEN, parseMac } from '../l2/ethernet.js'
import { DROP, FLOOD, L2Switch } from '../l2/switch.js'
import type { RoomSettings } from './config.js'
import type { Session } from './session.js'

const MAX_FRAMES_PER_MESSAGE = Math.ceil(MAX_MESSAGE_BYTES / (BATCH_LEN_PREFIX + ETH_HEADER_LEN))

export class Room {
  // set at construction
  readonly settings: RoomSettings
  readonly switch: L2Switch
  readonly createdAt: number

  // owned by join/leave
  private readonly sessions = new Map<number, Session>()
  private readonly byIdentity = new Map<string, Session>()
  /** Flat fan-out list, rebuilt on join/leave. */
  private members: Session[] = []

  // scratch for forward(); a Room is used by one thread
  private readonly decisions = new Int32Array(MAX_FRAMES_PER_MESSAGE)

  constructor (settings: RoomSettings, now: number) {
    this.settings = settings
    this.createdAt = now
    this.switch = new L2Switch({ mtu: settings.mtu, allowBridging: settings.allowBridging })
  }

  get size (): number { return this.members.length }

  sessionOf (identity: string): Session | undefined { return this.byIdentity.get(identity) }

  list (): readonly Session[] { return this.members }

  join (s: Session): void {
    const info = s.info!
    this.sessions.set(s.port, s)
    this.byIdentity.set(info.identity, s)
    this.switch.addPort(s.port, parseMac(info.mac)!)
    this.members = [...this.sessions.values()]
  }

  /** Removes a session and its MAC entries. Idempotent. */
  leave (s: Session): void {
    if (this.sessions.get(s.port) !== s) return
    this.sessions.delete(s.port)
    if (s.info !== null && this.byIdentity.get(s.info.identity) === s) this.byIdentity.delete(s.info.identity)
    this.switch.removePort(s.port)
    this.members = [...this.sessions.values()]
  }

  /** Switches one received batch from `from`. The batch buffer is not modified. */
  forward (from: Session, msg: Buffer, now: number): void {
    const n = countFrames(msg)
    if (n < 0) { from.counters.drops.bad_batch++; return }
    from.counters.rxFrames += n
    from.counters.rxBytes += msg.length
    const sw = this.switch
    const ingress = from.port
    const decisions = this.decisions
    let first = 0
    let uniform = true
    let off = 0
    for (let i = 0; i < n; i++) {
      const len = msg.readUInt16BE(off)
      const d = sw.decide(msg, off + BATCH_LEN_PREFIX, len, ingress, now)
      if (i === 0) first = d
      else if (d !== first) uniform = false
      decisions[i] = d
      off += BATCH_LEN_PREFIX + len
    }

    if (uniform) {
      if (first === DROP) return
      if (first === FLOOD) {
        for (const s of this.members) if (s !== from) s.sendBatch(msg, n)
      } else {
        this.sessions.get(first)?.sendBatch(msg, n)
      }
      return
    }

    off = 0
    for (let i = 0; i < n; i++) {
      const len = BATCH_LEN_PREFIX + msg.readUInt16BE(off)
      const d = decisions[i]!
      if (d === FLOOD) {
        for (const s of this.members) if (s !== from) s.append(msg, off, len)
      } else if (d >= 0) {
        this.sessions.get(d)?.append(msg, off, len)
      }
      off += len
    }
    for (const s of this.members) s.flush()
  }
}
