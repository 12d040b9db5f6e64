/**
 * What the hub's reflector says of the direct path's socket: the address and port the hub
 * saw (the reflexive candidate; behind a NAT, the NAT's). Asked after each welcome: up to
 * TRIES requests, TRY_GAP_MS apart, until one is answered. Answers arrive through the
 * direct link's dispatch (they start with the reflector's magic, which no direct packet does).
 */
import { randomBytes } from 'node:crypto'
import { MAGIC, decodeAnswer, encodeRequest } from '../core/reflect.js'
import type { Bind } from './udp-bind.js'

const TRIES = 3
const TRY_GAP_MS = 300

export class Reflexive {
  /** "ip:port" as the hub saw this peer's UDP socket; null until answered. */
  address: string | null = null
  private waiting: ((msg: Buffer) => void) | null = null

  constructor (private readonly bind: Bind) {}

  /** Is this datagram a reflector answer? (then it is consumed) */
  handle (msg: Buffer): boolean {
    if (msg.length < 4 || msg[0] !== MAGIC[0] || !msg.subarray(0, 4).equals(MAGIC)) return false
    this.waiting?.(msg)
    return true
  }

  /** Asks the reflector at host:port (again); resolves with the answer or null. */
  async ask (host: string, port: number): Promise<string | null> {
    if (await this.bind.open() === null) return null
    const nonce = randomBytes(8)
    const request = encodeRequest(nonce)
    return await new Promise<string | null>(resolve => {
      let tries = 0
      let timer: NodeJS.Timeout | null = null
      const onAnswer = (msg: Buffer): void => {
        const a = decodeAnswer(msg, nonce)
        if (a !== null) { this.address = a; done(a) }
      }
      // A newer ask replaces this one's handler; this one then ends with null on its timer.
      const done = (v: string | null): void => { if (timer !== null) clearTimeout(timer); if (this.waiting === onAnswer) this.waiting = null; resolve(v) }
      this.waiting = onAnswer
      const send = (): void => {
        if (tries++ >= TRIES || this.bind.localPort === null) { done(null); return }
        this.bind.send(request, port, host)
        timer = setTimeout(send, TRY_GAP_MS)
        timer.unref()
      }
      send()
    })
  }
}
