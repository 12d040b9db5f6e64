/**
 * The peer's UDP socket for the direct path, and what the hub's reflector says of it: the
 * address and port the hub saw (the reflexive candidate, behind a NAT the NAT's). Asked after
 * each welcome: up to TRIES requests, TRY_GAP_MS apart, until one is answered.
 */
import { randomBytes } from 'node:crypto'
import { createSocket, type Socket } from 'node:dgram'
import { decodeAnswer, encodeRequest } from '../core/reflect.js'

const TRIES = 3
const TRY_GAP_MS = 300

export class Reflexive {
  private socket: Socket | null = null
  /** "ip:port" as the hub saw this peer's UDP socket; null until answered. */
  address: string | null = null
  localPort: number | null = null
  private closed = false

  /** Asks the reflector at host:port (again); resolves with the answer or null. */
  async ask (host: string, port: number): Promise<string | null> {
    const s = await this.open()
    if (s === null) return null
    const nonce = randomBytes(8)
    const request = encodeRequest(nonce)
    return await new Promise<string | null>(resolve => {
      let tries = 0
      let timer: NodeJS.Timeout | null = null
      const done = (v: string | null): void => { if (timer !== null) clearTimeout(timer); s.off('message', onMessage); resolve(v) }
      const onMessage = (msg: Buffer): void => {
        const a = decodeAnswer(msg, nonce)
        if (a !== null) { this.address = a; done(a) }
      }
      s.on('message', onMessage)
      const send = (): void => {
        if (tries++ >= TRIES || this.socket === null) { done(null); return }
        s.send(request, port, host, () => {})
        timer = setTimeout(send, TRY_GAP_MS)
        timer.unref()
      }
      send()
    })
  }

  /** Final: a peer that stopped never opens the socket again. */
  close (): void { this.closed = true; this.socket?.close(); this.socket = null }

  private async open (): Promise<Socket | null> {
    if (this.socket !== null || this.closed) return this.socket
    const s = createSocket({ type: 'udp4' })
    s.on('error', () => {})
    // Never what keeps a process alive: the peer's WebSocket and timers decide that.
    s.unref()
    try {
      await new Promise<void>((resolve, reject) => { s.once('error', reject); s.bind(0, '0.0.0.0', () => { s.off('error', reject); resolve() }) })
    } catch {
      s.close()
      return null
    }
    // The peer may have stopped while the bind was under way.
    if (this.closed || this.socket !== null) { s.close(); return this.socket }
    this.socket = s
    this.localPort = s.address().port
    return s
  }
}
