/**
 * The hub's UDP side (`udpListen`, default the WebSocket's host and port): the reflector of
 * core/reflect.ts, so peers learn their reflexive address for the direct path. Stateless and
 * bounded: each source address may ask REFLECT_PER_S times a second (bursts of REFLECT_BURST;
 * at most MAX_SOURCES remembered), answers are never larger than requests, anything else is
 * dropped and counted.
 */
import { createSocket, type Socket } from 'node:dgram'
import { isIP } from 'node:net'
import { zeroCounts } from '../core/counts.js'
import { OverlanError, errnoCode } from '../core/errors.js'
import { decodeRequest, encodeAnswer } from '../core/reflect.js'
import { plainAddress } from './doors.js'

export const REFLECT_PER_S = 10
export const REFLECT_BURST = 20
const MAX_SOURCES = 4096

export const UDP_DROP_REASONS = ['bad_packet', 'rate'] as const

export class UdpReflector {
  readonly counters = { answered: 0, drops: zeroCounts(UDP_DROP_REASONS) }
  private socket: Socket | null = null
  private readonly buckets = new Map<string, { tokens: number, at: number }>()

  async start (host: string, port: number): Promise<number> {
    const s = createSocket({ type: isIP(host) === 6 || host === '::' ? 'udp6' : 'udp4' })
    s.on('message', (msg, rinfo) => { this.onMessage(s, msg, rinfo.address, rinfo.port) })
    s.on('error', () => {})
    await new Promise<void>((resolve, reject) => {
      s.once('error', (e) => { reject(new OverlanError('LISTEN_FAILED', `cannot listen on UDP ${host}:${port}: ${errnoCode(e) ?? e.message}`, { cause: e })) })
      s.bind(port, host, () => { resolve() })
    })
    this.socket = s
    return s.address().port
  }

  stop (): void { this.socket?.close(); this.socket = null }

  private onMessage (s: Socket, msg: Buffer, address: string, port: number): void {
    const nonce = decodeRequest(msg)
    if (nonce === null) { this.counters.drops.bad_packet++; return }
    if (!this.allow(address, performance.now())) { this.counters.drops.rate++; return }
    const answer = encodeAnswer(nonce, plainAddress(address), port)
    if (answer === null) { this.counters.drops.bad_packet++; return }
    s.send(answer, port, address)
    this.counters.answered++
  }

  private allow (address: string, now: number): boolean {
    let b = this.buckets.get(address)
    if (b === undefined) {
      if (this.buckets.size >= MAX_SOURCES) this.buckets.delete(this.buckets.keys().next().value!)
      b = { tokens: REFLECT_BURST, at: now }
    } else {
      this.buckets.delete(address)
      b.tokens = Math.min(REFLECT_BURST, b.tokens + (now - b.at) * REFLECT_PER_S / 1000)
      b.at = now
    }
    this.buckets.set(address, b)
    if (b.tokens < 1) return false
    b.tokens--
    return true
  }
}
