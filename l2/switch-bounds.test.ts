/**
 * Every switch table a port's frames can grow is bounded per port and per room, and is
 * learned from only after storm control admitted the frame. Each test floods as an attacker
 * on port 3 would and checks the bound, the counted drop and that ports 1 and 2 still talk.
 */
import test from 'ava'
import { icmpv6Frame, ipv4, ipv6Bytes, mac, udp4Frame } from '../tests/support/frames.js'
import { A, B, C, IP, arpRequest, decide, igmpV2, linkLocal, ndMsg, room } from '../tests/support/l2-fixtures.js'
import { ARP_REPLY, writeArpFrame } from './arp.js'
import { Fdb } from './fdb.js'
import { ND_OPT_TARGET_LLA } from './ndp.js'
import { DROP, DROP_REASONS, FLOOD, L2Switch, REPLY } from './switch.js'

const arpReply = (fromMac: string, senderIp: number, toMac: string): Buffer => {
  const f = Buffer.alloc(60)
  writeArpFrame(f, 0, ARP_REPLY, mac(toMac), mac(fromMac), senderIp, mac(toMac), ipv4(IP.B))
  return f
}
/** Port 1 still reaches port 2 by unicast, and its ARP for port 2 is still answered. */
const bystandersFine = (t: { is: (a: unknown, b: unknown, m?: string) => void }, sw: L2Switch, now: number): void => {
  t.is(decide(sw, udp4Frame(B, A, IP.A, IP.B, 1000, 2000), 1, now), 2, 'bystander unicast delivered')
  t.is(decide(sw, arpRequest(A, IP.A, IP.B), 1, now), REPLY, 'bystander ARP answered')
}

test('an ARP flood with a new sender IP per frame (unicast replies) is held to the storm bucket, then to the per-port binding bound', t => {
  const sw = room({ storm: { discoveryPps: 1000, burstS: 1 } })
  let now = 0
  for (let i = 0; i < 200_000; i++) {
    if (i % 1000 === 0) now += 10 // 100 s in all: the bucket refills 1000 tokens a second
    decide(sw, arpReply(C, ipv4('10.78.0.0') + i, B), 3, now)
  }
  t.true(sw.neighbors.v4.learnedCount <= 32, `learned ${sw.neighbors.v4.learnedCount}`)
  t.true(sw.counters.drops.storm_discovery > 0, 'storm control saw the flood')
  t.true(sw.counters.drops.table_full > 0, 'the bound was hit and counted')
  t.is(sw.countersOf(3)!.drops.table_full, sw.counters.drops.table_full, 'counted on the attacker\'s port')
  bystandersFine(t, sw, now)
})

test('the room-wide binding bound holds across ports', t => {
  const sw = room({ allowBridging: true, tables: { bindingsPerPort: 50, bindingsPerRoom: 60 }, storm: { discoveryPps: 0 } })
  for (let i = 0; i < 100; i++) decide(sw, arpReply(C, ipv4('10.78.0.0') + i, B), 3, 0)
  for (let i = 0; i < 100; i++) decide(sw, arpReply(B, ipv4('10.79.0.0') + i, A), 2, 0)
  t.is(sw.neighbors.v4.learnedCount, 60)
  t.is(sw.neighbors.v4.countFor(3), 50)
  t.is(sw.neighbors.v4.countFor(2), 10)
  sw.removePort(3)
  t.is(sw.neighbors.v4.learnedCount, 10, 'a port that leaves frees its share')
})

test('an ND flood (NAs for new targets) is bounded the same way', t => {
  const sw = room({ storm: { discoveryPps: 0 } })
  for (let i = 0; i < 5000; i++) {
    const target = `fd00::${(i + 1).toString(16)}`
    decide(sw, icmpv6Frame('33:33:00:00:00:01', C, linkLocal(C), 'ff02::1', ndMsg(136, target, ND_OPT_TARGET_LLA, C, 0x20)), 3, 0)
  }
  t.true(sw.neighbors.v6.learnedCount <= 32, `learned ${sw.neighbors.v6.learnedCount}`)
  t.true(sw.counters.drops.table_full >= 5000 - 32)
  bystandersFine(t, sw, 0)
})

