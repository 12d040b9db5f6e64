/**
 * The cluster store against a real PostgreSQL 15 (started by the test as the postgres user):
 * migrations, the hub registry, room claims and their race, takeover of a dead hub's room
 * with the epoch bumped, lease constraints, and a database restart.
 */
import test from 'ava'
import pg from 'pg'
import { ClusterStore, OWNER_TIMEOUT_MS } from '../../hub/cluster/store.js'
import { SCHEMA_VERSION } from '../../hub/cluster/migrations.js'
import { TestPostgres, postgresUnavailable } from '../support/postgres.js'
import { skipWithReason } from '../support/skip.js'
import { waitFor } from '../support/wait.js'

const skip = postgresUnavailable()
const serial = skip === null ? test.serial : test.serial.skip
if (skip !== null) skipWithReason('cluster store tests', skip)

const db = new TestPostgres()
const stores: ClusterStore[] = []
const store = (): ClusterStore => { const s = new ClusterStore(db.url); stores.push(s); return s }

if (skip === null) {
  test.before(async () => { await db.start() })
  test.after.always(async () => { for (const s of stores) await s.close().catch(() => {}); await db.stop() })
}

/** Ages a hub's heartbeat as if it had stopped `ms` ago (the database's clock decides liveness). */
const age = async (hub: string, ms: number): Promise<void> => {
  const c = new pg.Client(db.url)
  await c.connect()
  await c.query("UPDATE overlan_hubs SET heartbeat = now() - make_interval(secs => $2::double precision / 1000) WHERE id = $1", [hub, ms])
  await c.end()
}

serial('migrations: applied once, in order, by hubs starting together; the schema version is recorded', async t => {
  const [a, b, c] = [store(), store(), store()]
  const applied = await Promise.all([a.open(), b.open(), c.open()])
  t.deepEqual(applied.flat().sort(), Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1), 'each version applied by exactly one hub')
  t.deepEqual(await a.open(), [], 'nothing left to apply')
})

serial('claims: the first hub owns a new room; others are sent to it; racing hubs, one wins', async t => {
  const [a, b] = [store(), store()]
  await a.heartbeat('hub-a', 'wss://a.example:443', 0)
  await b.heartbeat('hub-b', 'wss://b.example:443', 0)
  const first = await a.claim('friday', 'hub-a')
  t.like(first, { mine: true, epoch: 1 })
  t.deepEqual(await b.claim('friday', 'hub-b'), { mine: false, owner: 'hub-a', url: 'wss://a.example:443' })
  t.like(await a.claim('friday', 'hub-a'), { mine: true, epoch: 1 }, 'the owner again: same epoch')
  const race = await Promise.all([a.claim('saturday', 'hub-a'), b.claim('saturday', 'hub-b')])
  t.is(race.filter(r => r.mine).length, 1, JSON.stringify(race))
})

serial('placement: a new room goes to the least-loaded live hub (rooms, then peers), the asking hub on a tie', async t => {
  const [a, b, c] = [store(), store(), store()]
  await a.heartbeat('hub-a', 'wss://a.example:443', 10)
  await b.heartbeat('hub-b', 'wss://b.example:443', 2)
  await c.heartbeat('hub-c', 'wss://c.example:443', 2)
  // From the tests before: a owns friday and saturday or b does; count what each owns now.
  const rooms = async (h: string): Promise<number> => (await a.owned(h)).size
  const placed = await c.claim('room-1', 'hub-c')
  const owner = placed.mine ? 'hub-c' : placed.owner
  const counts = { a: await rooms('hub-a'), b: await rooms('hub-b'), c: await rooms('hub-c') }
  t.log(JSON.stringify({ owner, counts }))
  for (let i = 2; i <= 7; i++) await c.claim(`room-${i}`, 'hub-c')
  const after = [await rooms('hub-a'), await rooms('hub-b'), await rooms('hub-c')]
  t.true(Math.max(...after) - Math.min(...after) <= 1, `rooms spread evenly: ${after.join(' / ')}`)
  t.like(await b.claim('room-1', 'hub-b'), owner === 'hub-b' ? { mine: true } : { mine: false, owner }, 'the chosen hub finds the room its own')
})

