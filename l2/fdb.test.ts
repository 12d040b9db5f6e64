import test from 'ava'
import { Fdb } from './fdb.js'

const A = 0x020000000001
const B = 0x020000000002

test('learns, refreshes in place and looks up', t => {
  const fdb = new Fdb()
  t.is(fdb.learn(A, 1, 0), 'learned')
  t.is(fdb.learn(A, 1, 10), 'refreshed')
  t.is(fdb.lookup(A, 20), 1)
  t.is(fdb.lookup(B, 20), -1)
  t.is(fdb.size, 1)
})

test('entries age out after 300 s by default, lazily at lookup and in a sweep', t => {
  const fdb = new Fdb()
  fdb.learn(A, 1, 0)
  fdb.learn(B, 2, 100_000)
  t.is(fdb.lookup(A, 299_999), 1)
  t.is(fdb.lookup(A, 300_000), -1, 'expired at lookup')
  t.is(fdb.size, 1)
  t.is(fdb.sweep(399_999), 0)
  t.is(fdb.sweep(400_000), 1)
  t.is(fdb.size, 0)
  t.is(fdb.countFor(2), 0)
})

test('a MAC that shows up on another port moves there', t => {
  const fdb = new Fdb()
  fdb.learn(A, 1, 0)
  t.is(fdb.learn(A, 2, 5), 'moved')
  t.is(fdb.lookup(A, 6), 2)
  t.is(fdb.countFor(1), 0)
  t.is(fdb.countFor(2), 1)
  t.is(fdb.moves, 1)
})

test('per-port limit stops learning but not existing entries', t => {
  const fdb = new Fdb({ portLimit: 2 })
  t.is(fdb.learn(1, 7, 0), 'learned')
  t.is(fdb.learn(2, 7, 0), 'learned')
  t.is(fdb.learn(3, 7, 0), 'port_full')
  t.is(fdb.learn(1, 7, 1), 'refreshed')
  t.is(fdb.lookup(3, 1), -1)
  fdb.learn(4, 8, 0)
  t.is(fdb.learn(4, 7, 1), 'port_full', 'a live MAC cannot move onto a full port')
})

test('static entries never age, never move, go with their port', t => {
  const fdb = new Fdb()
  fdb.setStatic(A, 1)
  t.is(fdb.lookup(A, 10 ** 9), 1)
  t.is(fdb.learn(A, 2, 0), 'static_conflict')
  t.is(fdb.lookup(A, 0), 1)
  fdb.learn(B, 1, 0)
  t.is(fdb.removePort(1), 2)
  t.is(fdb.size, 0)
  t.is(fdb.countFor(1), 0)
})
