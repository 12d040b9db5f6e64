import test from 'ava'
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { OverlanError } from '../core/errors.js'
import { parseCidr } from '../core/ipv4.js'
import { LeaseStore, type LeaseRequest } from './leases.js'

const subnet = parseCidr('10.77.0.0/29')! // hosts .1 .. .6
const req = (identity: string, extra: Partial<LeaseRequest> = {}): LeaseRequest =>
  ({ room: 'friday', subnet, identity, name: identity.slice(0, 4), now: 1, isConnected: () => true, ...extra })
const id = (n: number): string => n.toString(16).padStart(32, '0')

test('first free address, stable MAC, same lease on every join', t => {
  const s = new LeaseStore(null)
  const a = s.acquire(req(id(1)))
  const b = s.acquire(req(id(2)))
  t.is(a.ip, '10.77.0.1')
  t.is(b.ip, '10.77.0.2')
  t.regex(a.mac, /^02(:[0-9a-f]{2}){5}$/)
  t.not(a.mac, b.mac)
  t.deepEqual(s.acquire(req(id(1), { now: 5 })), { ...a, lastSeen: 5 })
})

test('the same identity gets different leases in different rooms', t => {
  const s = new LeaseStore(null)
  const a = s.acquire(req(id(1)))
  const other = s.acquire(req(id(1), { room: 'saturday' }))
  t.not(a.mac, other.mac)
  t.is(other.ip, '10.77.0.1', 'rooms have separate address spaces')
})

test('a requested address is granted if free, refused if leased or outside the subnet', t => {
  const s = new LeaseStore(null)
  t.is(s.acquire(req(id(1), { address: '10.77.0.5' })).ip, '10.77.0.5')
  const e = t.throws(() => s.acquire(req(id(2), { address: '10.77.0.5' })), { instanceOf: OverlanError })
  t.is(e?.code, 'ADDRESS_UNAVAILABLE')
  for (const bad of ['10.77.0.0', '10.77.0.7', '10.78.0.1']) {
    t.is(t.throws(() => s.acquire(req(id(2), { address: bad })), { instanceOf: OverlanError })?.code, 'ADDRESS_UNAVAILABLE', bad)
  }
  t.is(s.acquire(req(id(1), { address: '10.77.0.6' })).ip, '10.77.0.6', 'a peer may move its own lease')
  t.is(s.acquire(req(id(2))).ip, '10.77.0.1')
})

test('a full subnet reclaims the oldest lease of a disconnected peer, else refuses', t => {
  const s = new LeaseStore(null)
  for (let i = 1; i <= 6; i++) s.acquire(req(id(i), { now: i }))
  const e = t.throws(() => s.acquire(req(id(7))), { instanceOf: OverlanError })
  t.is(e?.code, 'SUBNET_EXHAUSTED')
  const offline = new Set([id(3), id(5)])
  const l = s.acquire(req(id(7), { isConnected: x => !offline.has(x) }))
  t.is(l.ip, '10.77.0.3')
  t.is(s.get('friday', id(3)), undefined)
})

test('a lease hint is honoured when this hub has no lease and it is free', t => {
  const s = new LeaseStore(null)
  s.acquire(req(id(1)))
  const l = s.acquire(req(id(2), { hint: { mac: '02:12:34:56:78:9a', ip: '10.77.0.4' } }))
  t.deepEqual([l.ip, l.mac], ['10.77.0.4', '02:12:34:56:78:9a'])
  const taken = s.acquire(req(id(3), { hint: { mac: '02:12:34:56:78:9a', ip: '10.77.0.4' } }))
  t.not(taken.ip, '10.77.0.4')
  t.not(taken.mac, '02:12:34:56:78:9a')
  const groupMac = s.acquire(req(id(4), { hint: { mac: '03:00:00:00:00:01', ip: '10.77.0.6' } }))
  t.is(groupMac.ip, '10.77.0.6')
  t.not(groupMac.mac, '03:00:00:00:00:01', 'a multicast MAC is never leased')
})

test('leases survive a restart through the state file; a corrupt file is a clear error', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'overlan-leases-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const first = new LeaseStore(dir)
  const a = first.acquire(req(id(1), { address: '10.77.0.4' }))
  await first.flush()
  const again = new LeaseStore(dir).acquire(req(id(1), { now: 9 }))
  t.deepEqual([again.ip, again.mac], [a.ip, a.mac])
  t.is(JSON.parse(readFileSync(join(dir, 'leases.json'), 'utf8')).version, 1)
  writeFileSync(join(dir, 'leases.json'), '{"version":1,"rooms":{"r":{"x":{"mac":"zz","ip":"1.2.3.4"}}}}')
  t.is(t.throws(() => new LeaseStore(dir), { instanceOf: OverlanError })?.code, 'STATE_IO')
  writeFileSync(join(dir, 'leases.json'), '{not json')
  t.regex(t.throws(() => new LeaseStore(dir), { instanceOf: OverlanError })?.message ?? '', /not valid JSON/)
})

test('a hint with another identity\'s MAC in upper case (or any other spelling) never takes it', t => {
  const s = new LeaseStore(null)
  const victim = s.acquire(req(id(1)))
  const hint = { mac: victim.mac.toUpperCase(), ip: '10.77.0.5' }
  const attacker = s.acquire(req(id(2), { hint }))
  t.not(attacker.mac, victim.mac)
  t.is(attacker.ip, '10.77.0.5', 'a free hinted address is still honoured')
  const own = s.acquire(req(id(3), { hint: { mac: '02:AB:CD:EF:00:01', ip: '10.77.0.6' } }))
  t.is(own.mac, '02:ab:cd:ef:00:01', 'stored in canonical form')
})

test('a bad state file is a clear STATE_IO at start: null entries, duplicate MACs, an unwritable directory', t => {
  const dir = mkdtempSync(join(tmpdir(), 'overlan-leases-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  for (const [what, rooms] of [
    ['null entry', { r: { x: null } }],
    ['null room', { r: null }],
    ['duplicate MAC', { r: { x: { mac: '02:00:00:00:00:01', ip: '10.77.0.1' }, y: { mac: '02:00:00:00:00:01', ip: '10.77.0.2' } } }]
  ] as const) {
    writeFileSync(join(dir, 'leases.json'), JSON.stringify({ version: 1, rooms }))
    const e = t.throws(() => new LeaseStore(dir), { instanceOf: OverlanError }, what)
    t.is(e?.code, 'STATE_IO', what)
  }
  // /proc/self exists but no file can be created in it, not even by root.
  t.is(t.throws(() => new LeaseStore('/proc/self'), { instanceOf: OverlanError })?.code, 'STATE_IO')
})

test('temp files of a crashed run are removed at start; many joins make few writes', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'overlan-leases-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  writeFileSync(join(dir, '.leases.json.12345.tmp'), 'half a file')
  const s = new LeaseStore(dir)
  t.false(existsSync(join(dir, '.leases.json.12345.tmp')))
  for (let i = 1; i <= 6; i++) s.acquire(req(id(i)))
  for (let i = 1; i <= 6; i++) s.acquire(req(id(i), { now: 2 }))
  t.is(s.writes, 0, 'nothing written on the join path')
  await s.flush()
  t.is(s.writes, 1, 'twelve joins, one write')
  t.is(Object.keys(JSON.parse(readFileSync(join(dir, 'leases.json'), 'utf8')).rooms.friday).length, 6)
})
