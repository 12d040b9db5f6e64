import test from 'ava'
import {
  MAX_CONTROL_BYTES, countFrames, decodeBatch, decodeControl, encodeBatch, encodeControl, forEachFrame, type ControlMessage
} from './protocol.js'

const hello = {
  type: 'hello', version: 1, room: 'friday', token: 'secret-token', identity: '00112233445566778899aabbccddeeff', name: 'alice'
} as const

test('control messages round-trip', t => {
  const msgs: ControlMessage[] = [
    hello,
    { ...hello, address: '10.77.0.9', lease: { mac: '02:00:00:00:00:01', ip: '10.77.0.9' } },
    { type: 'welcome', version: 1, room: 'friday', mac: '02:00:00:00:00:01', ip: '10.77.0.1', prefixLength: 24, mtu: 1400, members: [{ name: 'bob', mac: '02:00:00:00:00:02', ip: '10.77.0.2' }] },
    { type: 'error', code: 'AUTH_FAILED', message: 'wrong join token for room friday' },
    { type: 'bye', reason: 'peer leaving' },
    { type: 'bye' }
  ]
  for (const m of msgs) t.deepEqual(decodeControl(encodeControl(m)), { ok: true, message: m })
})

test('bad control input is a reason, never a throw', t => {
  const bad: Array<[string, RegExp]> = [
    ['{', /not JSON/],
    ['[1,2]', /not a JSON object/],
    ['null', /not a JSON object/],
    ['{"x":1}', /missing "type"/],
    [JSON.stringify({ ...hello, version: '1' }), /hello.version/],
    [JSON.stringify({ ...hello, identity: 'XYZ' }), /hello.identity/],
    [JSON.stringify({ ...hello, room: 'r'.repeat(65) }), /hello.room/],
    [JSON.stringify({ ...hello, lease: { mac: 1 } }), /hello.lease/],
    [JSON.stringify({ type: 'welcome', version: 1, room: 'a', mac: 'm', ip: 'i', prefixLength: 40, mtu: 1400, members: [] }), /prefixLength/],
    [JSON.stringify({ type: 'error', code: 5 }), /error.code/],
    ['x'.repeat(MAX_CONTROL_BYTES + 1), /over/]
  ]
  for (const [text, reason] of bad) {
    const r = decodeControl(text)
    t.false(r.ok, text.slice(0, 40))
    if (!r.ok) t.regex(r.reason, reason)
  }
})

test('unknown message types are tolerated for forward compatibility', t => {
  t.deepEqual(decodeControl('{"type":"presence","list":[]}'), { ok: true, message: null, unknownType: 'presence' })
})

const f1 = Buffer.alloc(60, 1)
const f2 = Buffer.alloc(1414, 2)

test('batch framing round-trips and walks frames in place', t => {
  const b = encodeBatch([f1, f2])
  t.is(b.length, 2 + 60 + 2 + 1414)
  t.is(countFrames(b), 2)
  t.deepEqual(decodeBatch(b), [f1, f2])
  const seen: Array<[number, number]> = []
  forEachFrame(b, (_buf, off, len) => seen.push([off, len]))
  t.deepEqual(seen, [[2, 60], [64, 1414]])
})

test('malformed batches are rejected whole', t => {
  const good = encodeBatch([f1, f2])
  t.is(countFrames(Buffer.alloc(0)), -1, 'empty')
  t.is(countFrames(good.subarray(0, good.length - 1)), -1, 'truncated last frame')
  t.is(countFrames(Buffer.concat([good, Buffer.from([0])])), -1, 'dangling byte')
  t.is(countFrames(Buffer.from([0x00, 0x05, 1, 2, 3, 4, 5])), -1, 'runt frame under 14 bytes')
  let called = 0
  t.is(forEachFrame(good.subarray(0, 70), () => { called++ }), -1)
  t.is(called, 0, 'no frame of a bad batch is delivered')
  t.is(decodeBatch(Buffer.from([0xff])), null)
})
