import test from 'ava'
import {
  NAME_FLAG_ACTIVE, OPCODE_QUERY, OPCODE_REGISTRATION, RCODE_ACT_ERR, SUFFIX_SERVER, SUFFIX_WORKSTATION, TYPE_NB, TYPE_NBSTAT,
  decode, decodeName, encode, encodeName, encodingLength, netbiosNameOf, packet, type NbPacket
} from './nbns.js'

/** The codec round-trip macro: encode, check the length, decode back to the same value. */
const roundTrip = test.macro((t, p: NbPacket) => {
  const b = encode(p)
  t.is(b.length, encodingLength(p))
  t.deepEqual(decode(b), p)
})

test('first-level encoding (RFC 1001 §14.1): WORKSTATION1<20>', t => {
  // Same bytes as the netbios-name package produces (DEPENDENCIES.md §7).
  t.is(encodeName({ name: 'WORKSTATION1', suffix: 0x20 }).toString('latin1'), '\x20FHEPFCELFDFEEBFEEJEPEODBCACACACA\x00')
  t.deepEqual(decodeName(encodeName({ name: 'ALICE', suffix: 0 }), 0), { name: { name: 'ALICE', suffix: 0 }, length: 34 })
  t.deepEqual(decodeName(encodeName({ name: '*', suffix: 0 }), 0).name, { name: '*', suffix: 0 }, 'wildcard is NUL-padded')
})

test('name query', roundTrip, packet({ id: 0x1234, broadcast: true, recursionDesired: true, questions: [{ name: { name: 'ALICE', suffix: SUFFIX_SERVER }, type: TYPE_NB }] }))

test('positive name query response', roundTrip, packet({
  id: 7, response: true, authoritative: true, recursionDesired: true,
  answers: [{ name: { name: 'ALICE', suffix: SUFFIX_WORKSTATION }, type: TYPE_NB, ttl: 300000, addresses: [{ group: false, ont: 0, address: '10.77.0.1' }] }]
}))

test('registration request with additional record', roundTrip, packet({
  id: 8, opcode: OPCODE_REGISTRATION, broadcast: true, recursionDesired: true,
  questions: [{ name: { name: 'BOB', suffix: 0 }, type: TYPE_NB }],
  additionals: [{ name: { name: 'BOB', suffix: 0 }, type: TYPE_NB, ttl: 300000, addresses: [{ group: false, ont: 0, address: '10.77.0.2' }] }]
}))

test('negative registration response', roundTrip, packet({
  id: 9, opcode: OPCODE_REGISTRATION, response: true, authoritative: true, recursionDesired: true, rcode: RCODE_ACT_ERR,
  answers: [{ name: { name: 'BOB', suffix: 0 }, type: TYPE_NB, ttl: 0, addresses: [{ group: true, ont: 1, address: '10.77.0.3' }] }]
}))

test('node status (NBSTAT) response with names and unit ID', roundTrip, packet({
  id: 10, opcode: OPCODE_QUERY, response: true, authoritative: true,
  answers: [{ name: { name: '*', suffix: 0 }, type: TYPE_NBSTAT, ttl: 0, unitId: '02:aa:bb:cc:dd:ee',
    names: [{ name: { name: 'ALICE', suffix: 0 }, flags: NAME_FLAG_ACTIVE }, { name: { name: 'ALICE', suffix: 0x20 }, flags: NAME_FLAG_ACTIVE }] }]
}))

test('header flags land on the right bits', t => {
  const b = encode(packet({ id: 1, response: true, opcode: OPCODE_REGISTRATION, authoritative: true, recursionDesired: true, broadcast: true, rcode: 6 }))
  t.is(b.readUInt16BE(2), 0x8000 | (5 << 11) | 0x400 | 0x100 | 0x10 | 6)
})

test('compression pointers are followed; bad input is a RangeError naming the problem', t => {
  const resp = encode(packet({ id: 7, response: true, answers: [{ name: { name: 'ALICE', suffix: 0 }, type: TYPE_NB, ttl: 1, addresses: [{ group: false, ont: 0, address: '1.2.3.4' }] }], questions: [{ name: { name: 'ALICE', suffix: 0 }, type: TYPE_NB }] }))
  // Replace the answer's name with a pointer to the question's (offset 12).
  const pointer = Buffer.concat([resp.subarray(0, 12 + 38), Buffer.from([0xc0, 12]), resp.subarray(12 + 38 + 34)])
  t.is((decode(pointer).answers[0]!.name.name), 'ALICE')
  const bad: Array<[Buffer, RegExp]> = [
    [Buffer.alloc(5), /truncated header/],
    [Buffer.concat([Buffer.from('000100000001000000000000', 'hex'), Buffer.from([0x21])]), /label length 33/],
    [Buffer.concat([Buffer.from('000100000001000000000000', 'hex'), Buffer.from([0x20]), Buffer.alloc(32, 0x5a), Buffer.from([0])]), /not A-P/],
    [Buffer.concat([Buffer.from('000100000001000000000000', 'hex'), Buffer.from([0xc0, 40])]), /does not point backwards/],
    [Buffer.from('0001000000ff000000000000', 'hex'), /more than 64/],
    [resp.subarray(0, resp.length - 3), /truncated record data/]
  ]
  for (const [b, why] of bad) t.throws(() => decode(b), { instanceOf: RangeError, message: why })
})

test('NetBIOS names from host names', t => {
  t.is(netbiosNameOf('alice'), 'ALICE')
  t.is(netbiosNameOf('very-long-hostname-here'), 'VERY-LONG-HOSTN')
  t.is(netbiosNameOf('a.b c'), 'A-B-C')
})
