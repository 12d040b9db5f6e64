import test from 'ava'
import { ipv4 } from '../tests/support/frames.js'
import { finishChecksum, ipv6PseudoSum, sum16 } from './checksum.js'
import { FrameInfo, inspect, CLASS_IGMP_MLD } from './packet.js'
import {
  MSG_MALFORMED, MSG_OTHER, MSG_QUERY, MSG_REPORT, QuerySchedule, igmpGeneralQuery, ipv4GroupMac, membershipIntervalMs, mldGeneralQuery, parseIgmp, parseMld
} from './igmp.js'

const events = (parse: typeof parseIgmp, b: Buffer): { kind: number, ev: string[] } => {
  const ev: string[] = []
  const kind = parse(b, 0, b.length, (g, join) => ev.push(`${join ? '+' : '-'}${g.toString(16)}`))
  return { kind, ev }
}

test('group MACs: 01:00:5e + low 23 bits (RFC 1112), 33:33 + low 32 bits (RFC 2464)', t => {
  t.is(ipv4GroupMac(ipv4('239.1.2.3')).toString(16), '1005e010203')
  t.is(ipv4GroupMac(ipv4('239.129.2.3')).toString(16), '1005e010203', '32 groups share a MAC')
})

test('IGMPv2 report and leave, v1 report, query, unknown type', t => {
  const msg = (type: number, group: string): Buffer => { const b = Buffer.alloc(8); b[0] = type; b.writeUInt32BE(ipv4(group), 4); return b }
  t.deepEqual(events(parseIgmp, msg(0x16, '239.1.2.3')), { kind: MSG_REPORT, ev: ['+1005e010203'] })
  t.deepEqual(events(parseIgmp, msg(0x17, '239.1.2.3')), { kind: MSG_REPORT, ev: ['-1005e010203'] })
  t.deepEqual(events(parseIgmp, msg(0x12, '224.0.2.60')), { kind: MSG_REPORT, ev: ['+1005e00023c'] })
  t.deepEqual(events(parseIgmp, msg(0x11, '0.0.0.0')), { kind: MSG_QUERY, ev: [] })
  t.deepEqual(events(parseIgmp, msg(0x13, '0.0.0.0')), { kind: MSG_OTHER, ev: [] })
  t.is(events(parseIgmp, Buffer.alloc(7)).kind, MSG_MALFORMED)
})

test('IGMPv3 report: record types map to join / leave / no change', t => {
  const rec = (type: number, group: string, sources: number, aux = 0): Buffer => {
    const r = Buffer.alloc(8 + sources * 4 + aux * 4)
    r[0] = type; r[1] = aux; r.writeUInt16BE(sources, 2); r.writeUInt32BE(ipv4(group), 4)
    return r
  }
  const records = [
    rec(2, '239.0.0.2', 0), // MODE_IS_EXCLUDE {}: member
    rec(4, '239.0.0.4', 0), // CHANGE_TO_EXCLUDE: join
    rec(3, '239.0.0.3', 0), // CHANGE_TO_INCLUDE {}: leave
    rec(1, '239.0.0.1', 2), // MODE_IS_INCLUDE {S1,S2}: member (sources not filtered)
    rec(5, '239.0.0.5', 1, 1), // ALLOW_NEW_SOURCES with aux data: join
    rec(6, '239.0.0.6', 1) // BLOCK_OLD_SOURCES: no change
  ]
  const head = Buffer.alloc(8); head[0] = 0x22; head.writeUInt16BE(records.length, 6)
  t.deepEqual(events(parseIgmp, Buffer.concat([head, ...records])), {
    kind: MSG_REPORT, ev: ['+1005e000002', '+1005e000004', '-1005e000003', '+1005e000001', '+1005e000005']
  })
  const lying = Buffer.concat([head, rec(2, '239.0.0.2', 0)]) // says 6 records, holds 1
  t.is(events(parseIgmp, lying).kind, MSG_MALFORMED)
  const overrun = Buffer.concat([head.subarray(0, 6), Buffer.from([0, 1]), rec(2, '239.0.0.2', 3).subarray(0, 12)])
  t.is(events(parseIgmp, overrun).kind, MSG_MALFORMED, 'source list past the end')
})

