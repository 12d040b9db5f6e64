import test from 'ava'
import { bufferbloatGrade } from './speed-test.js'
import { decodeBatch, encodeBatch } from '../core/protocol.js'
import { BROADCAST, ethFrame, tcpSyn, udp4Frame } from '../tests/support/frames.js'
import { CLASS_ARP, CLASS_MDNS, CLASS_UNICAST } from '../l2/packet.js'
import { FramePath } from './frame-path.js'

const A = '02:00:00:00:00:0a'
const path = (mtu = 1400): FramePath => { const p = new FramePath(); p.setMtu(mtu); return p }

test('outgoing: frames counted by class, batch passed on unchanged (no copy)', t => {
  const p = path()
  const batch = encodeBatch([ethFrame(BROADCAST, A, 0x0806, Buffer.alloc(46)), udp4Frame('01:00:5e:00:00:fb', A, '10.77.0.1', '224.0.0.251', 5353, 5353)])
  t.is(p.outgoing(batch, 2), batch)
  t.is(p.lastFrames, 2)
  t.is(p.sent.frames[CLASS_ARP], 1)
  t.is(p.sent.frames[CLASS_MDNS], 1)
})

test('outgoing: frames over MTU + 18 are dropped and the batch compacted', t => {
  const p = path(1400)
  const big = ethFrame('02:00:00:00:00:0b', A, 0x88b5, Buffer.alloc(1405))
  const ok = ethFrame('02:00:00:00:00:0b', A, 0x88b5, Buffer.alloc(1404))
  const out = p.outgoing(encodeBatch([big, ok, big]), 3)
  t.deepEqual(decodeBatch(out!), [ok])
  t.is(p.lastFrames, 1)
  t.is(p.oversizeOut, 2)
  t.is(p.outgoing(encodeBatch([big]), 1), null)
})

test('both ways: TCP SYN MSS is clamped in place', t => {
  const p = path(1400)
  const batch = encodeBatch([tcpSyn(4, '10.77.0.1', '10.77.0.2', 1460)])
  p.outgoing(batch, 1)
  t.is(batch.readUInt16BE(2 + 14 + 20 + 22), 1360)
  const incoming = encodeBatch([tcpSyn(6, 'fd00::2', 'fd00::1', 1440)])
  const written: Buffer[] = []
  t.is(p.incoming(incoming, (b, off, len) => { written.push(Buffer.from(b.subarray(off, off + len))) }), 1)
  t.is(written[0]!.readUInt16BE(14 + 40 + 22), 1340)
  t.is(p.mssClamped, 2)
  t.is(p.received.frames[CLASS_UNICAST], 1)
})

test('incoming: oversize frames are not written; malformed batches are refused whole', t => {
  const p = path(1400)
  const written: number[] = []
  const n = p.incoming(encodeBatch([ethFrame(A, A, 0x88b5, Buffer.alloc(2000)), ethFrame(A, A, 0x88b5, Buffer.alloc(100))]), (_b, _o, len) => written.push(len))
  t.is(n, 2)
  t.deepEqual(written, [114])
  t.is(p.oversizeIn, 1)
  t.is(p.incoming(Buffer.from([0, 200, 1]), () => t.fail()), -1)
})

test('bufferbloat grades by the latency added under load', t => {
  t.deepEqual([1, 10, 45, 100, 300, 500].map(bufferbloatGrade), ['A+', 'A', 'B', 'C', 'D', 'F'])
})
