/**
 * Invites: one string that holds everything a friend needs to join — the hub's public URL,
 * the SHA-256 pin of its public key (so no certificate file is copied), the room and a
 * one-time secret:
 *
 *   overlan://hub.example.net:443/friday?pin=sha256:<64 hex>&invite=<id>.<secret>
 *   (with &tls=0 for a hub behind --no-tls that is reached without TLS, tests only)
 *
 * The secret is 128 random bits; the hub keeps only its scrypt hash (hub/secrets.ts).
 */
import { randomBytes } from 'node:crypto'
import { OverlanError } from './errors.js'

export interface Invite {
  /** wss://host:port (or ws:// with tls=0). */
  hub: string
  /** "sha256:<hex>" of the hub's SubjectPublicKeyInfo, or null when the hub has a public CA certificate. */
  pin: string | null
  room: string
  id: string
  secret: string
}

const ROOM = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
export const PIN = /^sha256:[0-9a-f]{64}$/

export const newInviteId = (): string => randomBytes(6).toString('hex')
export const newInviteSecret = (): string => randomBytes(16).toString('base64url')

export const encodeInvite = (i: Invite): string => {
  const u = new URL(i.hub)
  const port = u.port !== '' ? u.port : u.protocol === 'ws:' ? '80' : '443'
  const q = new URLSearchParams()
  if (i.pin !== null) q.set('pin', i.pin)
  q.set('invite', `${i.id}.${i.secret}`)
  if (u.protocol === 'ws:') q.set('tls', '0')
  return `overlan://${u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname}:${port}/${encodeURIComponent(i.room)}?${q.toString()}`
}

export const looksLikeInvite = (s: string): boolean => s.startsWith('overlan://')

/** Parses an invite; INVITE_INVALID with the reason when it is not one. */
export const decodeInvite = (s: string): Invite => {
  const bad = (why: string): OverlanError => new OverlanError('INVITE_INVALID', `not an overlan invite: ${why}`)
  let u: URL
  try { u = new URL(s.trim()) } catch { throw bad('not a URL') }
  if (u.protocol !== 'overlan:') throw bad('it must start with overlan://')
  const room = decodeURIComponent(u.pathname.replace(/^\//, ''))
  if (!ROOM.test(room)) throw bad('no valid room name after the host')
  const pin = u.searchParams.get('pin')
  if (pin !== null && !PIN.test(pin)) throw bad('pin must be sha256: and 64 hex digits')
  const m = /^([0-9a-f]{12})\.([A-Za-z0-9_-]{22})$/.exec(u.searchParams.get('invite') ?? '')
  if (m === null) throw bad('invite=<id>.<secret> is missing or malformed')
  const scheme = u.searchParams.get('tls') === '0' ? 'ws' : 'wss'
  return { hub: `${scheme}://${u.host}`, pin, room, id: m[1]!, secret: m[2]! }
}

/** "90s", "30m", "24h", "7d" (or a bare number of seconds) in ms; null when malformed. */
export const parseDuration = (s: string): number | null => {
  const m = /^(\d+(?:\.\d+)?)\s*([smhd]?)$/.exec(s.trim())
  if (m === null) return null
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd']
  const ms = Number(m[1]) * unit * 1000
  return Number.isFinite(ms) && ms > 0 ? Math.round(ms) : null
}
