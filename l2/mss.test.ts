import test from 'ava'
import { tcpSyn } from '../tests/support/frames.js'
import { finishChecksum, ipv4PseudoSum, ipv6PseudoSum, sum16 } from './checksum.js'
import { clampMss, maxMssFor } from './mss.js'
import { FrameInfo, inspect } from './packet.js'

const look = (f: Buffer): FrameInfo => { const i = new FrameInfo(); inspect(f, 0, f.length, i); return i }
const tcpChecksumOk = (f: Buffer, v: 4 | 6): boolean => {
  const i = look(f)
  const pseudo = v === 4 ? ipv4PseudoSum(f, i.l3, i.l4Len, 6) : ipv6PseudoSum(f, i.l3, i.l4Len, 6)
  return finishChecksum(sum16(f, i.l4, i.l4Len, pseudo)) === 0
}
const mssOf = (f: Buffer): number => { const i = look(f); const p = f.indexOf(Buffer.from([2, 4]), i.l4 + 20); return f.readUInt16BE(p + 2) }

test('an IPv4 SYN with MSS 1460 is clamped to MTU - 40, checksum stays valid', t => {
  const f = tcpSyn(4, '10.77.0.1', '10.77.0.2', 1460)
  t.true(tcpChecksumOk(f, 4))
  t.true(clampMss(f, look(f), 1400))
  t.is(mssOf(f), 1360)
  t.is(maxMssFor(1400, 0x0800), 1360)
  t.true(tcpChecksumOk(f, 4), 'RFC 1624 incremental update')
})

test('an IPv6 SYN is clamped to MTU - 60', t => {
  const f = tcpSyn(6, 'fd00::1', 'fd00::2', 1440)
  t.true(clampMss(f, look(f), 1400))
  t.is(mssOf(f), 1340)
  t.true(tcpChecksumOk(f, 6))
})

test('an MSS at an odd offset (after a NOP) is rewritten across two checksum words', t => {
  const f = tcpSyn(4, '10.77.0.1', '10.77.0.2', 1460, { misalign: true })
  t.true(tcpChecksumOk(f, 4))
  t.true(clampMss(f, look(f), 1400))
  t.is(mssOf(f), 1360)
  t.true(tcpChecksumOk(f, 4))
})

test('small MSS, non-SYN segments and non-TCP frames are left alone', t => {
  const small = tcpSyn(4, '10.77.0.1', '10.77.0.2', 1200)
  const before = Buffer.from(small)
  t.false(clampMss(small, look(small), 1400))
  t.deepEqual(small, before)
  const ack = tcpSyn(4, '10.77.0.1', '10.77.0.2', 1460)
  ack[14 + 20 + 13] = 0x10
  t.false(clampMss(ack, look(ack), 1400))
  const bad = tcpSyn(4, '10.77.0.1', '10.77.0.2', 1460)
  bad[14 + 20 + 12] = 0xf0 // data offset 60 > segment
  t.false(clampMss(bad, look(bad), 1400))
})
