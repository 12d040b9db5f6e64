/**
 * Logins of the dashboard: `POST /login` with the adminToken sets an HttpOnly, SameSite=Strict
 * session cookie (Secure under TLS); the token never appears in a URL. Sessions are random
 * 256-bit ids kept in memory (bounded, oldest first out; 12 h each); a hub restart logs out.
 */
import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { tokenMatches } from './auth.js'

export const COOKIE = 'overlan_session'
const MAX_SESSIONS = 64
const SESSION_MS = 12 * 3600_000

export class DashboardSessions {
  private readonly sessions = new Map<string, number>()

  /** A new session id for a correct token, or null. */
  login (given: string, adminToken: string, now: number): string | null {
    if (!tokenMatches(given, adminToken)) return null
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!)
    const id = randomBytes(32).toString('base64url')
    this.sessions.set(id, now + SESSION_MS)
    return id
  }

  logout (req: IncomingMessage): void { const id = cookieOf(req); if (id !== null) this.sessions.delete(id) }

  /** Does the request carry a live session cookie? Constant time per candidate. */
  valid (req: IncomingMessage, now: number): boolean {
    const id = cookieOf(req)
    if (id === null) return false
    let ok = false
    for (const [s, until] of this.sessions) {
      if (until <= now) { this.sessions.delete(s); continue }
      if (tokenMatches(id, s)) ok = true
    }
    return ok
  }

  cookie (id: string, secure: boolean): string {
    return `${COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MS / 1000}${secure ? '; Secure' : ''}`
  }
}

const cookieOf = (req: IncomingMessage): string | null => {
  const m = new RegExp(`(?:^|;\\s*)${COOKIE}=([A-Za-z0-9_-]{43})(?:;|$)`).exec(req.headers.cookie ?? '')
  return m?.[1] ?? null
}
