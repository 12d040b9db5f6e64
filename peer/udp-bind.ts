/**
 * The direct path's one UDP socket behind an interface, as wireguard-go's conn.Bind: the
 * direct link (peer/direct-link.ts) sends and receives datagrams through a Bind, so tests can
 * join two links in memory and another platform can bring its own socket.
 */
import { createSocket, type Socket } from 'node:dgram'
import { isIPv4 } from 'node:net'
import { setDontFragment } from '../core/udp-df.js'

export interface Bind {
  /** Binds (once); resolves with the local port, or null when it cannot. */
  open: () => Promise<number | null>
  send: (packet: Buffer, port: number, address: string) => void
  /** Sends `packet` to each target with IP TTL `ttl` (NAT hole punching: core/direct/path.ts); other sends keep the default TTL. */
  sendWithTtl: (packet: Buffer, targets: ReadonlyArray<{ address: string, port: number }>, ttl: number) => void
  /**
   * Optional batching: between cork and uncork a Bind may hold what is sent and hand it to the
   * kernel together at uncork (the direct link corks around one TAP batch); a packet sent
   * meanwhile must stay unchanged until uncork.
   */
  cork?: () => void
  uncork?: () => void
  /**
   * Runs the socket's system calls once for core/keep-warm.ts: its receive (a datagram already
   * waiting is handled as a wake-up would handle it) and a send to a loopback socket of its own.
   */
  warm?: () => void
  /** Final: a closed bind never opens again. */
  close: () => void
  readonly localPort: number | null
  /** Set by the owner: every datagram received; `msg` is valid only during the call (a Bind may reuse its memory). */
  onPacket: (msg: Buffer, address: string, port: number) => void
  /** Sends that failed at once (no route, refused by a local firewall). */
  readonly sendErrors: number
  /** The socket's own counters, for status (e.g. how often GSO/GRO batched). */
  stats?: () => Record<string, number>
}

const DEFAULT_TTL = 64

/** dgram's lookup for addresses that are already IPv4 literals (anything else fails the send). */
const ipLiteral = (address: string, _options: unknown, callback: (err: Error | null, address: string, family: number) => void): void => {
  if (isIPv4(address)) callback(null, address, 4)
  else callback(new Error(`not an IPv4 address: ${address}`), '', 4)
}
const HELD_MAX = 256

/** A Bind on a udp4 socket of this host (all addresses, an ephemeral or given port). */
export class UdpBind implements Bind {
  private socket: Socket | null = null
  private closed = false
  localPort: number | null = null
  sendErrors = 0
  /** IP_PMTUDISC_DO is set: datagrams over the path MTU fail instead of fragmenting. */
  dontFragment = false
  onPacket: (msg: Buffer, address: string, port: number) => void = () => {}
  private held: Array<{ packet: Buffer, port: number, address: string }> | null = null
  private readonly onSent = (e: Error | null): void => { if (e !== null) this.sendErrors++ }

  constructor (private readonly port = 0) {}

  async open (): Promise<number | null> {
    if (this.socket !== null || this.closed) return this.localPort
    // Candidates are IP literals: answering the lookup at once saves dgram's dns.lookup and
    // the process.nextTick it defers every send to (latency and a closure per datagram).
    const s = createSocket({ type: 'udp4', lookup: ipLiteral })
    s.on('error', () => {})
    // Never what keeps a process alive: the peer's WebSocket and timers decide that.
    s.unref()
    try {
      await new Promise<void>((resolve, reject) => { s.once('error', reject); s.bind(this.port, '0.0.0.0', () => { s.off('error', reject); resolve() }) })
    } catch {
      s.close()
      return null
    }
    // Closed (the peer stopped) or opened twice while the bind was under way.
    if (this.closed || this.socket !== null) { s.close(); return this.localPort }
    this.socket = s
    this.localPort = s.address().port
    this.dontFragment = setDontFragment(s)
    s.on('message', (msg, rinfo) => { this.onPacket(msg, rinfo.address, rinfo.port) })
    return this.localPort
  }

  send (packet: Buffer, port: number, address: string): void {
    if (this.held !== null) { if (this.held.length < HELD_MAX) this.held.push({ packet, port, address }); return }
    this.socket?.send(packet, port, address, this.onSent)
  }

  /**
   * Node sets the TTL per socket and sends on a later tick, so the TTL goes back only in the
   * send's callback; what is sent meanwhile waits (at most HELD_MAX datagrams) and follows.
   */
  sendWithTtl (packet: Buffer, targets: ReadonlyArray<{ address: string, port: number }>, ttl: number): void {
    const s = this.socket
    if (s === null || targets.length === 0) return
    if (this.held !== null) return // one low-TTL burst at a time; a punch is best effort
    this.held = []
    try { s.setTTL(ttl) } catch { this.held = null; return }
    let left = targets.length
    const sent = (e: Error | null): void => {
      if (e !== null) this.sendErrors++
      if (--left > 0 || this.socket !== s) return
      try { s.setTTL(DEFAULT_TTL) } catch {}
      const held = this.held ?? []
      this.held = null
      for (const h of held) s.send(h.packet, h.port, h.address, this.onSent)
    }
    for (const t of targets) s.send(packet, t.port, t.address, sent)
  }

  close (): void { this.closed = true; this.socket?.close(); this.socket = null }
}
