import test from 'ava'
import { randomBytes } from 'node:crypto'
import { MAX_HEADER, OP_BINARY, closeReasonBytes, headerLength, maskInPlace, writeHeader } from './frame.js'

/** §5.3 spelled out byte by byte: the reference the fast masking must equal. */
const maskSlow = (b: Buffer, off: number, len: number, key: number, phase: number): void => {
  for (let i = 0; i < len; i++) b[off + i]! ^= (key >>> (8 * ((phase + i) % 4))) & 0xff
}

test('header lengths follow the 7-bit, 16-bit and 64-bit length forms, plus the key', t => {
  t.is(headerLength(0, false), 2)
  t.is(headerLength(125, false), 2)
  t.is(headerLength(126, false), 4)
  t.is(headerLength(65535, true), 8)
  t.is(headerLength(65536, false), 10)
  t.is(headerLength(65536, true), MAX_HEADER)
})

test('a header ends exactly where its payload begins, in each length form', t => {
  for (const [len, bytes] of [[5, [0x82, 5]], [300, [0x82, 126, 0x01, 0x2c]], [70000, [0x82, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70]]] as const) {
    const b = Buffer.alloc(32)
    const start = writeHeader(b, 20, OP_BINARY, len, null)
    t.deepEqual([...b.subarray(start, 20)], [...bytes], `length ${len}`)
  }
  const b = Buffer.alloc(32)
  const start = writeHeader(b, 20, OP_BINARY, 5, 0x44332211)
  t.deepEqual([...b.subarray(start, 20)], [0x82, 0x85, 0x11, 0x22, 0x33, 0x44], 'mask bit and the key bytes in order')
})

test('masking a word at a time equals masking byte by byte, at every alignment, length and phase', t => {
  const ab = randomBytes(4096)
  for (let trial = 0; trial < 400; trial++) {
    const off = trial % 13
    const len = [0, 1, 3, 31, 32, 33, 100, 1500, 4000][trial % 9]!
    const phase = trial % 4
    const key = (trial * 2654435761) >>> 0
    const a = Buffer.from(ab.subarray(0, 4096))
    const b = Buffer.from(a)
    const view = Buffer.from(b.buffer, b.byteOffset + 3, b.length - 3) // not word-aligned
    maskSlow(a, off + 3, Math.min(len, 4090 - off), key, phase)
    maskInPlace(view, off, Math.min(len, 4090 - off), key, phase)
    if (!a.equals(b)) { t.fail(`off ${off} len ${len} phase ${phase}`); return }
  }
  t.pass()
})

test('masking twice gives the bytes back', t => {
  const a = randomBytes(1000)
  const b = Buffer.from(a)
  maskInPlace(b, 7, 900, 0xdeadbeef)
  t.false(a.equals(b))
  maskInPlace(b, 7, 900, 0xdeadbeef)
  t.true(a.equals(b))
})

test('a close reason is cut to 123 bytes at a character boundary (§5.5, §8.1)', t => {
  t.is(closeReasonBytes('short').toString(), 'short')
  const euros = '€'.repeat(50) // 3 bytes each: 150 bytes, 123 would end inside the 42nd
  const cut = closeReasonBytes(euros)
  t.is(cut.length, 123)
  t.is(cut.toString('utf8'), '€'.repeat(41))
  const mixed = 'a' + '€'.repeat(50) // 123 bytes end after 'a' + 40 € + 2 bytes of the 41st
  t.is(closeReasonBytes(mixed).toString('utf8'), 'a' + '€'.repeat(40))
  t.is(closeReasonBytes('x'.repeat(200)).length, 123)
})
