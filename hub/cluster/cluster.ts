/**
 * This hub as a member of a cluster (`hub --store postgres://…`): it heartbeats into the
 * registry, claims the rooms it is asked for (or names their owner, for a redirect), loads a
 * claimed room's leases from the store and writes new ones through, and notices when a room
 * was taken from it.
 *
 * Fencing: a room may be switched only until `fenceOf(room)`, which every successful
 * heartbeat pushes to (its start + OWNER_TIMEOUT_MS - FENCE_MARGIN_MS). Another hub can claim
 * only after OWNER_TIMEOUT_MS without a heartbeat, so a hub that was paused (SIGSTOP) or cut
 * off from the database stops switching before anyone else may start: two hubs never switch
 * one room at the same time. The data path reads one number; it never waits on the database.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '../../core/log.js'
import { ClusterStore, OWNER_TIMEOUT_MS, type HubRecord, type StoredLease } from './store.js'
import { decodeRoomSettings, encodeRoomSettings } from './room-settings.js'
import type { RoomSettings } from '../config.js'

export const HEARTBEAT_MS = 2000
/** How long before the database would free a room this hub stops switching it. */
export const FENCE_MARGIN_MS = 3000

/** A new claim carries the room's shared state to load: leases, enrolled keys, bans, and a configured room's settings. */
export interface RoomState { leases: StoredLease[], members: Array<{ identity: string, key: string, name: string, via: string }>, bans: Array<{ key: string, name: string }>, settings: RoomSettings | null }
export type Placement = { mine: true, epoch: number, state: RoomState | null } | { mine: false, url: string }

export interface ClusterEvents {
  /** The room was claimed by another hub (its URL, when known): drop its peers. */
  lost: (room: string, ownerUrl: string | null) => void
  /** Peers connected now (the registry's load, used for placement). */
  load: () => number
}

export class Cluster {
  readonly store: ClusterStore
  readonly hubId: string
  /** Rooms this hub owns: epoch and the time (ms, monotonic clock) it may switch them until. */
  private readonly owned = new Map<string, { epoch: number, fence: number }>()
  private timer: NodeJS.Timeout | null = null
  private beating = false
  private stopped = false
  /** The registry as of the last heartbeat (for /status). */
  hubs: HubRecord[] = []
  lastError: string | null = null
  private failing = false

  constructor (url: string, stateDir: string, hubId: string | undefined, private readonly publicUrl: string, private readonly log: Logger, private readonly events: ClusterEvents, private readonly now: () => number = () => performance.now()) {
    this.store = new ClusterStore(url)
    this.hubId = hubId ?? persistentId(stateDir)
  }

  /** Migrates, registers, starts heartbeating. Throws STORE_FAILED when the store is unreachable at start. */
  async start (): Promise<void> {
    const applied = await this.store.open()
    if (applied.length > 0) this.log.info('cluster.migrated', { versions: applied.join(',') })
    await this.beat()
    this.timer = setInterval(() => { void this.beat() }, HEARTBEAT_MS)
    this.timer.unref()
    this.log.info('cluster.joined', { hub: this.hubId, url: this.publicUrl })
  }

  /** May this hub switch `room` now? (the data path's check: one map lookup and a compare). */
  fenceOf (room: string): number { return this.owned.get(room)?.fence ?? -Infinity }

  /** Owner of `room` already and within its fence: no database round trip for a join. */
  ownsNow (room: string): boolean { return this.fenceOf(room) > this.now() }

  /**
   * Where a hello for `room` is served: here (claimed now, with the room's leases to load when
   * this claim is new) or at the owner's URL.
   */
  async place (room: string): Promise<Placement> {
    if (this.ownsNow(room)) return { mine: true, epoch: this.owned.get(room)!.epoch, state: null }
    const started = this.now()
    const c = await this.store.claim(room, this.hubId)
    if (!c.mine) return { mine: false, url: c.url }
    const had = this.owned.get(room)
    this.owned.set(room, { epoch: c.epoch, fence: started + OWNER_TIMEOUT_MS - FENCE_MARGIN_MS })
    if (had?.epoch === c.epoch) return { mine: true, epoch: c.epoch, state: null }
    if (c.previousOwner !== null && c.previousOwner !== this.hubId) this.log.warn('cluster.room_taken_over', { room, from: c.previousOwner, epoch: c.epoch })
    else this.log.info('cluster.room_claimed', { room, epoch: c.epoch })
    const [leases, members, bans, stored] = await Promise.all([this.store.leases(room), this.store.members(room), this.store.bans(room), this.store.roomSettings(room)])
    let settings: RoomSettings | null = null
    if (stored !== null) {
      const d = decodeRoomSettings(room, stored.settings)
      if (typeof d === 'string') this.log.error('cluster.room_settings_invalid', { room, from: stored.hub, error: d })
      else settings = d
    }
    return { mine: true, epoch: c.epoch, state: { leases, members, bans, settings } }
  }

