/**
 * The cluster's shared state in PostgreSQL (`hub --store postgres://…`, client `pg`): the hub
 * registry, room ownership with a fencing epoch, and leases. Every rule that must hold across
 * hubs is the database's: ownership changes in one transaction under a row lock, leases are
 * UNIQUE per room. Nothing here runs on the data path.
 *
 * Ownership: a room belongs to the hub in overlan_rooms.owner while that hub heartbeats
 * (within OWNER_TIMEOUT_MS). Any hub may claim a room whose owner is gone, bumping the epoch.
 * A hub holds its rooms only as long as its own last successful heartbeat is recent
 * (hub/cluster/cluster.ts), so a paused hub stops switching before another may claim.
 */
import pg from 'pg'
import { OverlanError } from '../../core/errors.js'
import { migrate } from './migrations.js'
import type { MemberChange, SharedInvites } from '../members.js'

/** A hub that has not heartbeated for this long has lost its rooms. */
export const OWNER_TIMEOUT_MS = 12_000

/** SQL: hub row `h` heartbeated within OWNER_TIMEOUT_MS (passed as parameter `$n`, in ms); the database's clock decides. */
const alive = (n: number): string => `h.heartbeat > now() - make_interval(secs => $${n}::double precision / 1000)`

export interface HubRecord { id: string, url: string, load: number, heartbeatAgeMs: number, alive: boolean }
export type Claim =
  | { mine: true, epoch: number, previousOwner: string | null }
  | { mine: false, owner: string, url: string }
export interface StoredLease { identity: string, mac: string, ip: string, name: string }

export class ClusterStore {
  private readonly pool: pg.Pool

