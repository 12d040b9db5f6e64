/**
 * The cluster's schema in PostgreSQL, as numbered migrations the hub applies at start (each
 * once, in order, in one transaction under an advisory lock, so hubs starting together do not
 * race). A hub refuses a database whose schema is newer than it knows.
 *
 *   overlan_schema  version applied
 *   overlan_hubs    the registry: id, public URL, load (peers), last heartbeat
 *   overlan_rooms   placement: which hub owns a room, and the fencing epoch (bumped by every
 *                   claim, so a hub that lost a room can tell)
 *   overlan_leases  (room, identity) -> MAC and IP; UNIQUE (room, mac) and (room, ip): no
 *                   address is ever leased to two identities of a room, whatever a hub does
 *   overlan_members (room, identity) -> enrolled key (v2); overlan_bans (room, key) (v2)
 *   overlan_invites  invites by id: scrypt hash, uses left, expiry (v3)
 *   overlan_room_settings  a configured room's settings in hub.yaml's shape, as the hub that
 *                   started last with that room in its config published them (v4)
 */
import type { PoolClient } from 'pg'
import { OverlanError } from '../../core/errors.js'

export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE overlan_hubs (
     id text PRIMARY KEY,
     url text NOT NULL,
     load integer NOT NULL DEFAULT 0,
     started timestamptz NOT NULL DEFAULT now(),
     heartbeat timestamptz NOT NULL DEFAULT now()
   );
   CREATE TABLE overlan_rooms (
     name text PRIMARY KEY,
     owner text REFERENCES overlan_hubs (id) ON DELETE SET NULL,
     epoch bigint NOT NULL DEFAULT 0,
     claimed timestamptz
   );
   CREATE TABLE overlan_leases (
     room text NOT NULL,
     identity text NOT NULL,
     mac text NOT NULL,
     ip text NOT NULL,
     name text NOT NULL DEFAULT '',
     last_seen timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (room, identity),
     UNIQUE (room, mac),
     UNIQUE (room, ip)
   );`,
  // 2: enrolled keys and bans, so a room's members join by key on whichever hub owns it.
  `CREATE TABLE overlan_members (
     room text NOT NULL,
     identity text NOT NULL,
     key text NOT NULL,
     name text NOT NULL DEFAULT '',
     via text NOT NULL DEFAULT 'token',
     enrolled timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (room, identity)
   );
   CREATE TABLE overlan_bans (
     room text NOT NULL,
     key text NOT NULL,
     name text NOT NULL DEFAULT '',
     at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (room, key)
   );`,
  // 3: invites, spent with one UPDATE so a use is taken once whichever hub checks it.
  `CREATE TABLE overlan_invites (
     id text PRIMARY KEY,
     room text NOT NULL,
     name text,
     hash text NOT NULL,
     uses_left integer NOT NULL,
     expires timestamptz NOT NULL,
     created timestamptz NOT NULL DEFAULT now()
   );`,
  // 4: configured rooms' settings, so whichever hub claims a room runs it as configured.
  `CREATE TABLE overlan_room_settings (
     room text PRIMARY KEY,
     settings jsonb NOT NULL,
     hub text NOT NULL,
     updated timestamptz NOT NULL DEFAULT now()
   );`
]

export const SCHEMA_VERSION = MIGRATIONS.length

/** Applies what is missing; returns the versions applied now. */
export const migrate = async (c: PoolClient): Promise<number[]> => {
  await c.query('BEGIN')
  try {
    await c.query("SELECT pg_advisory_xact_lock(hashtext('overlan.migrate'))")
    await c.query('CREATE TABLE IF NOT EXISTS overlan_schema (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())')
    const r = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM overlan_schema')
    const have = r.rows[0]?.v ?? 0
    if (have > SCHEMA_VERSION) throw new OverlanError('STORE_FAILED', `the database's schema is version ${have}, newer than this hub's ${SCHEMA_VERSION}: upgrade the hub`)
    const applied: number[] = []
    for (let v = have + 1; v <= SCHEMA_VERSION; v++) {
      await c.query(MIGRATIONS[v - 1]!)
      await c.query('INSERT INTO overlan_schema (version) VALUES ($1)', [v])
      applied.push(v)
    }
    await c.query('COMMIT')
    return applied
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {})
    throw e
  }
}
