import test from 'ava'
import { BROADCAST, ethFrame, icmpv6Frame, ipv4Frame, udp, udp4Frame, vlanFrame } from '../tests/support/frames.js'
import {
  CLASS_ARP, CLASS_BROADCAST, CLASS_DHCP, CLASS_GAME, CLASS_IGMP_MLD, CLASS_LLMNR, CLASS_MDNS, CLASS_MULTICAST, CLASS_ND,
  CLASS_NETBIOS, CLASS_OTHER, CLASS_SSDP, CLASS_UNICAST, CLASS_WSD, FRAME_CLASS_NAMES, FrameInfo, inspect, isDiscoveryClass
} from './packet.js'

const A = '02:00:00:00:00:0a'
const B = '02:00:00:00:00:0b'
const look = (f: Buffer): FrameInfo => { const i = new FrameInfo(); inspect(f, 0, f.length, i); return i }
const cls = (f: Buffer): string => { const i = look(f); return i.drop ?? FRAME_CLASS_NAMES[i.cls]! }

test('discovery protocols are classified by UDP port', t => {
  t.is(look(udp4Frame('01:00:5e:00:00:fb', A, '10.77.0.1', '224.0.0.251', 5353, 5353)).cls, CLASS_MDNS)
  t.is(look(udp4Frame('01:00:5e:7f:ff:fa', A, '10.77.0.1', '239.255.255.250', 40000, 1900)).cls, CLASS_SSDP)
  t.is(look(udp4Frame(BROADCAST, A, '10.77.0.1', '10.77.0.255', 137, 137)).cls, CLASS_NETBIOS)
  t.is(look(udp4Frame(BROADCAST, A, '0.0.0.0', '255.255.255.255', 68, 67)).cls, CLASS_DHCP)
  t.is(look(udp4Frame('01:00:5e:00:00:fc', A, '10.77.0.1', '224.0.0.252', 50000, 5355)).cls, CLASS_LLMNR)
  t.is(look(udp4Frame('01:00:5e:7f:ff:fa', A, '10.77.0.1', '239.255.255.250', 50000, 3702)).cls, CLASS_WSD)
  t.is(look(udp4Frame(BROADCAST, A, '10.77.0.1', '255.255.255.255', 50000, 8303)).cls, CLASS_GAME, 'Teeworlds query')
  t.is(look(udp4Frame(B, A, '10.77.0.1', '10.77.0.2', 27960, 50000)).cls, CLASS_GAME, 'Quake 3 answer, by source port')
  t.true(isDiscoveryClass(CLASS_GAME) && isDiscoveryClass(CLASS_ARP) && !isDiscoveryClass(CLASS_BROADCAST))
})

test('other traffic is classified by destination; non-IP EtherTypes are "other"', t => {
  t.is(look(udp4Frame(B, A, '10.77.0.1', '10.77.0.2', 40000, 445)).cls, CLASS_UNICAST)
  t.is(look(udp4Frame(BROADCAST, A, '10.77.0.1', '255.255.255.255', 40000, 9999)).cls, CLASS_BROADCAST)
  t.is(look(udp4Frame('01:00:5e:01:02:03', A, '10.77.0.1', '239.1.2.3', 40000, 9999)).cls, CLASS_MULTICAST)
  t.is(look(ethFrame(BROADCAST, A, 0x0806)).cls, CLASS_ARP)
  t.is(look(ethFrame(BROADCAST, A, 0x8137)).cls, CLASS_OTHER, 'IPX')
  t.is(look(vlanFrame(B, A, 5, 0x0806, Buffer.alloc(28))).cls, CLASS_ARP, 'through an 802.1Q tag')
})

test('ICMPv6: ND and MLD (behind a Hop-by-Hop header) are classified', t => {
  const ns = Buffer.alloc(24); ns[0] = 135
  t.is(look(icmpv6Frame('33:33:ff:00:00:02', A, 'fe80::1', 'ff02::1:ff00:2', ns)).cls, CLASS_ND)
  const mld = Buffer.alloc(24); mld[0] = 131
  const hbh = Buffer.from([0, 0, 5, 2, 0, 0, 1, 0])
  const i = look(icmpv6Frame('33:33:00:00:00:fb', A, 'fe80::1', 'ff02::fb', mld, { hopByHop: hbh, hopLimit: 1 }))
  t.is(i.cls, CLASS_IGMP_MLD)
  t.true(i.v6LinkLocalMulticast)
  t.is(i.l4, 14 + 40 + 8)
  const echo = Buffer.alloc(8); echo[0] = 128
  t.is(look(icmpv6Frame(B, A, 'fe80::1', 'fe80::2', echo)).cls, CLASS_UNICAST)
})

