import test from 'ava'
import { randomBytes } from 'node:crypto'
import { OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT, maskInPlace, writeHeader } from './frame.js'
import { FrameParser, type FrameSink } from './parser.js'

interface Got { kind: string, data?: Buffer, text?: string, code?: number, reason?: string }

const sink = (got: Got[]): FrameSink => ({
  binary: (b, o, l) => { got.push({ kind: 'binary', data: Buffer.from(b.subarray(o, o + l)) }) },
  text: (text) => { got.push({ kind: 'text', text }) },
  ping: (p) => { got.push({ kind: 'ping', data: p }) },
  pong: () => { got.push({ kind: 'pong' }) },
  close: (code, reason) => { got.push({ kind: 'close', code, reason }) }
})

/** One frame as a client (masked) or server would send it; `first` sets the first byte outright (bad frames). */
const frame = (op: number, payload: Buffer, o: { masked?: boolean, fin?: boolean, first?: number } = {}): Buffer => {
  const masked = o.masked ?? true
  const b = Buffer.alloc(14 + payload.length)
  payload.copy(b, 14)
  const key = masked ? 0x5a1b2c3d : null
  if (key !== null) maskInPlace(b, 14, payload.length, key)
  const start = writeHeader(b, 14, op, payload.length, key)
  if (o.fin === false) b[start]! &= 0x7f
  if (o.first !== undefined) b[start] = o.first
  return b.subarray(start)
}

const closePayload = (code: number, reason = ''): Buffer => Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)])

test('messages come out whole however the bytes are split, fragmented or not, with controls in between', t => {
  const big = randomBytes(70000)
  const stream = Buffer.concat([
    frame(OP_BINARY, Buffer.from('hello')),
    frame(OP_TEXT, Buffer.from('{"type":"list"}')),
    frame(OP_BINARY, big),
    frame(OP_BINARY, Buffer.from('frag-'), { fin: false }),
    frame(OP_PING, Buffer.from('p')),
    frame(OP_CONTINUATION, Buffer.from('ment'), { fin: false }),
    frame(OP_CONTINUATION, Buffer.alloc(0)),
    frame(OP_BINARY, Buffer.alloc(0)),
    frame(OP_PONG, Buffer.alloc(0)),
    frame(OP_CLOSE, closePayload(4001, 'bye'))
  ])
  for (const step of [1, 2, 3, 7, 100, 1000, 16384, stream.length]) {
    const got: Got[] = []
    const p = new FrameParser(true, 256 * 1024, sink(got))
    const copy = Buffer.from(stream) // unmasked in place: each run gets its own bytes
    for (let off = 0; off < copy.length; off += step) t.true(p.push(copy, off, Math.min(copy.length, off + step)))
    t.deepEqual(got.map(g => g.kind), ['binary', 'text', 'binary', 'ping', 'binary', 'binary', 'pong', 'close'], `step ${step}`)
    t.is(got[0]!.data!.toString(), 'hello')
    t.is(got[1]!.text, '{"type":"list"}')
    t.true(got[2]!.data!.equals(big))
    t.is(got[3]!.data!.toString(), 'p')
    t.is(got[4]!.data!.toString(), 'frag-ment')
    t.is(got[5]!.data!.length, 0)
    t.deepEqual([got[7]!.code, got[7]!.reason], [4001, 'bye'])
  }
})

test('a whole frame in one read reaches the sink as a view of the read buffer (no copy)', t => {
  const buf = frame(OP_BINARY, Buffer.from('zero-copy'))
  let seen = null as Buffer | null
  const p = new FrameParser(true, 1024, { ...sink([]), binary: (b) => { seen = b } })
  p.push(buf, 0, buf.length)
  t.is(seen, buf)
})

test('a server frame parses on the client side; a close without a code reports 1005', t => {
  const got: Got[] = []
  const p = new FrameParser(false, 1024, sink(got))
  const b = Buffer.concat([frame(OP_BINARY, Buffer.from('x'), { masked: false }), frame(OP_CLOSE, Buffer.alloc(0), { masked: false })])
  t.true(p.push(b, 0, b.length))
  t.deepEqual(got.map(g => [g.kind, g.code]), [['binary', undefined], ['close', 1005]])
})

const fails = (name: string, bytes: Buffer, code: number, server = true): void => {
  test(`fails with ${code}: ${name}`, t => {
    const got: Got[] = []
    const p = new FrameParser(server, 1024, sink(got))
    t.false(p.push(bytes, 0, bytes.length))
    t.is(p.failed?.closeCode, code)
    // Nothing after a failure is parsed.
    const more = frame(OP_BINARY, Buffer.from('after'))
    t.false(p.push(more, 0, more.length))
    t.false(got.some(g => g.data?.toString() === 'after'))
  })
}
fails('reserved bits', frame(OP_BINARY, Buffer.from('x'), { first: 0xc2 }), 1002)
fails('an unknown data opcode', frame(3, Buffer.from('x')), 1002)
fails('an unknown control opcode', frame(0xb, Buffer.from('x')), 1002)
fails('a client frame without a mask', frame(OP_BINARY, Buffer.from('x'), { masked: false }), 1002)
fails('a server frame with a mask', frame(OP_BINARY, Buffer.from('x')), 1002, false)
fails('a control frame over 125 bytes', frame(OP_PING, Buffer.alloc(126)), 1002)
fails('a fragmented control frame', frame(OP_PING, Buffer.alloc(1), { fin: false }), 1002)
fails('a continuation with no message', frame(OP_CONTINUATION, Buffer.from('x')), 1002)
fails('a new message inside a fragmented one', Buffer.concat([frame(OP_BINARY, Buffer.from('a'), { fin: false }), frame(OP_BINARY, Buffer.from('b'))]), 1002)
fails('a message over the limit, refused by its header', frame(OP_BINARY, Buffer.alloc(1025)), 1009)
fails('fragments adding up over the limit', Buffer.concat([frame(OP_BINARY, Buffer.alloc(1000), { fin: false }), frame(OP_CONTINUATION, Buffer.alloc(100))]), 1009)
fails('text that is not UTF-8', frame(OP_TEXT, Buffer.from([0xc3, 0x28])), 1007)
fails('a close frame with one byte', frame(OP_CLOSE, Buffer.from([3])), 1002)
fails('a close code no one may send', frame(OP_CLOSE, closePayload(1006)), 1002)
fails('a close reason that is not UTF-8', frame(OP_CLOSE, Buffer.concat([closePayload(1000), Buffer.from([0xff])])), 1007)

test('a 64-bit length near 2^63 is refused from its header, before any allocation', t => {
  const b = Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4])
  const p = new FrameParser(true, 256 * 1024, sink([]))
  t.false(p.push(b, 0, b.length))
  t.is(p.failed?.closeCode, 1009)
})

test('random bytes never throw and never hold more than the limit', t => {
  for (let trial = 0; trial < 3000; trial++) {
    const p = new FrameParser(trial % 2 === 0, 4096, { binary: () => {}, text: () => {}, ping: () => {}, pong: () => {}, close: () => {} })
    const b = randomBytes(1 + (trial % 300))
    // Half the runs start from a plausible header so the payload paths are reached too.
    if (trial % 3 === 0) b[0] = 0x82
    t.notThrows(() => { p.push(b, 0, b.length) })
    const held = (p as unknown as { msg: Buffer | null }).msg
    if (held !== null && held.length > 4096) t.fail(`holds ${held.length} bytes`)
  }
})
