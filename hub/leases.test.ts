import test from 'ava'
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs'
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

test('leases survive a restart through the state file; a corrupt file is a clear error', t => {
  const dir = mkdtempSync(join(tmpdir(), 'overlan-leases-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const a = new LeaseStore(dir).acquire(req(id(1), { address: '10.77.0.4' }))
  const again = new LeaseStore(dir).acquire(req(id(1), { now: 9 }))
  t.deepEqual([again.ip, again.mac], [a.ip, a.mac])
  t.is(JSON.parse(readFileSync(join(dir, 'leases.json'), 'utf8')).version, 1)
  writeFileSync(join(dir, 'leases.json'), '{"version":1,"rooms":{"r":{"x":{"mac":"zz","ip":"1.2.3.4"}}}}')
  t.is(t.throws(() => new LeaseStore(dir), { instanceOf: OverlanError })?.code, 'STATE_IO')
  writeFileSync(join(dir, 'leases.json'), '{not json')
  t.regex(t.throws(() => new LeaseStore(dir), { instanceOf: OverlanError })?.message ?? '', /not valid JSON/)
})
