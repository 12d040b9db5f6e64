import test from 'ava'
import dnsPacket from 'dns-packet'
import { decodeControl } from '../core/protocol.js'
import { FIELD_MAX, MAX_ENTRIES, MAX_ENTRIES_PER_PEER, RoomDirectory, describeServices, type Observation } from './directory.js'
import { OPCODE_RELEASE, OPCODE_REGISTRATION, TYPE_NB, encode as encodeNbns, packet } from './nbns.js'
import { formatSsdp } from './ssdp-message.js'

const obs = (peer: string, srcPort: number, dstPort: number, now = 0, srcIp = '10.77.0.1'): Observation => ({ peer, srcIp, srcPort, dstPort, now })
const feed = (d: RoomDirectory, o: Observation, payload: Buffer): void => { d.observe(o, payload, 0, payload.length) }

test('mDNS / DNS-SD: a printer announcement becomes one entry with host address and port', t => {
  const d = new RoomDirectory()
  feed(d, obs('alice', 5353, 5353), dnsPacket.encode({
    type: 'response',
    answers: [
      { name: '_ipp._tcp.local', type: 'PTR', ttl: 4500, data: 'Office._ipp._tcp.local' },
      { name: 'Office._ipp._tcp.local', type: 'SRV', ttl: 120, data: { port: 631, target: 'alice.local', priority: 0, weight: 0 } },
      { name: 'alice.local', type: 'A', ttl: 120, data: '10.77.0.1' }
    ]
  }))
  t.like(d.list(0).find(e => e.type === '_ipp._tcp'), { peer: 'alice', kind: 'mdns', name: 'Office', address: '10.77.0.1', port: 631 })
  t.true(d.list(0).some(e => e.type === 'host' && e.name === 'alice.local'))
  t.deepEqual(describeServices(d.list(0)).get('alice'), ["printer 'Office' (ipp)"])
  // cupsd announces a shared queue as _ipp, _ipps and _printer: still one printer.
  for (const type of ['_ipps._tcp', '_printer._tcp']) {
    feed(d, obs('alice', 5353, 5353), dnsPacket.encode({ type: 'response', answers: [{ name: `Office.${type}.local`, type: 'SRV', ttl: 120, data: { port: 631, target: 'alice.local', priority: 0, weight: 0 } }] }))
  }
  t.deepEqual(describeServices(d.list(0)).get('alice'), ["printer 'Office' (ipp, ipps, lpd)"])
})

test('mDNS goodbye (TTL 0) removes; entries expire; legacy unicast answers are ignored', t => {
  const d = new RoomDirectory()
  const a = (ttl: number): Buffer => dnsPacket.encode({ type: 'response', answers: [{ name: 'bob.local', type: 'A', ttl, data: '10.77.0.2' }] })
  feed(d, obs('bob', 5353, 5353, 0), a(120))
  t.is(d.size, 1)
  feed(d, obs('bob', 5353, 40000, 1), a(10))
  t.is(d.list(1)[0]!.expires, 120_000, 'a 10 s legacy answer does not shorten the entry')
  t.is(d.list(119_999).length, 1)
  t.is(d.list(120_000).length, 0)
  feed(d, obs('bob', 5353, 5353, 0), a(120))
  feed(d, obs('bob', 5353, 5353, 1), a(0))
  t.is(d.size, 0)
})

test('SSDP: NOTIFY alive adds a device, byebye removes it; services of the device are not listed', t => {
  const d = new RoomDirectory()
  const notify = (nt: string, nts: string): Buffer => formatSsdp('NOTIFY * HTTP/1.1', [['HOST', '239.255.255.250:1900'], ['CACHE-CONTROL', 'max-age=1800'],
    ['LOCATION', 'http://10.77.0.1:8200/rootDesc.xml'], ['SERVER', 'Debian/12 DLNADOC/1.50 UPnP/1.0 MiniDLNA/1.3.0'], ['NT', nt], ['NTS', nts], ['USN', `uuid:4d696e69::${nt}`]])
  feed(d, obs('alice', 1900, 1900), notify('urn:schemas-upnp-org:device:MediaServer:1', 'ssdp:alive'))
  feed(d, obs('alice', 1900, 1900), notify('urn:schemas-upnp-org:service:ContentDirectory:1', 'ssdp:alive'))
  t.is(d.size, 1)
  t.like(d.list(0)[0], { kind: 'ssdp', name: 'MediaServer', port: 8200 })
  t.deepEqual(describeServices(d.list(0)).get('alice'), ['UPnP MediaServer (MiniDLNA/1.3.0)'])
  feed(d, obs('alice', 1900, 1900), notify('urn:schemas-upnp-org:device:MediaServer:1', 'ssdp:byebye'))
  t.is(d.size, 0)
})

test('NBNS: registrations and releases; <20> reads as SMB', t => {
  const d = new RoomDirectory()
  const reg = (opcode: number, suffix: number): Buffer => encodeNbns(packet({ id: 1, opcode, broadcast: true, questions: [{ name: { name: 'ALICE', suffix }, type: TYPE_NB }],
    additionals: [{ name: { name: 'ALICE', suffix }, type: TYPE_NB, ttl: 300, addresses: [{ group: false, ont: 0, address: '10.77.0.1' }] }] }))
  feed(d, obs('alice', 137, 137), reg(OPCODE_REGISTRATION, 0x00))
  t.deepEqual(describeServices(d.list(0)).get('alice'), ['NetBIOS ALICE'])
  feed(d, obs('alice', 137, 137), reg(OPCODE_REGISTRATION, 0x20))
  t.deepEqual(describeServices(d.list(0)).get('alice'), ['SMB ALICE'], 'the SMB name replaces the workstation one')
  feed(d, obs('alice', 137, 137), reg(OPCODE_RELEASE, 0x20))
  feed(d, obs('alice', 137, 137), reg(OPCODE_RELEASE, 0x00))
  t.is(d.size, 0)
})

