/** The LAN-aware rules of the switch: ARP/ND suppression and guard, IGMP/MLD snooping, storm control. */
import test from 'ava'
import { BROADCAST, icmpv6Frame, ipv4, ipv6Bytes, mac, udp4Frame } from '../tests/support/frames.js'
import { A, B, C, IP, arpRequest, decide, igmpV2, linkLocal, ndMsg, room } from '../tests/support/l2-fixtures.js'
import { ARP_REPLY, gratuitousArp, writeArpFrame } from './arp.js'
import { finishChecksum, ipv6PseudoSum, sum16 } from './checksum.js'
import { ND_OPT_SOURCE_LLA, ND_OPT_TARGET_LLA } from './ndp.js'
import { DROP, FLOOD, MEMBERS, REPLY } from './switch.js'

test('ARP suppression: a request for a leased address is answered by the switch, byte for byte', t => {
  const sw = room()
  t.is(decide(sw, arpRequest(A, IP.A, IP.B), 1), REPLY)
  t.is(sw.replyFrame.subarray(0, sw.replyLen).toString('hex'), [
    '02000000000a', // dst: the asker
    '02000000000b', // src: the owner of 10.77.0.2
    '0806', '0001', '0800', '06', '04',
    '0002', // reply
    '02000000000b', '0a4d0002', // sender: owner MAC, 10.77.0.2
    '02000000000a', '0a4d0001', // target: the asker
    '00'.repeat(18) // padding to 60 bytes
  ].join(''))
  t.is(sw.counters.arpReplies, 1)
})

test('ARP: unknown targets flood, own address is not answered, suppression can be off', t => {
  const sw = room()
  t.is(decide(sw, arpRequest(A, IP.A, '10.77.0.99'), 1), FLOOD)
  t.is(decide(sw, arpRequest(A, IP.A, IP.A), 1), FLOOD, 'gratuitous ARP is flooded')
  t.is(decide(room({ arpSuppression: false }), arpRequest(A, IP.A, IP.B), 1), FLOOD)
})

test('ARP: learned bindings are answered too, and an RFC 5227 probe gets a reply', t => {
  const sw = room({ allowBridging: true })
  const bridged = '02:00:00:00:01:01'
  t.is(decide(sw, gratuitousArp(mac(bridged), ipv4('10.77.0.50')), 3), FLOOD)
  t.is(decide(sw, arpRequest(A, IP.A, '10.77.0.50'), 1), REPLY)
  t.is(sw.replyFrame.readUIntBE(6, 6), mac(bridged))
  t.is(decide(sw, arpRequest(A, '0.0.0.0', IP.B), 1), REPLY, 'probe for an address in use: the conflict is reported')
})

test('ARP guard: claiming another peer\'s leased address is dropped and counted', t => {
  const sw = room()
  const f = Buffer.alloc(60)
  writeArpFrame(f, 0, ARP_REPLY, mac(A), mac(C), ipv4(IP.B), mac(A), ipv4(IP.A))
  t.is(decide(sw, f, 3), DROP)
  t.is(decide(sw, gratuitousArp(mac(C), ipv4(IP.B)), 3), DROP)
  t.is(sw.counters.drops.arp_spoof, 2)
  t.is(sw.countersOf(3)?.drops.arp_spoof, 2)
  t.is(decide(sw, arpRequest(A, IP.A, IP.B), 1), REPLY)
  t.is(sw.replyFrame.readUIntBE(6, 6), mac(B), 'binding unchanged')
})

test('ND suppression: an NS for a peer\'s link-local address is answered with a valid NA', t => {
  const sw = room()
  const ns = icmpv6Frame('33:33:ff:00:00:0b', A, linkLocal(A), 'ff02::1:ff00:b', ndMsg(135, linkLocal(B), ND_OPT_SOURCE_LLA, A))
  t.is(decide(sw, ns, 1), REPLY)
  const r = sw.replyFrame.subarray(0, sw.replyLen)
  t.is(r.readUIntBE(0, 6), mac(A), 'to the asker')
  t.is(r.readUIntBE(6, 6), mac(B), 'from the owner')
  t.is(r[14 + 7], 255, 'hop limit 255 (RFC 4861 §7.1.2)')
  t.is(r[54], 136)
  t.is(r[58], 0x60, 'solicited + override')
  t.is(r.toString('hex', 62, 78), ipv6Bytes(linkLocal(B)).toString('hex'), 'target')
  t.is(r[78], ND_OPT_TARGET_LLA)
  t.is(r.readUIntBE(80, 6), mac(B))
  t.is(finishChecksum(sum16(r, 54, 32, ipv6PseudoSum(r, 14, 32, 58))), 0, 'ICMPv6 checksum verifies')
  t.is(sw.counters.ndReplies, 1)
})