test('an IGMP report flood (a new group per report) is bounded per port and counted', t => {
  const sw = room({ storm: { discoveryPps: 0 } })
  for (let i = 0; i < 10_000; i++) decide(sw, igmpV2(C, IP.C, 0x16, `239.${(i >> 16) & 0x7f}.${(i >> 8) & 0xff}.${i & 0xff}`), 3, 0)
  t.is(sw.groups.countFor(3), 256)
  t.is(sw.groups.size, 256)
  t.is(sw.counters.drops.table_full, 10_000 - 256)
  t.is(decide(sw, igmpV2(B, IP.B, 0x16, '239.200.0.1'), 2, 0), DROP, 'another port still joins (report consumed)')
  t.is(sw.groups.members(0x01005e480001).length, 1)
  bystandersFine(t, sw, 0)
})

test('an MLD report flood is bounded too, and the room-wide group bound holds', t => {
  const sw = room({ storm: { discoveryPps: 0 }, tables: { groupsPerRoom: 300 } })
  const mldV1 = (from: string, port: number, i: number): number => {
    const m = Buffer.alloc(24); m[0] = 131
    const g = ipv6Bytes('ff0e::'); g.writeUInt32BE(i + 1, 12); g.copy(m, 8)
    return decide(sw, icmpv6Frame(`33:33:${g.toString('hex', 12, 16).match(/../g)!.join(':')}`, from, linkLocal(from), 'ff0e::1', m, { hopLimit: 1 }), port, 0)
  }
  for (let i = 0; i < 5000; i++) mldV1(C, 3, i)
  t.is(sw.groups.countFor(3), 256)
  for (let i = 5000; i < 5200; i++) mldV1(B, 2, i)
  t.is(sw.groups.size, 300, 'room bound')
  t.true(sw.counters.drops.table_full > 0)
})

test('a report is learned only after storm control admitted it', t => {
  const sw = room({ storm: { discoveryPps: 10, burstS: 1 } })
  for (let i = 0; i < 100; i++) decide(sw, igmpV2(C, IP.C, 0x16, `239.1.0.${i}`), 3, 0)
  t.is(sw.groups.countFor(3), 10, 'only the 10 admitted reports were learned')
  t.is(sw.counters.drops.storm_discovery, 90)
})

test('an ARP whose sender hardware address is not the port\'s lease is dropped (arp_spoof)', t => {
  const sw = room()
  // From port 3, with its own Ethernet source, but telling everyone that 10.77.0.3 is at B's MAC.
  const f = Buffer.alloc(60)
  writeArpFrame(f, 0, ARP_REPLY, mac(A), mac(B), ipv4(IP.C), mac(A), ipv4(IP.A))
  f.writeUIntBE(mac(C), 6, 6)
  t.is(decide(sw, f, 3), DROP)
  t.is(sw.counters.drops.arp_spoof, 1)
  const g = Buffer.alloc(60)
  writeArpFrame(g, 0, ARP_REPLY, mac(A), mac(C), ipv4(IP.C), mac(A), ipv4(IP.A))
  t.is(decide(sw, g, 3), 1, 'its own MAC is fine')
})

test('a lease\'s static MAC entry is never moved by another port', t => {
  const fdb = new Fdb()
  t.true(fdb.setStatic(mac(A), 1))
  t.false(fdb.setStatic(mac(A), 2), 'refused')
  t.is(fdb.lookup(mac(A), 0), 1)
  const sw = room()
  t.false(sw.addPort(4, mac(A), ipv4('10.77.0.4')), 'a port with another port\'s leased MAC is refused')
  t.is(decide(sw, udp4Frame(A, B, IP.B, IP.A, 1, 2), 2), 1, 'A\'s unicast still goes to A')
})

test('every drop reason has a counter (no label can be missing)', t => {
  const sw = room()
  for (const r of DROP_REASONS) t.is(sw.counters.drops[r], 0, r)
  t.is(decide(sw, udp4Frame(B, A, IP.A, IP.B, 1, 2), 1), 2)
  t.is(decide(sw, arpRequest(A, IP.A, '10.77.0.99'), 1), FLOOD)
})