test('NBNS: a registration with TTL 0 (nmbd) is infinite, not a release (RFC 1001 §15.1.1)', t => {
  const d = new RoomDirectory()
  feed(d, obs('alice', 137, 137), encodeNbns(packet({ id: 1, opcode: OPCODE_REGISTRATION, broadcast: true, questions: [{ name: { name: 'ALICE', suffix: 0x20 }, type: TYPE_NB }],
    additionals: [{ name: { name: 'ALICE', suffix: 0x20 }, type: TYPE_NB, ttl: 0, addresses: [{ group: false, ont: 0, address: '10.77.0.1' }] }] })))
  t.deepEqual(describeServices(d.list(0)).get('alice'), ['SMB ALICE'])
  t.deepEqual(describeServices(d.list(3_000_000)).get('alice'), ['SMB ALICE'], 'still there after 50 minutes')
})

test('game answers become entries; junk is counted, never thrown', t => {
  const d = new RoomDirectory()
  const z = (s: string): Buffer => Buffer.concat([Buffer.from(s), Buffer.from([0])])
  feed(d, obs('alice', 8303, 50000), Buffer.concat([Buffer.from('21aabbccdd11223344ffffffff', 'hex'), Buffer.from('inf3'), Buffer.from([42]), z('0.7.5'), z('Friday DM'), z(''), z('dm1'), z('DM'), Buffer.from([0, 1, 0, 8, 0, 8])]))
  t.deepEqual(describeServices(d.list(0)).get('alice'), ["Teeworlds server 'Friday DM' :8303 (map dm1, 0/8 players)"])
  feed(d, obs('alice', 5353, 5353), Buffer.from('garbage'))
  feed(d, obs('alice', 137, 137), Buffer.from('garbage'))
  t.is(d.bad, 2)
})

test('bounded: the oldest entries go first; a leaving peer takes its entries', t => {
  const d = new RoomDirectory({ maxPerPeer: MAX_ENTRIES })
  for (let i = 0; i < MAX_ENTRIES + 10; i++) {
    feed(d, obs(`p${i % 3}`, 5353, 5353, i), dnsPacket.encode({ type: 'response', answers: [{ name: `h${i}.local`, type: 'A', ttl: 120, data: '10.77.0.9' }] }))
  }
  t.is(d.size, MAX_ENTRIES)
  t.false(d.list(1000).some(e => e.name === 'h0.local'))
  d.removePeer('p0')
  t.false(d.list(1000).some(e => e.peer === 'p0'))
})

test('bounded per peer: a chatty peer evicts its own oldest entries, never others\'', t => {
  const d = new RoomDirectory()
  feed(d, obs('bob', 5353, 5353, 0), dnsPacket.encode({ type: 'response', answers: [{ name: 'bob.local', type: 'A', ttl: 120, data: '10.77.0.2' }] }))
  for (let i = 0; i < 1000; i++) {
    feed(d, obs('eve', 5353, 5353, i), dnsPacket.encode({ type: 'response', answers: [{ name: `e${i}.local`, type: 'A', ttl: 120, data: '10.77.0.9' }] }))
  }
  t.is(d.countFor('eve'), MAX_ENTRIES_PER_PEER)
  t.true(d.list(1000).some(e => e.peer === 'bob'), 'bob\'s entry stays')
})

test('every field is cut to fit the protocol: a 300-character SSDP NT still makes a valid entry', t => {
  const d = new RoomDirectory()
  const nt = `urn:schemas-upnp-org:device:${'X'.repeat(300)}:1`
  feed(d, obs('eve', 1900, 1900), Buffer.from(`NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: ${nt}\r\nNTS: ssdp:alive\r\nUSN: uuid:1::${nt}\r\nCACHE-CONTROL: max-age=1800\r\nLOCATION: http://10.77.0.9:80/d.xml\r\n\r\n`))
  const [e] = d.list(0)
  t.truthy(e)
  t.true(e!.type.length <= FIELD_MAX && e!.name.length <= FIELD_MAX && e!.detail.length <= FIELD_MAX)
  const r = decodeControl(JSON.stringify({ type: 'room', room: 'friday', members: [], services: d.list(0) }))
  t.true(r.ok && r.message !== null && r.message.type === 'room' && r.message.services.length === 1, 'the protocol accepts it')
})

test('restore after a hub restart: well-formed, unexpired entries come back through the bounds; absent peers can be dropped', t => {
  const d = new RoomDirectory()
  feed(d, obs('alice', 5353, 5353, 0), dnsPacket.encode({ type: 'response', answers: [{ name: 'alice.local', type: 'A', ttl: 120, data: '10.77.0.1' }] }))
  feed(d, obs('bob', 5353, 5353, 0), dnsPacket.encode({ type: 'response', answers: [{ name: 'bob.local', type: 'A', ttl: 10, data: '10.77.0.2' }] }))
  const saved = JSON.parse(JSON.stringify(d.list(0))) as unknown[]
  const again = new RoomDirectory()
  t.is(again.restore([...saved, null, { peer: 'x', kind: 'evil' }, 'junk'], 20_000), 1, 'bob\'s expired entry and the junk stay out')
  t.deepEqual(again.list(20_000).map(e => e.name), ['alice.local'])
  t.is(again.restore('not a list', 0), 0)
  again.keepOnly(new Set(['bob']))
  t.is(again.size, 0)
})
