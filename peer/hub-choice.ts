/**
 * Which hub the next connection goes to: the configured list (a cluster's hubs) in turn, or
 * the owner of the room a hub redirected to. Pure: the peer reports what happened.
 */
import { CLOSE_REDIRECT } from '../core/protocol.js'

/** Redirects followed in a row without a welcome (a misconfigured cluster must not spin). */
export const MAX_REDIRECTS = 4

export class HubChoice {
  private readonly hubs: string[]
  private index = 0
  private redirect: string | null = null
  private redirectsInRow = 0

  /** `list`: comma-separated hub URLs (`--hub`). */
  constructor (list: string) {
    this.hubs = list.split(',').map(u => u.trim()).filter(u => u !== '')
    if (this.hubs.length === 0) this.hubs.push(list)
  }

  /** The hub the next (or current) attempt goes to. */
  get url (): string { return this.redirect ?? this.hubs[this.index % this.hubs.length]! }

  /** A hub said another owns the room (a `redirect` message before its close). */
  redirectTo (url: string): void { this.redirect = url }

  welcomed (): void { this.redirectsInRow = 0 }

  /**
   * After a connection closed (not a refusal): 'now' to follow a redirect at once (a few in a
   * row at most), else 'backoff' — the next attempt goes to the next hub in turn when this one
   * never welcomed us, to the same one when it did (it was up; any hub redirects to the owner).
   */
  closed (code: number, wasConnected: boolean): 'now' | 'backoff' {
    if (code === CLOSE_REDIRECT && this.redirect !== null && this.redirectsInRow < MAX_REDIRECTS) {
      this.redirectsInRow++
      return 'now'
    }
    if (this.redirect === null && !wasConnected) this.index++
    this.redirect = null
    return 'backoff'
  }
}