  constructor (private readonly url: string) {
    // Short timeouts: joins wait on the store and must fail fast and clearly when it is down.
    this.pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 3000, idleTimeoutMillis: 10_000, statement_timeout: 5000, query_timeout: 6000 })
    this.pool.on('error', () => {}) // an idle client's error (the server restarted): the next query reconnects
  }

  /** Connects and applies the schema's missing migrations; returns the versions applied. */
  async open (): Promise<number[]> {
    const c = await this.connect()
    try { return await migrate(c) } finally { c.release() }
  }

  async close (): Promise<void> { await this.pool.end() }

  /** Registers or refreshes this hub (its URL and load); the database's clock decides age. */
  async heartbeat (id: string, url: string, load: number): Promise<void> {
    await this.query('INSERT INTO overlan_hubs (id, url, load) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET url = $2, load = $3, heartbeat = now()', [id, url, load])
  }

  async hubs (): Promise<HubRecord[]> {
    const r = await this.query<{ id: string, url: string, load: number, age: number }>('SELECT id, url, load, extract(epoch FROM now() - heartbeat) * 1000 AS age FROM overlan_hubs ORDER BY id')
    return r.rows.map(h => ({ id: h.id, url: h.url, load: h.load, heartbeatAgeMs: Math.round(Number(h.age)), alive: Number(h.age) < OWNER_TIMEOUT_MS }))
  }

  /**
   * Who switches `room`: the live owner if it has one; else the room is placed now, on the
   * least-loaded live hub (fewest rooms — current in this very transaction — then fewest
   * peers as of the last heartbeat; this hub on a tie), its epoch bumped. One transaction
   * with the room's row locked: hubs placing a room at once serialise and agree, so no two
   * hubs can send a peer back and forth. Least-loaded rather than rendezvous hashing: a
   * dead hub's rooms then spread over the others instead of piling onto its successor.
   */
  async claim (room: string, hub: string): Promise<Claim> {
    const c = await this.connect()
    try {
      await c.query('BEGIN')
      await c.query('INSERT INTO overlan_rooms (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [room])
      const r = await c.query<{ owner: string | null, epoch: string, url: string | null, alive: boolean | null }>(
        `SELECT r.owner, r.epoch, h.url, ${alive(2)} AS alive
           FROM overlan_rooms r LEFT JOIN overlan_hubs h ON h.id = r.owner WHERE r.name = $1 FOR UPDATE OF r`, [room, OWNER_TIMEOUT_MS])
      const row = r.rows[0]!
      if (row.owner === hub) { await c.query('COMMIT'); return { mine: true, epoch: Number(row.epoch), previousOwner: hub } }
      if (row.owner !== null && row.alive === true) { await c.query('COMMIT'); return { mine: false, owner: row.owner, url: row.url ?? '' } }
      const pick = await c.query<{ id: string, url: string }>(
        `SELECT h.id, h.url FROM overlan_hubs h
          WHERE ${alive(2)} OR h.id = $1
          ORDER BY (SELECT count(*) FROM overlan_rooms o WHERE o.owner = h.id), h.load, h.id <> $1, h.id LIMIT 1`, [hub, OWNER_TIMEOUT_MS])
      const to = pick.rows[0] ?? { id: hub, url: '' }
      const u = await c.query<{ epoch: string }>('UPDATE overlan_rooms SET owner = $2, epoch = epoch + 1, claimed = now() WHERE name = $1 RETURNING epoch', [room, to.id])
      await c.query('COMMIT')
      return to.id === hub ? { mine: true, epoch: Number(u.rows[0]!.epoch), previousOwner: row.owner } : { mine: false, owner: to.id, url: to.url }
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {})
      throw storeError(e)
    } finally {
      c.release()
    }
  }

  /** The live owner of `room` and its URL, or null (none, or not heartbeating). */
  async ownerOf (room: string): Promise<{ owner: string, url: string } | null> {
    const r = await this.query<{ owner: string, url: string }>(
      `SELECT r.owner, h.url FROM overlan_rooms r JOIN overlan_hubs h ON h.id = r.owner
        WHERE r.name = $1 AND ${alive(2)}`, [room, OWNER_TIMEOUT_MS])
    return r.rows[0] ?? null
  }

  /** The rooms the database says this hub owns, with their epochs (the fencing check). */
  async owned (hub: string): Promise<Map<string, number>> {
    const r = await this.query<{ name: string, epoch: string }>('SELECT name, epoch FROM overlan_rooms WHERE owner = $1', [hub])
    return new Map(r.rows.map(x => [x.name, Number(x.epoch)]))
  }

  /** Gives a room up (a hub that stops cleanly): another may claim it at once. */
  async release (room: string, hub: string): Promise<void> {
    await this.query('UPDATE overlan_rooms SET owner = NULL WHERE name = $1 AND owner = $2', [room, hub])
  }

  /** Removes this hub from the registry (clean stop); its rooms are free at once. */
  async leave (hub: string): Promise<void> {
    await this.query('DELETE FROM overlan_hubs WHERE id = $1', [hub])
  }

  async leases (room: string): Promise<StoredLease[]> {
    const r = await this.query<StoredLease>('SELECT identity, mac, ip, name FROM overlan_leases WHERE room = $1', [room])
    return r.rows
  }

  /**
   * Records a lease. The constraints refuse a MAC or IP another identity of the room holds
   * (ADDRESS_UNAVAILABLE), whatever the caller computed.
   */
  async putLease (room: string, l: StoredLease): Promise<void> {
    try {
      await this.pool.query(`INSERT INTO overlan_leases (room, identity, mac, ip, name) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (room, identity) DO UPDATE SET mac = $3, ip = $4, name = $5, last_seen = now()`, [room, l.identity, l.mac, l.ip, l.name])
    } catch (e) {
      // 23505 unique_violation: (room, mac) or (room, ip) belongs to another identity.
      if ((e as { code?: string }).code === '23505') throw new OverlanError('ADDRESS_UNAVAILABLE', `${l.ip} or ${l.mac} is leased to another member of room ${room}`)
      throw storeError(e)
    }
  }

  async members (room: string): Promise<Array<{ identity: string, key: string, name: string, via: string }>> {
    return (await this.query<{ identity: string, key: string, name: string, via: string }>('SELECT identity, key, name, via FROM overlan_members WHERE room = $1', [room])).rows
  }

  async bans (room: string): Promise<Array<{ key: string, name: string }>> {
    return (await this.query<{ key: string, name: string }>('SELECT key, name FROM overlan_bans WHERE room = $1', [room])).rows
  }

  /** Applies one change of a hub's member store (write-through). */
  async memberChange (room: string, c: MemberChange): Promise<void> {
    if (c.kind === 'enroll') await this.query('INSERT INTO overlan_members (room, identity, key, name, via) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room, identity) DO UPDATE SET key = $3, name = $4', [room, c.identity, c.key, c.name, c.via])
    else if (c.kind === 'unenroll') await this.query('DELETE FROM overlan_members WHERE room = $1 AND identity = $2', [room, c.identity])
    else if (c.kind === 'ban') await this.query('INSERT INTO overlan_bans (room, key, name) VALUES ($1, $2, $3) ON CONFLICT (room, key) DO NOTHING', [room, c.key, c.name])
    else await this.query('DELETE FROM overlan_bans WHERE room = $1 AND key = $2', [room, c.key])
  }

  /**
   * Publishes a configured room's settings (hub/cluster/room-settings.ts) as this hub's config
   * has them. 'same': the store already had exactly these; 'replaced': it had others (from
   * another hub's config), which these now replace.
   */
  async publishRoomSettings (room: string, settings: Record<string, unknown>, hub: string): Promise<'inserted' | 'replaced' | 'same'> {
    const r = await this.query<{ before: unknown }>(
      `WITH old AS (SELECT settings FROM overlan_room_settings WHERE room = $1)
       INSERT INTO overlan_room_settings (room, settings, hub) VALUES ($1, $2, $3)
       ON CONFLICT (room) DO UPDATE SET settings = $2, hub = $3, updated = now()
         WHERE overlan_room_settings.settings IS DISTINCT FROM $2
       RETURNING (SELECT settings FROM old) AS before`, [room, JSON.stringify(settings), hub])
    if (r.rowCount === 0) return 'same'
    return r.rows[0]!.before === null ? 'inserted' : 'replaced'
  }

  /** A configured room's stored settings (as published), or null for a room without any (auto-created). */
  async roomSettings (room: string): Promise<{ settings: unknown, hub: string } | null> {
    return (await this.query<{ settings: unknown, hub: string }>('SELECT settings, hub FROM overlan_room_settings WHERE room = $1', [room])).rows[0] ?? null
  }

  /** Invites (the hub's SharedInvites): the secret's scrypt hash only, as in members.json. */
  readonly invites: SharedInvites = {
    put: async (inv) => {
      await this.query('INSERT INTO overlan_invites (id, room, name, hash, uses_left, expires) VALUES ($1, $2, $3, $4, $5, to_timestamp($6::double precision / 1000)) ON CONFLICT (id) DO NOTHING',
        [inv.id, inv.room, inv.name, inv.hash, inv.usesLeft, inv.expiresAt])
    },
    remove: async (id) => { await this.query('DELETE FROM overlan_invites WHERE id = $1', [id]) },
    fetch: async (room, id) => {
      const r = await this.query<{ name: string | null, hash: string, uses_left: number, expires: Date, created: Date }>(
        'SELECT name, hash, uses_left, expires, created FROM overlan_invites WHERE id = $1 AND room = $2 AND uses_left > 0 AND expires > now()', [id, room])
      const x = r.rows[0]
      return x === undefined ? null : { id, room, name: x.name, hash: x.hash, usesLeft: x.uses_left, expiresAt: x.expires.getTime(), createdAt: x.created.getTime() }
    },
    spend: async (id) => (await this.query('UPDATE overlan_invites SET uses_left = uses_left - 1 WHERE id = $1 AND uses_left > 0 AND expires > now() RETURNING uses_left', [id])).rowCount === 1,
    giveBack: async (id) => { await this.query('UPDATE overlan_invites SET uses_left = uses_left + 1 WHERE id = $1', [id]) }
  }

  /**
   * Bans a member of a room no hub holds (nobody is online in it): its key from the shared
   * enrolments, in one transaction with the enrolment and lease removed. Null: no such member.
   */
  async banOffline (room: string, name: string): Promise<{ key: string } | null> {
    const c = await this.connect()
    try {
      await c.query('BEGIN')
      const m = (await c.query<{ identity: string, key: string }>('SELECT identity, key FROM overlan_members WHERE room = $1 AND name = $2 FOR UPDATE', [room, name])).rows[0]
      if (m === undefined) { await c.query('ROLLBACK'); return null }
      await c.query('INSERT INTO overlan_bans (room, key, name) VALUES ($1, $2, $3) ON CONFLICT (room, key) DO NOTHING', [room, m.key, name])
      await c.query('DELETE FROM overlan_members WHERE room = $1 AND identity = $2', [room, m.identity])
      await c.query('DELETE FROM overlan_leases WHERE room = $1 AND identity = $2', [room, m.identity])
      await c.query('COMMIT')
      return { key: m.key }
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {})
      throw storeError(e)
    } finally { c.release() }
  }

  /** A notification to every hub listening on `channel` (PostgreSQL NOTIFY; payloads under 8000 bytes). */
  async notify (channel: string, payload: string): Promise<void> {
    await this.query('SELECT pg_notify($1, $2)', [channel, payload])
  }

  /**
   * LISTENs on `channel` on a connection of its own, reconnecting every second while the
   * server is away (notifications sent meanwhile are lost: their senders time out).
   */
  listen (channel: string, onPayload: (payload: string) => void, onState: (up: boolean, error?: string) => void): { close: () => Promise<void> } {
    let client: pg.Client | null = null
    let closed = false
    let retry: NodeJS.Timeout | null = null
    const open = async (): Promise<void> => {
      const c = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 3000 })
      client = c
      const lost = (e?: Error): void => {
        if (client !== c) return
        client = null
        c.removeAllListeners('notification')
        void c.end().catch(() => {})
        onState(false, e?.message ?? 'connection ended')
        if (!closed) { retry = setTimeout(() => { retry = null; void open() }, 1000); retry.unref() }
      }
      c.on('error', lost)
      c.on('end', () => { lost() })
      c.on('notification', (n) => { if (n.channel === channel && n.payload !== undefined) onPayload(n.payload) })
      try {
        await c.connect()
        await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`)
        if (closed) { await c.end(); return }
        onState(true)
      } catch (e) { lost(e as Error) }
    }
    void open()
    return {
      close: async () => {
        closed = true
        if (retry !== null) clearTimeout(retry)
        const c = client
        client = null
        await c?.end().catch(() => {})
      }
    }
  }

  async releaseLease (room: string, identity: string): Promise<void> {
    await this.query('DELETE FROM overlan_leases WHERE room = $1 AND identity = $2', [room, identity])
  }

  private async connect (): Promise<pg.PoolClient> {
    try { return await this.pool.connect() } catch (e) { throw storeError(e) }
  }

  private async query<R extends pg.QueryResultRow> (text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    try { return await this.pool.query<R>(text, values) } catch (e) { throw storeError(e) }
  }
}

/** Errors of the store as STORE_FAILED with the server's words (refusals pass through). */
const storeError = (e: unknown): Error => {
  if (e instanceof OverlanError) return e
  const m = e instanceof Error ? e.message : String(e)
  return new OverlanError('STORE_FAILED', `the cluster store (PostgreSQL) failed: ${m}`, { cause: e })
}
