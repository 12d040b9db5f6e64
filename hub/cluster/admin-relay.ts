/**
 * Admin commands about a room another hub owns are run by that owner, so `hub ban NAME`,
 * `hub kick`, `hub peers`… work on any hub of a cluster and take effect at once: the request
 * and its answer travel as PostgreSQL notifications on one channel (LISTEN/NOTIFY, no table,
 * nothing to clean up). A room no live hub holds has nobody online: a ban then goes straight
 * into the store (the next owner loads it); the other commands say so.
 */
import { randomBytes } from 'node:crypto'
import { OverlanError, isOverlanError } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import type { ControlRequest } from '../control-socket.js'
import type { ClusterStore } from './store.js'

export const ADMIN_CHANNEL = 'overlan_admin'
/** Commands whose answer is the owner's (its sessions, leases, bans in memory). */
const ROOM_COMMANDS = new Set(['peers', 'kick', 'ban', 'unban', 'release'])
const ANSWER_TIMEOUT_MS = 5000
const MAX_PENDING = 64
/** NOTIFY payloads must stay under 8000 bytes. */
const MAX_PAYLOAD = 7900

type Run = (r: ControlRequest, by: string) => Promise<unknown>
type Answer = { ok: true, result: unknown } | { ok: false, code: string, message: string }
interface Envelope { id: string, to: string, from: string, req?: ControlRequest, by?: string, answer?: Answer }

export class AdminRelay {
  private readonly pending = new Map<string, { resolve: (a: Answer) => void, timer: NodeJS.Timeout }>()
  private listener: { close: () => Promise<void> } | null = null
  listening = false

  constructor (private readonly store: ClusterStore, private readonly hubId: string, private readonly run: Run, private readonly owns: (room: string) => boolean, private readonly log: Logger) {}

  start (): void {
    this.listener = this.store.listen(ADMIN_CHANNEL, (p) => { this.onPayload(p) }, (up, error) => {
      if (up !== this.listening) this.log[up ? 'info' : 'warn'](up ? 'cluster.admin_listening' : 'cluster.admin_not_listening', { error })
      this.listening = up
    })
  }

  async stop (): Promise<void> {
    for (const [, p] of this.pending) { clearTimeout(p.timer); p.resolve({ ok: false, code: 'UNAVAILABLE', message: 'the hub is stopping' }) }
    this.pending.clear()
    await this.listener?.close()
  }

  /** Runs `r` here, or on the room's owner when that is another hub. */
  async runAnywhere (r: ControlRequest, by: string): Promise<unknown> {
    const room = r.room
    if (!ROOM_COMMANDS.has(r.cmd) || typeof room !== 'string' || this.owns(room)) return await this.run(r, by)
    const owner = await this.store.ownerOf(room)
    if (owner === null) return await this.withoutOwner(room, r)
    if (owner.owner === this.hubId) return await this.run(r, by)
    const answer = await this.ask(owner.owner, r, by)
    if (answer.ok) return answer.result
    throw new OverlanError(answer.code as never, `${answer.message} (answered by ${owner.url}, the room's owner)`)
  }

  private async withoutOwner (room: string, r: ControlRequest): Promise<unknown> {
    if (r.cmd === 'ban' && typeof r.name === 'string') {
      if (await this.store.banOffline(room, r.name) === null) throw new OverlanError('USAGE', `no member named ${r.name} in room ${room}`)
      return { banned: r.name }
    }
    if (r.cmd === 'peers') return []
    throw new OverlanError('USAGE', `no hub holds room ${room} now, so nobody is online in it`)
  }

  private async ask (to: string, req: ControlRequest, by: string): Promise<Answer> {
    if (this.pending.size >= MAX_PENDING) throw new OverlanError('UNAVAILABLE', 'too many admin commands waiting for other hubs')
    if (!this.listening) throw new OverlanError('UNAVAILABLE', 'this hub is not listening to the cluster store now; run the command on the room\'s owner')
    const id = randomBytes(8).toString('hex')
    const payload = JSON.stringify({ id, to, from: this.hubId, req, by } satisfies Envelope)
    if (payload.length > MAX_PAYLOAD) throw new OverlanError('USAGE', 'the command is too large to forward')
    const answered = new Promise<Answer>(resolve => {
      const timer = setTimeout(() => { this.pending.delete(id); resolve({ ok: false, code: 'UNAVAILABLE', message: `hub ${to} did not answer within ${ANSWER_TIMEOUT_MS} ms` }) }, ANSWER_TIMEOUT_MS)
      this.pending.set(id, { resolve, timer })
    })
    await this.store.notify(ADMIN_CHANNEL, payload).catch((e: unknown) => {
      const p = this.pending.get(id)
      if (p !== undefined) { clearTimeout(p.timer); this.pending.delete(id); p.resolve({ ok: false, code: 'STORE_FAILED', message: (e as Error).message }) }
    })
    return await answered
  }

  /** A notification: a request for this hub (run it, answer) or the answer to one of ours. Anything else is ignored. */
  private onPayload (payload: string): void {
    let m: Envelope
    try { m = JSON.parse(payload) as Envelope } catch { return }
    if (typeof m !== 'object' || m === null || m.to !== this.hubId || typeof m.id !== 'string' || typeof m.from !== 'string') return
    if (m.answer !== undefined) {
      const p = this.pending.get(m.id)
      if (p === undefined) return
      clearTimeout(p.timer)
      this.pending.delete(m.id)
      p.resolve(m.answer)
      return
    }
    const req = m.req
    if (typeof req !== 'object' || req === null || typeof req.cmd !== 'string' || !ROOM_COMMANDS.has(req.cmd)) return
    void this.answer(m, req)
  }

  private async answer (m: Envelope, req: ControlRequest): Promise<void> {
    let answer: Answer
    try {
      // Ownership may have moved since the asker looked: only the owner's answer counts.
      if (typeof req.room !== 'string' || !this.owns(req.room)) throw new OverlanError('UNAVAILABLE', `hub ${this.hubId} no longer owns room ${String(req.room)}; try again`)
      answer = { ok: true, result: await this.run(req, `${typeof m.by === 'string' ? m.by.slice(0, 64) : 'admin'} via hub ${m.from.slice(0, 64)}`) }
    } catch (e) {
      answer = isOverlanError(e) ? { ok: false, code: e.code, message: e.message } : { ok: false, code: 'INTERNAL', message: String(e) }
    }
    let payload = JSON.stringify({ id: m.id, to: m.from, from: this.hubId, answer } satisfies Envelope)
    if (payload.length > MAX_PAYLOAD) payload = JSON.stringify({ id: m.id, to: m.from, from: this.hubId, answer: { ok: false, code: 'USAGE', message: 'the answer is too large to forward; run the command on the room\'s owner' } } satisfies Envelope)
    await this.store.notify(ADMIN_CHANNEL, payload).catch((e: unknown) => { this.log.warn('cluster.admin_answer_failed', { error: (e as Error).message }) })
  }
}
