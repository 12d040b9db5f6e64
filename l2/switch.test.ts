import test from 'ava'
import { BROADCAST, ethFrame, mac, udp4Frame } from '../tests/support/frames.js'
import { DROP, FLOOD, L2Switch } from './switch.js'
import { CLASS_ARP, CLASS_MDNS, CLASS_MULTICAST, CLASS_OTHER } from './packet.js'

const A = '02:00:00:00:00:0a'
const B = '02:00:00:00:00:0b'
const C = '02:00:00:00:00:0c'

const room = (allowBridging = false): L2Switch => {
  const sw = new L2Switch({ mtu: 1400, allowBridging })
  sw.addPort(1, mac(A))
  sw.addPort(2, mac(B))
  sw.addPort(3, mac(C))
  return sw
}
const decide = (sw: L2Switch, f: Buffer, port: number, now = 0): number => sw.decide(f, 0, f.length, port, now)

test('known unicast goes to exactly one port', t => {
  const sw = room()
  t.is(decide(sw, ethFrame(B, A), 1), 2)
  t.is(decide(sw, ethFrame(A, C), 3), 1)
  t.is(sw.counters.unicast, 2)
})

test('broadcast, multicast and unknown unicast flood', t => {
  const sw = room()
  t.is(decide(sw, ethFrame(BROADCAST, A, 0x0806), 1), FLOOD)
  t.is(decide(sw, udp4Frame('01:00:5e:01:02:03', A, '10.77.0.1', '239.1.2.3', 5000, 5000), 1), FLOOD, 'no memberships seen yet')
  t.is(decide(sw, ethFrame('02:99:99:99:99:99', A), 1), FLOOD)
  t.like(sw.counters, { flooded: 3, unknownUnicast: 1 })
  t.is(sw.counters.frames[CLASS_ARP], 1)
  t.is(sw.counters.frames[CLASS_MULTICAST], 1)
  t.is(sw.counters.frames[CLASS_OTHER], 1, 'a non-IP EtherType')
  t.deepEqual(sw.ports, [1, 2, 3], 'the caller floods to these minus the ingress')
})

test('a frame for the ingress port is filtered, never sent back', t => {
  const sw = room(true)
  decide(sw, ethFrame(B, '02:00:00:00:01:01'), 1) // learn a bridged MAC behind port 1
  t.is(decide(sw, ethFrame('02:00:00:00:01:01', A), 1), DROP)
  t.is(sw.counters.drops.same_port, 1)
})

test('runt, oversize and bad source MACs are counted drops', t => {
  const sw = room()
  t.is(sw.decide(Buffer.alloc(13), 0, 13, 1, 0), DROP)
  t.is(decide(sw, ethFrame(B, A, 0x88b5, Buffer.alloc(1405)), 1), DROP, '1419 > 1400 + 14 + 4')
  t.not(decide(sw, ethFrame(B, A, 0x88b5, Buffer.alloc(1404)), 1), DROP, '1418 fits')
  t.is(decide(sw, ethFrame(B, '03:00:00:00:00:0a'), 1), DROP, 'group source')
  t.is(decide(sw, ethFrame(B, '00:00:00:00:00:00'), 1), DROP, 'zero source')
  t.like(sw.counters.drops, { runt: 1, oversize: 1, src_group: 1, src_zero: 1 })
})

test('without bridging a port may only send from its leased MAC', t => {
  const sw = room()
  t.is(decide(sw, ethFrame(B, '02:00:00:00:01:01'), 1), DROP)
  t.is(decide(sw, ethFrame(BROADCAST, B), 1), DROP, 'spoofing another peer')
  t.is(sw.counters.drops.src_not_leased, 2)
  t.is(sw.fdb.lookup(mac(B), 0), 2, 'the lease was not moved')
})

test('with bridging, extra MACs are learned but leases cannot be stolen', t => {
  const sw = room(true)
  t.is(decide(sw, ethFrame(BROADCAST, '02:00:00:00:01:01'), 1), FLOOD)
  t.is(decide(sw, ethFrame('02:00:00:00:01:01', B), 2), 1, 'learned behind port 1')
  t.is(decide(sw, ethFrame(BROADCAST, B), 1), DROP)
  t.is(sw.counters.drops.src_stolen, 1)
  t.is(decide(sw, ethFrame(A, '02:00:00:00:01:01'), 3), 1, 'a learned (non-leased) MAC may move')
  t.is(sw.fdb.lookup(0x020000000101, 0), 3)
  t.is(sw.fdb.moves, 1)
})

test('a port that leaves takes its MACs with it; others never see its frames', t => {
  const sw = room(true)
  decide(sw, ethFrame(BROADCAST, '02:00:00:00:01:01'), 1)
  sw.removePort(1)
  t.deepEqual(sw.ports, [2, 3])
  t.is(sw.fdb.lookup(mac(A), 0), -1)
  t.is(sw.fdb.lookup(0x020000000101, 0), -1)
  t.is(decide(sw, ethFrame(A, B), 2), FLOOD, 'now unknown')
})

test('learned entries age: a silent bridged MAC becomes unknown after 300 s', t => {
  const sw = room(true)
  decide(sw, ethFrame(BROADCAST, '02:00:00:00:01:01'), 1, 0)
  t.is(decide(sw, ethFrame('02:00:00:00:01:01', B), 2, 299_999), 1)
  t.is(decide(sw, ethFrame('02:00:00:00:01:01', B), 2, 300_000), FLOOD)
})

test('a frame dropped before inspection never leaves the previous frame\'s view in `info`', t => {
  const sw = room()
  decide(sw, udp4Frame('01:00:5e:00:00:fb', A, '10.77.0.1', '224.0.0.251', 5353, 5353), 1)
  t.is(sw.info.cls, CLASS_MDNS)
  t.is(sw.decide(Buffer.alloc(10), 0, 10, 1, 0), DROP)
  t.is(sw.info.cls, CLASS_OTHER, 'the room must not take the runt for mDNS')
})
