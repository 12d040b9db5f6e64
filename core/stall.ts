/**
 * Periodic checks that judge others by silence (keepalives) must not blame them for this
 * process's own stall (SIGSTOP, a VM pause, a laptop's suspend): a tick that runs late by more
 * than one interval judges no one; what arrived meanwhile is still unread in the sockets and
 * the next tick sees it.
 */
export class TickClock {
  private last: number

  constructor (private readonly intervalMs: number, now: number) { this.last = now }

  /** Records a tick at `now`; returns by how much it ran late when that exceeds one interval (this process stalled), else 0. */
  tick (now: number): number {
    const late = now - this.last - this.intervalMs
    this.last = now
    return late > this.intervalMs ? late : 0
  }
}