test('ND guard: an NA claiming another peer\'s address is dropped; DAD for it is defended', t => {
  const sw = room()
  const na = icmpv6Frame('33:33:00:00:00:01', C, linkLocal(C), 'ff02::1', ndMsg(136, linkLocal(B), ND_OPT_TARGET_LLA, C, 0x20))
  t.is(decide(sw, na, 3), DROP)
  t.is(sw.counters.drops.nd_spoof, 1)
  const dad = icmpv6Frame('33:33:ff:00:00:0b', C, '::', 'ff02::1:ff00:b', ndMsg(135, linkLocal(B), 0, C).subarray(0, 24))
  t.is(decide(sw, dad, 3), REPLY)
  t.is(sw.replyFrame.readUIntBE(0, 6), 0x333300000001, 'defence goes to all nodes')
  const own = icmpv6Frame('33:33:00:00:00:01', B, linkLocal(B), 'ff02::1', ndMsg(136, linkLocal(B), ND_OPT_TARGET_LLA, B, 0x20))
  t.is(decide(sw, own, 2), FLOOD, 'the owner may announce itself')
})

test('ND: learned global addresses are answered; unknown ones flood', t => {
  const sw = room()
  t.is(decide(sw, icmpv6Frame('33:33:00:00:00:01', B, 'fd00::b', 'ff02::1', ndMsg(136, 'fd00::b', ND_OPT_TARGET_LLA, B, 0x20)), 2), FLOOD)
  t.is(decide(sw, icmpv6Frame('33:33:ff:00:00:0b', A, 'fd00::a', 'ff02::1:ff00:b', ndMsg(135, 'fd00::b', ND_OPT_SOURCE_LLA, A)), 1), REPLY)
  t.is(decide(sw, icmpv6Frame('33:33:ff:00:00:0c', A, 'fd00::a', 'ff02::1:ff00:c', ndMsg(135, 'fd00::c', ND_OPT_SOURCE_LLA, A)), 1), FLOOD)
})

const group = '239.1.2.3'
const groupData = (from: string, fromIp: string): Buffer => udp4Frame('01:00:5e:01:02:03', from, fromIp, group, 5000, 5000)

test('snooping: after a report, multicast goes to member ports only; reports are consumed', t => {
  const sw = room()
  t.is(decide(sw, groupData(A, IP.A), 1), FLOOD, 'no memberships seen: flood (safe default)')
  t.is(decide(sw, igmpV2(B, IP.B, 0x16, group), 2, 10), DROP, 'report consumed, not flooded')
  t.is(sw.counters.membershipReports, 1)
  t.is(decide(sw, groupData(A, IP.A), 1, 20), MEMBERS)
  t.deepEqual(sw.members, [2])
  t.is(decide(sw, udp4Frame('01:00:5e:09:09:09', A, IP.A, '239.9.9.9', 5000, 5000), 1, 20), DROP, 'no member: sent nowhere')
  t.is(sw.counters.multicastUnsubscribed, 1)
  t.is(decide(sw, groupData(B, IP.B), 2, 20), DROP, 'the only member is the sender')
})

