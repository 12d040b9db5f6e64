/**
 * The life of one direct path to one other peer, as a state machine over injected time
 * (pure: no sockets, no clocks). peer/direct-link.ts asks `due()` a few times a second and
 * does what it says; packets it receives feed the `on…` methods.
 *
 *   off ──candidates──► probing ──handshake answered──► checking ──full-size pong──► direct
 *    ▲                    ▲  │ no answer: retry, backoff      │                      │
 *    └──no candidates─────┘  └────────────────────────────────┴──silent LOST_AFTER_MS─┘
 *
 * Frames use the path only in `direct`: a session is up, the other side was heard within
 * LOST_AFTER_MS, and a ping padded to a full frame came back (the path carries the room's
 * MTU without loss). Everything else goes through the hub, so a path change loses nothing a
 * real LAN would not. Why these numbers (README "Direct paths"):
 * - HEARTBEAT_MS 1 s: RTT samples, and NAT mappings (UDP timeouts are 30 s and more,
 *   RFC 4787 REQ-5) and loss detection stay fresh; 1 s of silence is one missed heartbeat.
 * - LOST_AFTER_MS 3 s: three heartbeats missed, so fallback is well inside 5 s, yet one
 *   lost packet or a scheduling hiccup does not flap the path.
 * - Each attempt first punches: a packet with a TTL of PUNCH_TTL, which opens this side's
 *   NAT mapping towards the other's candidates but dies in the network before the other's
 *   NAT. A packet that reaches a NAT before its own host has sent the other way creates an
 *   inbound entry there (Linux conntrack), and the host's later packets then get another
 *   port: the hole never opens. So the first attempt only punches, and the handshake follows
 *   PUNCH_LEAD_MS later, once the other side (told by the same members push) punched too.
 * - Handshakes every second for FAST_ATTEMPTS tries, then backoff doubling to
 *   BACKOFF_MAX_MS, so a pair behind symmetric NATs costs a few packets every 30 s.
 */
export const HEARTBEAT_MS = 1000
export const PUNCH_TTL = 2
export const PUNCH_LEAD_MS = 300
export const LOST_AFTER_MS = 3000
export const FAST_ATTEMPTS = 5
export const RETRY_MS = 1000
export const BACKOFF_MAX_MS = 30_000
/** A full-size probe is repeated this often once the path is up (the MTU may change). */
export const MTU_RECHECK_EVERY = 10

export type PathState = 'off' | 'probing' | 'checking' | 'direct'

export interface PathDue {
  /** Punch: low-TTL packets to every candidate (opens this side's NAT only). */
  punch: boolean
  /** Start a handshake (to every candidate, or to the known endpoint when rekeying). */
  handshake: boolean
  /** Send a heartbeat ping; `full`: padded to a full frame (the MTU probe). */
  ping: boolean
  full: boolean
}

export class PathTimers {
  state: PathState = 'off'
  /** Attempts (punch, then punch and handshake) since the last success or candidate change. */
  attempts = 0
  /** When the path last went from direct to lost (for status). */
  lostAt: number | null = null
  /** Times the path went direct, and back to the hub. */
  ups = 0
  downs = 0
  private nextHandshakeAt = 0
  private lastRx = 0
  private nextPingAt = 0
  private pings = 0
  private readonly due_: PathDue = { punch: false, handshake: false, ping: false, full: false }

  /** The other side's candidates: any at all (a change restarts probing at once). */
  setCandidates (present: boolean, changed: boolean, now: number): void {
    if (!present) { this.reset('off'); return }
    if (this.state === 'off' || changed) {
      if (this.state === 'off') this.state = 'probing'
      this.attempts = 0
      this.nextHandshakeAt = now
    }
  }

  /** An attempt was made; the next one waits for the retry schedule. */
  onAttempt (now: number): void {
    this.attempts++
    this.nextHandshakeAt = now + (this.attempts === 1 ? PUNCH_LEAD_MS : retryDelay(this.attempts - 1))
  }

  /** A session was established (either side's handshake). */
  onEstablished (now: number): void {
    this.lastRx = now
    this.attempts = 0
    if (this.state === 'probing' || this.state === 'off') {
      this.state = 'checking'
      this.nextPingAt = now
      this.pings = 0
    }
  }

  /** Any authenticated packet from the other side. */
  onAuthenticated (now: number): void { this.lastRx = now }

  /** The answer to a full-size ping: the path carries whole frames. */
  onFullPong (now: number): void {
    this.lastRx = now
    if (this.state === 'checking') { this.state = 'direct'; this.ups++ }
  }

  /**
   * A full-size ping went unanswered (the next heartbeat is due): the path may no longer
   * carry whole frames (a smaller MTU on the way), so frames go through the hub again until a
   * full-size pong proves it.
   */
  onFullPingLost (): void {
    if (this.state === 'direct') { this.state = 'checking'; this.downs++ }
  }

  /** A rekey is due: the next due() asks for a handshake while the path stays up. */
  rekey (now: number): void { if (this.nextHandshakeAt > now) this.nextHandshakeAt = now }

  /** What to do now. The same object every call (no allocation). */
  due (now: number, sessionUp: boolean, rekeyDue: boolean): PathDue {
    const d = this.due_
    d.punch = false
    d.handshake = false
    d.ping = false
    d.full = false
    if (this.state === 'off') return d
    if ((this.state === 'checking' || this.state === 'direct') && now - this.lastRx >= LOST_AFTER_MS) {
      if (this.state === 'direct') { this.downs++; this.lostAt = now }
      this.state = 'probing'
      this.attempts = 0
      this.nextHandshakeAt = now
    }
    if (this.state === 'probing' && now >= this.nextHandshakeAt) {
      d.punch = true
      d.handshake = this.attempts > 0 // the first attempt only punches
    } else if (rekeyDue && sessionUp && now >= this.nextHandshakeAt) {
      d.handshake = true
    }
    if ((this.state === 'checking' || this.state === 'direct') && sessionUp && now >= this.nextPingAt) {
      d.ping = true
      d.full = this.state === 'checking' || this.pings % MTU_RECHECK_EVERY === 0
      this.pings++
      this.nextPingAt = now + HEARTBEAT_MS
    }
    return d
  }

  private reset (state: PathState): void {
    if (this.state === 'direct') { this.downs++ }
    this.state = state
    this.attempts = 0
  }
}

/** Delay after the n-th handshake: RETRY_MS for FAST_ATTEMPTS tries, then doubling to BACKOFF_MAX_MS. */
export const retryDelay = (attempts: number): number =>
  attempts <= FAST_ATTEMPTS ? RETRY_MS : Math.min(BACKOFF_MAX_MS, RETRY_MS * 2 ** (attempts - FAST_ATTEMPTS))
