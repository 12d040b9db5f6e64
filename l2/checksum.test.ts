import test from 'ava'
import { finishChecksum, sum16, updateChecksum16 } from './checksum.js'

test('RFC 1071 §3 example sums to 0xddf2 (checksum 0x220d)', t => {
  const b = Buffer.from('0001f203f4f5f6f7', 'hex')
  t.is(finishChecksum(sum16(b, 0, b.length)), 0x220d)
  t.is(finishChecksum(sum16(Buffer.from([0xab]), 0, 1)), ~0xab00 & 0xffff, 'odd length pads with zero')
})

test('RFC 1624 incremental update equals a full recompute', t => {
  const b = Buffer.from('450000349a0b400040060000c0a80001c0a800c7', 'hex')
  b.writeUInt16BE(finishChecksum(sum16(b, 0, 20)), 10)
  for (const newWord of [0x0000, 0x1234, 0xffff, 0x0564]) {
    const c = Buffer.from(b)
    const old = c.readUInt16BE(8)
    c.writeUInt16BE(newWord, 8)
    const incremental = updateChecksum16(c.readUInt16BE(10), old, newWord)
    c.writeUInt16BE(0, 10)
    t.is(incremental, finishChecksum(sum16(c, 0, 20)), `word -> ${newWord.toString(16)}`)
  }
})