  /**
   * Publishes the rooms of this hub's config to the store, so any hub that claims one runs it
   * as configured; the hub that starts last with a room in its config decides its settings.
   */
  async publishRooms (rooms: Iterable<RoomSettings>): Promise<void> {
    for (const r of rooms) {
      const how = await this.store.publishRoomSettings(r.name, encodeRoomSettings(r), this.hubId)
      if (how === 'replaced') this.log.warn('cluster.room_settings_replaced', { room: r.name, why: 'the store had other settings for this room (another hub\'s config): this hub\'s now apply wherever the room is claimed next' })
      else if (how === 'inserted') this.log.info('cluster.room_settings_published', { room: r.name })
    }
  }

  async putLease (room: string, l: StoredLease): Promise<void> { await this.store.putLease(room, l) }
  async releaseLease (room: string, identity: string): Promise<void> { await this.store.releaseLease(room, identity) }

  /** A room this hub no longer serves (emptied and expired): free for others at once. */
  async giveUp (room: string): Promise<void> {
    this.owned.delete(room)
    await this.store.release(room, this.hubId).catch(() => {})
  }

  status (): { hub: string, url: string, owned: Array<{ room: string, epoch: number, fenceMs: number }>, hubs: HubRecord[], lastError: string | null } {
    const now = this.now()
    return {
      hub: this.hubId,
      url: this.publicUrl,
      owned: [...this.owned].map(([room, o]) => ({ room, epoch: o.epoch, fenceMs: Math.max(0, Math.round(o.fence - now)) })),
      hubs: this.hubs,
      lastError: this.lastError
    }
  }

  /** Clean stop: the rooms and the registry entry go, so other hubs take over at once. */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.timer !== null) clearInterval(this.timer)
    for (const room of this.owned.keys()) await this.store.release(room, this.hubId).catch(() => {})
    await this.store.leave(this.hubId).catch(() => {})
    this.owned.clear()
    await this.store.close().catch(() => {})
  }

  /** Heartbeat, then the fencing check: rooms the store no longer gives this hub are lost. */
  private async beat (): Promise<void> {
    if (this.beating || this.stopped) return
    this.beating = true
    const started = this.now()
    try {
      await this.store.heartbeat(this.hubId, this.publicUrl, this.events.load())
      const owned = await this.store.owned(this.hubId)
      this.hubs = await this.store.hubs()
      if (this.stopped) return
      for (const [room, o] of [...this.owned]) {
        if (owned.get(room) === o.epoch) { o.fence = started + OWNER_TIMEOUT_MS - FENCE_MARGIN_MS; continue }
        this.owned.delete(room)
        const owner = await this.store.ownerOf(room).catch(() => null)
        this.log.warn('cluster.room_lost', { room, epoch: o.epoch, to: owner?.owner })
        this.events.lost(room, owner?.url ?? null)
      }
      if (this.failing) this.log.info('cluster.store_back', {})
      this.failing = false
      this.lastError = null
    } catch (e) {
      this.lastError = (e as Error).message
      // Switching goes on until the fences run out; joins of new rooms wait for the store.
      if (!this.failing) this.log.error('cluster.store_unreachable', { error: this.lastError, switchingForMs: OWNER_TIMEOUT_MS - FENCE_MARGIN_MS })
      this.failing = true
    } finally {
      this.beating = false
    }
  }
}

/** A hub id made once and kept in the state directory. */
const persistentId = (stateDir: string): string => {
  const file = join(stateDir, 'hub-id')
  if (existsSync(file)) {
    const id = readFileSync(file, 'utf8').trim()
    if (/^[A-Za-z0-9._-]{1,64}$/.test(id)) return id
  }
  mkdirSync(stateDir, { recursive: true })
  const id = `hub-${randomBytes(6).toString('hex')}`
  writeFileSync(file, `${id}\n`, { mode: 0o600 })
  return id
}
