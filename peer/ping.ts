/**
 * `peer ping NAME`: ICMP echo requests from this peer's lease to a member's, sent the way
 * frames for that member go (direct or through the hub), and the replies caught before the
 * TAP, with the path each came back on and its RTT (as `tailscale ping` reports).
 */
import { randomInt } from 'node:crypto'
import { OverlanError } from '../core/errors.js'
import { echoReplySeq, echoRequest, type EchoAddressing } from '../l2/icmp-echo.js'

export type PathName = 'direct' | 'relay'
export interface PingReply { seq: number, path: PathName | null, rttMs: number | null }
export interface PingResult { name: string, ip: string, replies: PingReply[] }

const REPLY_TIMEOUT_MS = 2000
const GAP_MS = 200

export class Pinger {
  private id = 0
  private myIp = -1
  private waiting: { seq: number, at: number, done: (path: PathName) => void } | null = null

  /** A frame on its way to the TAP: true when it answered our ping (then it is consumed). */
  catch (b: Buffer, off: number, len: number, path: PathName): boolean {
    const w = this.waiting
    if (w === null || echoReplySeq(b, off, len, this.myIp, this.id) !== w.seq) return false
    w.done(path)
    return true
  }

  /** Sends `count` requests one after another; `send` returns the path the request took. */
  async run (target: { name: string, ip: string }, a: EchoAddressing, count: number, send: (frame: Buffer) => PathName | null): Promise<PingResult> {
    if (this.waiting !== null) throw new OverlanError('USAGE', 'a ping is already running')
    this.id = randomInt(1, 0xffff)
    this.myIp = a.srcIp
    const replies: PingReply[] = []
    for (let seq = 1; seq <= count; seq++) {
      const at = performance.now()
      const reply = await new Promise<PingReply>(resolve => {
        const timer = setTimeout(() => { this.waiting = null; resolve({ seq, path: null, rttMs: null }) }, REPLY_TIMEOUT_MS)
        this.waiting = { seq, at, done: (path) => { clearTimeout(timer); this.waiting = null; resolve({ seq, path, rttMs: Math.round((performance.now() - at) * 1000) / 1000 }) } }
        if (send(echoRequest(a, this.id, seq)) === null) { clearTimeout(timer); this.waiting = null; resolve({ seq, path: null, rttMs: null }) }
      })
      replies.push(reply)
      if (seq < count) await new Promise(resolve => setTimeout(resolve, GAP_MS)) // pacing, as ping -i
    }
    return { name: target.name, ip: target.ip, replies }
  }
}