test('IGMP is classified; offsets point at the IGMP message', t => {
  const igmp = Buffer.alloc(8); igmp[0] = 0x16
  const i = look(ipv4Frame('01:00:5e:01:02:03', A, '10.77.0.1', '239.1.2.3', 2, igmp, { ttl: 1, options: Buffer.from([0x94, 4, 0, 0]) }))
  t.is(i.cls, CLASS_IGMP_MLD)
  t.is(i.l4, 14 + 24)
  t.is(i.l4Len, 8)
})

test('malformed IPv4 is dropped by reason; Ethernet padding is fine', t => {
  const good = udp4Frame(B, A, '10.77.0.1', '10.77.0.2', 1, 2)
  t.is(look(good).drop, null)
  const runt = ethFrame(B, A, 0x0800, Buffer.alloc(19, 0x45))
  t.is(cls(runt), 'bad_ipv4')
  const v6inv4 = Buffer.from(good); v6inv4[14] = 0x65
  t.is(cls(v6inv4), 'bad_ipv4', 'version does not match EtherType')
  const ihl4 = Buffer.from(good); ihl4[14] = 0x44
  t.is(cls(ihl4), 'bad_ipv4', 'IHL < 5')
  const ihl15 = Buffer.from(good); ihl15[14] = 0x4f
  t.is(cls(ihl15), 'bad_ipv4', 'IHL beyond the packet')
  const long = Buffer.from(good); long.writeUInt16BE(2000, 16)
  t.is(cls(long), 'bad_ipv4', 'total length beyond the frame')
  const short = Buffer.from(good); short.writeUInt16BE(19, 16)
  t.is(cls(short), 'bad_ipv4', 'total length under the header')
  const ttl0 = Buffer.from(good); ttl0[22] = 0
  t.is(cls(ttl0), 'ttl_zero')
  t.is(look(ipv4Frame(B, A, '10.77.0.1', '10.77.0.2', 17, Buffer.alloc(4))).drop, 'bad_l4', 'UDP header cut short')
  const padded = Buffer.concat([good, Buffer.alloc(20)])
  t.is(look(padded).drop, null)
})

test('non-first IPv4 fragments have no L4 header and are not read as one', t => {
  const f = udp4Frame(BROADCAST, A, '10.77.0.1', '255.255.255.255', 137, 137)
  f.writeUInt16BE(0x00b9, 14 + 6) // fragment offset 185 * 8
  const i = look(f)
  t.is(i.drop, null)
  t.is(i.l4, -1)
  t.is(i.cls, CLASS_BROADCAST)
})

test('malformed IPv6 is dropped by reason', t => {
  const echo = Buffer.alloc(8); echo[0] = 128
  const good = icmpv6Frame(B, A, 'fe80::1', 'fe80::2', echo)
  t.is(look(good).drop, null)
  t.is(cls(ethFrame(B, A, 0x86dd, Buffer.alloc(39, 0x60))), 'bad_ipv6')
  const over = Buffer.from(good); over.writeUInt16BE(500, 18)
  t.is(cls(over), 'bad_ipv6', 'payload length beyond the frame')
  const hbhOver = icmpv6Frame(B, A, 'fe80::1', 'fe80::2', echo, { hopByHop: Buffer.from([0, 9, 0, 0, 0, 0, 0, 0]) })
  t.is(cls(hbhOver), 'bad_ipv6', 'extension header runs past the packet')
  const cut = Buffer.from(good); cut.writeUInt16BE(2, 18)
  t.is(cls(cut), 'bad_l4', 'ICMPv6 header cut short')
})

test('ARP shorter than 28 bytes for Ethernet/IPv4 is bad_arp', t => {
  const arp = Buffer.alloc(20)
  arp.writeUInt16BE(1, 0); arp.writeUInt16BE(0x0800, 2)
  t.is(cls(Buffer.concat([ethFrame(BROADCAST, A, 0x0806, Buffer.alloc(0)), arp])), 'bad_arp')
  t.is(cls(ethFrame(BROADCAST, A, 0x0806, Buffer.alloc(4))), 'bad_arp')
})

test('UDP ports and the port table reach through to FrameInfo', t => {
  const i = look(udp4Frame(B, A, '10.77.0.1', '10.77.0.2', 1234, 5678, udp(1, 2)))
  t.deepEqual([i.srcPort, i.dstPort, i.proto], [1234, 5678, 17])
})