serial('a hub silent for OWNER_TIMEOUT_MS loses its rooms: another claims them with a new epoch; the old owner can tell', async t => {
  const [a, b] = [store(), store()]
  await age('hub-c', OWNER_TIMEOUT_MS + 1000) // from the test before: only a and b are alive here
  await a.heartbeat('hub-a', 'wss://a.example:443', 0)
  await b.heartbeat('hub-b', 'wss://b.example:443', 5)
  t.like(await a.claim('sunday', 'hub-a'), { mine: true })
  const before = (await a.owned('hub-a')).get('sunday')!
  await age('hub-a', OWNER_TIMEOUT_MS + 1000)
  t.false((await b.hubs()).find(h => h.id === 'hub-a')!.alive)
  const taken = await b.claim('sunday', 'hub-b')
  t.like(taken, { mine: true, epoch: before + 1, previousOwner: 'hub-a' })
  t.false((await a.owned('hub-a')).has('sunday'), 'the old owner no longer owns it (its fencing check)')
  await a.heartbeat('hub-a', 'wss://a.example:443', 0)
  t.like(await a.claim('sunday', 'hub-a'), { mine: false, owner: 'hub-b' }, 'back alive, it is sent to the new owner')
})

serial('leases: no MAC or IP is leased to two identities of a room (the database refuses), in another room they may repeat', async t => {
  const s = store()
  await s.putLease('friday', { identity: 'aa', mac: '02:00:00:00:00:01', ip: '10.77.0.1', name: 'alice' })
  await s.putLease('friday', { identity: 'aa', mac: '02:00:00:00:00:01', ip: '10.77.0.1', name: 'alice-2' })
  const e = await t.throwsAsync(s.putLease('friday', { identity: 'bb', mac: '02:00:00:00:00:02', ip: '10.77.0.1', name: 'bob' }))
  t.regex(String(e), /ADDRESS_UNAVAILABLE/)
  await t.throwsAsync(s.putLease('friday', { identity: 'bb', mac: '02:00:00:00:00:01', ip: '10.77.0.2', name: 'bob' }))
  await s.putLease('saturday', { identity: 'bb', mac: '02:00:00:00:00:01', ip: '10.77.0.1', name: 'bob' })
  t.deepEqual((await s.leases('friday')).map(l => [l.identity, l.ip, l.name]), [['aa', '10.77.0.1', 'alice-2']])
  await s.releaseLease('friday', 'aa')
  t.deepEqual(await s.leases('friday'), [])
})

serial('the database restarts: calls fail with STORE_FAILED meanwhile, and work again after, on the same store', async t => {
  const s = store()
  await s.heartbeat('hub-r', 'wss://r.example:443', 0)
  await db.down()
  const e = await t.throwsAsync(s.heartbeat('hub-r', 'wss://r.example:443', 0))
  t.regex(String(e), /STORE_FAILED/)
  await db.up()
  await s.heartbeat('hub-r', 'wss://r.example:443', 1)
  t.is((await s.hubs()).find(h => h.id === 'hub-r')?.load, 1)
})

serial('a ban in a room no hub holds: key from the shared enrolment, enrolment and lease gone, in one transaction; notifications reach listeners', async t => {
  const s = store()
  await s.memberChange('offline-room', { kind: 'enroll', identity: 'id-zed', key: 'k'.repeat(43), name: 'zed', via: 'token' })
  await s.putLease('offline-room', { identity: 'id-zed', mac: '02:00:00:00:00:99', ip: '10.77.0.99', name: 'zed' })
  t.deepEqual(await s.banOffline('offline-room', 'zed'), { key: 'k'.repeat(43) })
  t.deepEqual(await s.bans('offline-room'), [{ key: 'k'.repeat(43), name: 'zed' }])
  t.deepEqual(await s.members('offline-room'), [])
  t.deepEqual(await s.leases('offline-room'), [])
  t.is(await s.banOffline('offline-room', 'nobody'), null)
  const got: string[] = []
  let up = false
  const l = s.listen('overlan_test', (p) => { got.push(p) }, (u) => { up = u })
  try {
    await waitFor('listening', () => up, 10_000)
    await s.notify('overlan_test', 'hello')
    await waitFor('the notification', () => got.includes('hello'), 5000)
  } finally { await l.close() }
  t.pass()
})
