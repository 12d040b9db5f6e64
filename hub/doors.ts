/**
 * The hub's doors: who may connect, how many at once and how often they may try to join.
 * Every bound is counted when it refuses (DOOR_REFUSALS, also metric labels).
 *
 *   TCP accept ─► maxConnections? ─► pre-auth connections of this address < maxPreAuthPerAddress?
 *              ─► (TLS handshake within tlsHandshakeTimeoutMs; HTTP/upgrade, hello) ─► joined
 *              └► not joined within PREAUTH_GRACE_MS after the TLS deadline: destroyed
 *   hello ─► join attempts of this address (token bucket, joinAttemptsPerMinute) ─► join desk
 *
 * Addresses are those of the TCP peer, or for a connection from a trusted proxy the client
 * named in its X-Forwarded-For (the rightmost address that is not itself a trusted proxy).
 * Trusted proxies are exempt from the per-address connection bound at accept time; their
 * clients are counted per client address when the upgrade names them.
 */
import { readFileSync } from 'node:fs'
import { isIP, type Socket } from 'node:net'
import type { IncomingMessage } from 'node:http'
import { zeroCounts } from '../core/counts.js'
import { ipv6Words } from '../core/ipv6.js'
import type { DoorSettings } from './config.js'

export const DOOR_REFUSALS = ['connections_full', 'preauth_full', 'preauth_timeout', 'join_rate'] as const
export type DoorRefusal = typeof DOOR_REFUSALS[number]

/** Time after the TLS deadline for the HTTP upgrade and the hello to arrive. */
export const PREAUTH_GRACE_MS = 15_000
/** Join attempts one address may make at once before the rate applies. */
export const JOIN_BURST = 20
/** Addresses whose join rate is remembered (oldest forgotten first). */
const MAX_TRACKED_ADDRESSES = 65_536

/** Descriptors kept for files, the listener, DNS and the like. */
const FD_RESERVE = 64

/** The soft limit on open files (Linux /proc), or Infinity where it cannot be read. */
export const openFileLimit = (): number => {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    return m !== null ? Number(m[1]) : Infinity
  } catch {
    return Infinity
  }
}

/** "::ffff:1.2.3.4" -> "1.2.3.4"; anything else as is. */
export const plainAddress = (a: string | undefined): string => (a ?? '?').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '')

export const isLoopback = (a: string): boolean => a === '::1' || /^127\./.test(a)

/**
 * What per-address limits count under: an IPv4 address, or an IPv6 address's /64 (a host
 * usually owns a whole /64 and could rotate through it).
 */
export const addressKey = (address: string): string => {
  const a = plainAddress(address)
  const w = ipv6Words(a)
  return w === null ? a : `${w.slice(0, 4).map(x => x.toString(16)).join(':')}::/64`
}

interface Conn {
  socket: Socket
  /** Address the connection is counted under while it is not joined. */
  addr: string | null
  since: number
  joined: boolean
}

export class Doors {
  // set at construction
  private readonly s: DoorSettings
  private readonly trusted: ReadonlySet<string>
  readonly refused = zeroCounts(DOOR_REFUSALS)

  // owned by admit/release
  private readonly conns = new Map<string, Conn>()
  private readonly preAuth = new Map<string, number>()
  private readonly joinBuckets = new Map<string, { tokens: number, at: number }>()

  constructor (settings: DoorSettings, fdLimit = openFileLimit()) {
    // Never more connections than file descriptors (a systemd unit's soft limit is often
    // 1024): past it accept() fails for everyone, the health check and honest peers too.
    const fit = Math.max(16, fdLimit - FD_RESERVE)
    this.s = { ...settings, maxConnections: Math.min(settings.maxConnections, fit) }
    this.trusted = new Set(settings.trustedProxies.map(plainAddress))
  }

  get maxConnections (): number { return this.s.maxConnections }

  get connections (): number { return this.conns.size }

  get preAuthConnections (): number { let n = 0; for (const c of this.conns.values()) if (!c.joined) n++; return n }

  isTrustedProxy (addr: string): boolean { return this.trusted.has(addr) }