test('MLDv1 report / done and MLDv2 report', t => {
  const v1 = (type: number, groupHex: string): Buffer => {
    const b = Buffer.alloc(24); b[0] = type
    Buffer.from(groupHex, 'hex').copy(b, 8)
    return b
  }
  const solicitedNode = 'ff0200000000000000000001ff00000b' // ff02::1:ff00:b
  t.deepEqual(events(parseMld, v1(131, solicitedNode)), { kind: MSG_REPORT, ev: ['+3333ff00000b'] })
  t.deepEqual(events(parseMld, v1(132, solicitedNode)), { kind: MSG_REPORT, ev: ['-3333ff00000b'] })
  const head = Buffer.alloc(8); head[0] = 143; head.writeUInt16BE(2, 6)
  const r1 = Buffer.alloc(20); r1[0] = 4; Buffer.from('ff0e00000000000000000000000000fb', 'hex').copy(r1, 4)
  const r2 = Buffer.alloc(20 + 16); r2[0] = 6; r2.writeUInt16BE(1, 2); Buffer.from('ff050000000000000000000000010003', 'hex').copy(r2, 4)
  t.deepEqual(events(parseMld, Buffer.concat([head, r1, r2])), { kind: MSG_REPORT, ev: ['+3333000000fb'] })
  t.is(events(parseMld, Buffer.concat([head, r1])).kind, MSG_MALFORMED, 'record count beyond the message')
  const q = Buffer.alloc(28); q[0] = 130
  t.is(events(parseMld, q).kind, MSG_QUERY)
})

test('the IGMPv3 general query is well formed: checksums, TTL 1, Router Alert, 224.0.0.1', t => {
  const f = igmpGeneralQuery(0x060000000001, 125_000)
  const info = new FrameInfo()
  inspect(f, 0, f.length, info)
  t.is(info.drop, null)
  t.is(info.cls, CLASS_IGMP_MLD)
  t.is(f.toString('hex', 0, 6), '01005e000001')
  t.is(f[14], 0x46)
  t.is(f[22], 1, 'TTL 1')
  t.is(f.toString('hex', 34, 38), '94040000', 'Router Alert')
  t.is(finishChecksum(sum16(f, 14, 24)), 0, 'IP header checksum verifies')
  t.is(finishChecksum(sum16(f, 38, 12)), 0, 'IGMP checksum verifies')
  t.is(f[38], 0x11)
  t.is(f[39], 100, 'max response 10 s')
  t.is(f[47], 125, 'QQIC 125 s')
  t.is(parseIgmp(f, 38, 12, () => t.fail()), MSG_QUERY)
})

test('the MLDv2 general query is well formed: link-local source, hop limit 1, HbH Router Alert', t => {
  const f = mldGeneralQuery(0x060000000001, 125_000)
  const info = new FrameInfo()
  inspect(f, 0, f.length, info)
  t.is(info.drop, null)
  t.is(info.cls, CLASS_IGMP_MLD)
  t.is(f[14 + 7], 1, 'hop limit 1')
  t.is(f.toString('hex', 22, 30), 'fe80000000000000', 'link-local source (RFC 3810 §5.1.14)')
  t.is(f.toString('hex', 38, 54), 'ff020000000000000000000000000001')
  t.is(f.toString('hex', 56, 60), '05020000', 'Router Alert, MLD')
  t.is(info.l4, 62)
  t.is(finishChecksum(sum16(f, 62, 28, ipv6PseudoSum(f, 14, 28, 58))), 0, 'ICMPv6 checksum verifies')
  t.is(f.readUInt16BE(66), 10_000)
})

test('querier timing: startup queries at a quarter interval, then every interval (injected time)', t => {
  const s = new QuerySchedule(125_000, 1000)
  const sent: number[] = []
  for (let now = 1000; now <= 1000 + 400_000; now += 250) if (s.due(now)) sent.push(now - 1000)
  t.deepEqual(sent, [0, 31_250, 156_250, 281_250])
  t.is(membershipIntervalMs(125_000), 260_000, 'robustness 2 × 125 s + 10 s')
})