test('snooping: link-local and discovery groups always flood; snooping off floods', t => {
  const sw = room()
  decide(sw, igmpV2(B, IP.B, 0x16, group), 2)
  t.is(decide(sw, udp4Frame('01:00:5e:00:00:fb', A, IP.A, '224.0.0.251', 5353, 5353), 1), FLOOD, 'mDNS')
  t.is(decide(sw, udp4Frame('01:00:5e:7f:ff:fa', A, IP.A, '239.255.255.250', 50000, 1900), 1), FLOOD, 'SSDP')
  t.is(decide(sw, udp4Frame('01:00:5e:00:00:7b', A, IP.A, '224.0.0.123', 7000, 7000), 1), FLOOD, '224.0.0.0/24')
  t.is(decide(sw, udp4Frame('01:00:5e:00:02:3c', A, IP.A, '224.0.2.60', 4445, 4445), 1), FLOOD, 'Minecraft LAN discovery')
  const off = room({ snooping: false })
  decide(off, igmpV2(B, IP.B, 0x16, group), 2)
  t.is(decide(off, groupData(A, IP.A), 1), FLOOD)
})

test('snooping: a leave removes the port at once; memberships expire after 260 s', t => {
  const sw = room()
  decide(sw, igmpV2(B, IP.B, 0x16, group), 2, 0)
  decide(sw, igmpV2(C, IP.C, 0x16, group), 3, 0)
  t.is(decide(sw, groupData(A, IP.A), 1), MEMBERS)
  t.deepEqual([...sw.members].sort(), [2, 3])
  decide(sw, igmpV2(C, IP.C, 0x17, group), 3, 5)
  decide(sw, groupData(A, IP.A), 1, 6)
  t.deepEqual(sw.members, [2])
  sw.sweep(259_999)
  t.is(decide(sw, groupData(A, IP.A), 1, 259_999), MEMBERS)
  sw.sweep(260_000)
  t.is(decide(sw, groupData(A, IP.A), 1, 260_000), DROP)
  t.is(sw.groups.size, 0)
})

test('snooping: a port that leaves takes its memberships and bindings with it', t => {
  const sw = room()
  decide(sw, igmpV2(B, IP.B, 0x16, group), 2)
  sw.removePort(2)
  t.is(sw.groups.size, 0)
  t.is(decide(sw, arpRequest(A, IP.A, IP.B), 1), FLOOD)
})

test('storm control: a broadcast flood is cut per port; discovery from the same port still passes', t => {
  const sw = room({ storm: { broadcastPps: 100, discoveryPps: 1000, burstS: 1 } })
  const junk = udp4Frame(BROADCAST, C, IP.C, '255.255.255.255', 9999, 9999)
  let passed = 0
  for (let i = 0; i < 1000; i++) if (decide(sw, junk, 3, 0) === FLOOD) passed++
  t.is(passed, 100, 'burst = rate × 1 s')
  t.is(sw.counters.drops.storm_broadcast, 900)
  t.is(decide(sw, arpRequest(C, IP.C, '10.77.0.99'), 3, 0), FLOOD, 'ARP is discovery: its own bucket')
  t.is(decide(sw, udp4Frame('01:00:5e:00:00:fb', C, IP.C, '224.0.0.251', 5353, 5353), 3, 0), FLOOD, 'mDNS too')
  t.is(decide(sw, udp4Frame(BROADCAST, C, IP.C, '255.255.255.255', 50000, 8303), 3, 0), FLOOD, 'and a game lobby query')
  t.is(decide(sw, udp4Frame(BROADCAST, A, IP.A, '255.255.255.255', 9999, 9999), 1, 0), FLOOD, 'another port has its own buckets')
  t.is(decide(sw, junk, 3, 10), FLOOD, 'refilled at 100/s: one token after 10 ms')
  t.is(decide(sw, junk, 3, 10), DROP)
})

test('storm control: unknown unicast and multicast have buckets too; 0 means unlimited', t => {
  const sw = room({ storm: { unknownUnicastPps: 10, multicastPps: 0, burstS: 1 } })
  const unknown = udp4Frame('02:99:99:99:99:99', A, IP.A, '10.77.0.99', 1, 2)
  let passed = 0
  for (let i = 0; i < 50; i++) if (decide(sw, unknown, 1) === FLOOD) passed++
  t.is(passed, 10)
  t.is(sw.counters.drops.storm_unknown_unicast, 40)
  for (let i = 0; i < 5000; i++) decide(sw, groupData(A, IP.A), 1)
  t.is(sw.counters.drops.storm_multicast, 0)
})