  /** At TCP accept: true to keep the socket (it is then tracked until it closes). */
  admit (socket: Socket, now: number): boolean {
    if (socket.remoteAddress === undefined) return false // already gone
    const addr = plainAddress(socket.remoteAddress)
    if (this.conns.size >= this.s.maxConnections) { this.refused.connections_full++; return false }
    const counted = this.isTrustedProxy(addr) ? null : addressKey(addr)
    if (counted !== null && !this.countPreAuth(counted)) return false
    const key = keyOf(socket)
    this.conns.set(key, { socket, addr: counted, since: now, joined: false })
    socket.once('close', () => { this.release(key) })
    return true
  }

  /** At upgrade, for a connection from a trusted proxy: count it under its real client. False: refuse. */
  admitProxied (socket: Socket, client: string): boolean {
    const c = this.conns.get(keyOf(socket))
    if (c === undefined || c.joined || c.addr !== null || client === plainAddress(socket.remoteAddress)) return true
    if (!this.countPreAuth(addressKey(client))) return false
    c.addr = addressKey(client)
    return true
  }

  /** The connection completed a join: it no longer counts as pre-authentication. */
  joined (socket: Socket): void {
    const c = this.conns.get(keyOf(socket))
    if (c === undefined || c.joined) return
    c.joined = true
    this.uncount(c)
  }

  /** One join attempt from `addr`; false (counted `join_rate`) over the rate. */
  allowJoin (address: string, now: number): boolean {
    const addr = addressKey(address)
    const ratePerMs = this.s.joinAttemptsPerMinute / 60_000
    let b = this.joinBuckets.get(addr)
    if (b === undefined) {
      if (this.joinBuckets.size >= MAX_TRACKED_ADDRESSES) this.joinBuckets.delete(this.joinBuckets.keys().next().value!)
      b = { tokens: JOIN_BURST, at: now }
    } else {
      this.joinBuckets.delete(addr) // re-insert: Map order is last-use order
      b.tokens = Math.min(JOIN_BURST, b.tokens + (now - b.at) * ratePerMs)
      b.at = now
    }
    this.joinBuckets.set(addr, b)
    if (b.tokens < 1) { this.refused.join_rate++; return false }
    b.tokens--
    return true
  }

  /** Destroys connections that did not join in time (TLS never started, no upgrade, no hello). */
  sweep (now: number): void {
    const limit = this.s.tlsHandshakeTimeoutMs + PREAUTH_GRACE_MS
    for (const c of this.conns.values()) {
      if (!c.joined && now - c.since > limit) { this.refused.preauth_timeout++; c.socket.destroy() }
    }
  }

  /**
   * The client's address: the TCP peer, or behind a trusted proxy the rightmost
   * X-Forwarded-For entry that is not a trusted proxy itself.
   */
  clientAddress (req: IncomingMessage): string {
    return this.forwardedClient(req) ?? plainAddress(req.socket.remoteAddress)
  }

  /**
   * Behind a trusted proxy, the client its X-Forwarded-For names (the rightmost entry that is
   * not a trusted proxy; a chain of only trusted proxies names the leftmost); null when the TCP
   * peer is no trusted proxy or the header names nobody. Never the proxy itself: a proxy that
   * sends no header must not make every client look local.
   */
  forwardedClient (req: IncomingMessage): string | null {
    if (!this.isTrustedProxy(plainAddress(req.socket.remoteAddress))) return null
    const header = req.headers['x-forwarded-for']
    const hops = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map(h => plainAddress(h.trim())).filter(h => isIP(h) !== 0)
    for (let i = hops.length - 1; i >= 0; i--) if (!this.isTrustedProxy(hops[i]!)) return hops[i]!
    return hops[0] ?? null
  }

  private countPreAuth (addr: string): boolean {
    const n = this.preAuth.get(addr) ?? 0
    if (n >= this.s.maxPreAuthPerAddress) { this.refused.preauth_full++; return false }
    this.preAuth.set(addr, n + 1)
    return true
  }

  private uncount (c: Conn): void {
    if (c.addr === null) return
    const n = (this.preAuth.get(c.addr) ?? 1) - 1
    if (n <= 0) this.preAuth.delete(c.addr)
    else this.preAuth.set(c.addr, n)
    c.addr = null
  }

  private release (key: string): void {
    const c = this.conns.get(key)
    if (c === undefined) return
    this.conns.delete(key)
    if (!c.joined) this.uncount(c)
  }
}

/** The TCP socket and the TLS socket on top of it share this key. */
const keyOf = (s: Socket): string => `${s.remoteAddress ?? '?'}|${s.remotePort ?? 0}`
