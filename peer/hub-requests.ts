/**
 * What a user asks the hub through this peer and waits for: `peer list` (who is in the room)
 * and `peer test` (the bufferbloat test, peer/speed-test.ts). The answers arrive as control
 * messages the peer hands over (onRoom, onTestResult); each wait has a deadline.
 */
import { OverlanError } from '../core/errors.js'
import { encodeBatch, type RoomMessage, type TestResultMessage } from '../core/protocol.js'
import type { HubLink } from './hub-link.js'
import type { MemberView } from './peer-status.js'
import { runSpeedTest, type SpeedTestResult, type TestLink } from './speed-test.js'

export class HubRequests {
  /** A download test runs: frames from the hub are counted by the hub and dropped here. */
  sinking = false
  /** A test runs: its own pings keep the line alive (the keepalive must not pair pongs). */
  testing = false
  private listWaiters: Array<(m: RoomMessage) => void> = []
  private testResults: Array<{ direction: 'up' | 'down', resolve: (m: TestResultMessage) => void }> = []

  constructor (
    private readonly link: HubLink,
    /** Null when connected, else why not (the peer's state). */
    private readonly notConnected: () => string | null,
    private readonly views: () => MemberView[]
  ) {}

  /** Who is in the room and what they offer, with how this peer reaches each. */
  async list (timeoutMs: number): Promise<RoomMessage> {
    const why = this.notConnected()
    if (why !== null) throw new OverlanError('HUB_UNREACHABLE', `not connected to the hub (${why})`)
    const r = await new Promise<RoomMessage>((resolve, reject) => {
      const t = setTimeout(() => {
        this.listWaiters = this.listWaiters.filter(w => w !== done)
        reject(new OverlanError('HUB_UNREACHABLE', `the hub did not answer within ${timeoutMs} ms`))
      }, timeoutMs)
      const done = (m: RoomMessage): void => { clearTimeout(t); resolve(m) }
      this.listWaiters.push(done)
      this.link.send({ type: 'list' })
    })
    const paths = new Map(this.views().map(m => [m.mac, m]))
    return { ...r, members: r.members.map(({ endpoints: _e, ...m }) => { const p = paths.get(m.mac); return p !== undefined ? { ...m, path: p.path, rttMs: p.rttMs } : m }) }
  }

  async speedTest (phaseMs: number): Promise<SpeedTestResult> {
    const why = this.notConnected() ?? (this.link.isOpen ? null : 'link down')
    if (why !== null) throw new OverlanError('HUB_UNREACHABLE', `not connected to the hub (${why})`)
    if (this.testing) throw new OverlanError('USAGE', 'a test is already running')
    // Frames the hub counts and drops: addressed nowhere, from this peer's MAC (it checks the source only when switching).
    const filler = encodeBatch(Array.from({ length: 32 }, () => Buffer.alloc(1414)))
    const link: TestLink = {
      start: (direction, ms) => { this.link.send({ type: 'test', direction, ms }) },
      sendFiller: () => this.link.sendRaw(filler),
      ping: () => this.link.probe(),
      result: (direction) => new Promise((resolve, reject) => {
        const t = setTimeout(() => { reject(new OverlanError('HUB_UNREACHABLE', 'the hub sent no test result (is it older than this peer?)')) }, phaseMs + 5000)
        this.testResults.push({ direction, resolve: (m) => { clearTimeout(t); resolve(m) } })
      }),
      sink: (on) => { this.sinking = on }
    }
    this.testing = true
    try {
      return await runSpeedTest(link, phaseMs)
    } finally {
      this.testing = false
      this.sinking = false
    }
  }

  onRoom (m: RoomMessage): void {
    const waiting = this.listWaiters
    this.listWaiters = []
    for (const w of waiting) w(m)
  }

  onTestResult (m: TestResultMessage): void {
    const i = this.testResults.findIndex(w => w.direction === m.direction)
    if (i >= 0) this.testResults.splice(i, 1)[0]!.resolve(m)
  }
}
