/**
 * Two direct links joined by an in-memory Bind (the real sockets are in the e2e tests):
 * handshake and frames both ways, MAC enforcement, forged, replayed and non-member packets,
 * the handshake rate limit, and the batch split of route().
 */
import test from 'ava'
import { generateKeyPair, type KeyPair } from '../core/keys.js'
import { createLogger } from '../core/log.js'
import { encodeBatch, type Member } from '../core/protocol.js'
import { Initiator, timestamp } from '../core/direct/noise.js'
import { encodeInit, initPayload } from '../core/direct/wire.js'
import { TYPE_DATA } from '../core/direct/transport.js'
import { DirectLink, HANDSHAKES_PER_S, REJOIN_GRACE_MS, macNumber } from './direct-link.js'
import { CLASS_ARP, CLASS_BROADCAST, CLASS_MDNS, CLASS_UNICAST } from '../l2/packet-classes.js'

const U = new Uint8Array(16).fill(CLASS_UNICAST)
import type { Bind } from './udp-bind.js'

class MemoryNet {
  readonly binds = new Map<string, MemoryBind>()
  /** Every datagram sent, for replays and inspection. */
  readonly log: Array<{ from: string, to: string, packet: Buffer }> = []
  blocked = false
  deliver (from: string, to: string, packet: Buffer): void {
    this.log.push({ from, to, packet: Buffer.from(packet) })
    if (this.blocked) return
    const [address, port] = from.split(':')
    this.binds.get(to)?.onPacket(Buffer.from(packet), address!, Number(port))
  }
}

class MemoryBind implements Bind {
  localPort: number | null = null
  sendErrors = 0
  onPacket: (msg: Buffer, address: string, port: number) => void = () => {}
  constructor (private readonly net: MemoryNet, readonly address: string, private readonly port: number) { net.binds.set(`${address}:${port}`, this) }
  async open (): Promise<number | null> { this.localPort = this.port; return this.port }
  send (packet: Buffer, port: number, address: string): void { this.net.deliver(`${this.address}:${this.port}`, `${address}:${port}`, packet) }
  /** Punches die on the way (as they should), but are recorded. */
  punches = 0
  sendWithTtl (_packet: Buffer, targets: ReadonlyArray<{ address: string, port: number }>): void { this.punches += targets.length }
  close (): void {}
}

const log = createLogger('test', { level: 'error' })
const MAC_A = '02:00:00:00:00:0a'
const MAC_B = '02:00:00:00:00:0b'

interface Side { link: DirectLink, key: KeyPair, bind: MemoryBind, got: Buffer[], member: Member }

const pair = (t: { teardown: (f: () => void) => void }): { a: Side, b: Side, net: MemoryNet, clock: { now: number }, tick: (ms: number) => void } => {
  const net = new MemoryNet()
  const clock = { now: 1000 }
  const side = (name: string, mac: string, ip: string): Side => {
    const key = generateKeyPair()
    const bind = new MemoryBind(net, ip, 41641)
    const got: Buffer[] = []
    const link = new DirectLink({ bind, key, log, now: () => clock.now, deliver: (b, off, len) => { got.push(Buffer.from(b.subarray(off, off + len))) } })
    link.configure({ mac: macNumber(mac), mtu: 1400, bridging: false, enabled: true })
    return { link, key, bind, got, member: { name, mac, ip: '10.0.0.' + name.length, key: key.publicKey, endpoints: [`${ip}:41641`] } }
  }
  const a = side('alice', MAC_A, '192.0.2.1')
  const b = side('bob', MAC_B, '198.51.100.1')
  a.link.setMembers([a.member, b.member], clock.now)
  b.link.setMembers([a.member, b.member], clock.now)
  const tick = (ms: number): void => {
    for (let i = 0; i < ms; i += 250) { clock.now += 250; a.link.tick(clock.now); b.link.tick(clock.now) }
  }
  void t
  return { a, b, net, clock, tick }
}

/** An IPv4 frame from `src` to `dst` (MACs as text). */
const ipv4Frame = (dst: string, src: string, len = 100): Buffer => {
  const f = Buffer.alloc(len)
  f.writeUIntBE(macNumber(dst), 0, 6)
  f.writeUIntBE(macNumber(src), 6, 6)
  f.writeUInt16BE(0x0800, 12)
  f[14] = 0x45
  return f
}

test('both sides probe at once; the path goes direct, frames flow both ways, the RTT is measured', t => {
  const { a, b, tick } = pair(t)
  tick(250)
  t.true(a.bind.punches > 0 && b.bind.punches > 0, 'both punch first')
  t.is(a.link.counters.handshakesSent, 0, 'no handshake with the first punch')
  tick(750)
  t.is(a.link.pathOf(MAC_B)?.path, 'direct')
  t.is(b.link.pathOf(MAC_A)?.path, 'direct')
  t.is(a.link.reaching, 1)
  const f = ipv4Frame(MAC_B, MAC_A)
  t.is(a.link.take(encodeBatch([f]), 1, U), null, 'sent directly: nothing for the hub')
  t.is(b.got.length, 1)
  t.true(b.got[0]!.equals(f))
  t.is(b.link.take(encodeBatch([ipv4Frame(MAC_A, MAC_B)]), 1, U), null)
  t.is(a.got.length, 1)
  tick(2000)
  t.not(a.link.pathOf(MAC_B)?.rttMs, null)
})

test('route(): broadcast, ARP, discovery and frames for members without a path stay in the batch for the hub', t => {
  const { a, tick } = pair(t)
  tick(1000)
  const arp = ipv4Frame(MAC_B, MAC_A); arp.writeUInt16BE(0x0806, 12)
  const bcast = ipv4Frame('ff:ff:ff:ff:ff:ff', MAC_A)
  const other = ipv4Frame('02:00:00:00:00:0c', MAC_A)
  const direct = ipv4Frame(MAC_B, MAC_A)
  const mdnsAnswer = ipv4Frame(MAC_B, MAC_A)
  const rest = a.link.take(encodeBatch([arp, direct, bcast, other, mdnsAnswer]), 5, Uint8Array.of(CLASS_ARP, CLASS_UNICAST, CLASS_BROADCAST, CLASS_UNICAST, CLASS_MDNS))
  t.truthy(rest)
  t.true(rest!.equals(encodeBatch([arp, bcast, other, mdnsAnswer])), 'a unicast discovery answer feeds the hub\'s directory')
  const none = encodeBatch([arp])
  t.is(a.link.take(none, 1, U), none, 'the same buffer when nothing went direct')
})

test('a frame on the direct path must come from the member\'s leased MAC and be for ours', t => {
  const { a, b, tick } = pair(t)
  tick(1000)
  b.link.take(encodeBatch([ipv4Frame(MAC_A, '02:00:00:00:00:99')]), 1, U) // bob forging another source
  t.is(a.got.length, 0)
  t.is(a.link.counters.drops.src_mac, 1)
  b.link.take(encodeBatch([ipv4Frame(MAC_B, MAC_B)]), 1, U) // not routed to a (dst is bob's own): stays for the hub
  t.is(a.got.length, 0)
})

test('forged, replayed and damaged DATA packets are dropped and counted; the path survives', t => {
  const { a, b, net, tick } = pair(t)
  tick(1000)
  b.link.take(encodeBatch([ipv4Frame(MAC_A, MAC_B)]), 1, U)
  t.is(a.got.length, 1)
  const data = net.log.filter(x => x.to.startsWith('192.0.2.1') && x.packet[0] === TYPE_DATA).at(-1)!
  a.bind.onPacket(Buffer.from(data.packet), '198.51.100.1', 41641)
  t.is(a.link.counters.drops.replay, 1, 'replayed')
  const damaged = Buffer.from(data.packet); damaged[damaged.length - 1]! ^= 1
  damaged.writeBigUInt64LE(999n, 5)
  a.bind.onPacket(damaged, '198.51.100.1', 41641)
  t.is(a.link.counters.drops.auth, 1, 'forged')
  const unknown = Buffer.from(data.packet); unknown.writeUInt32LE(0x12345678, 1)
  a.bind.onPacket(unknown, '198.51.100.1', 41641)
  t.is(a.link.counters.drops.unknown_index, 1)
  for (const junk of [Buffer.alloc(0), Buffer.from([9, 9, 9]), Buffer.from([1, 2, 3]), Buffer.from([2, 0, 0, 0, 0])]) a.bind.onPacket(junk, '203.0.113.9', 1)
  t.true(a.link.counters.drops.bad_packet >= 3)
  t.is(a.got.length, 1)
  t.is(a.link.pathOf(MAC_B)?.path, 'direct')
})

test('a handshake from a key that is not a member is dropped (not_member); a replayed first message too (handshake_replay)', t => {
  const { a, b, net, tick } = pair(t)
  const eve = generateKeyPair()
  const init = new Initiator(eve, a.key.publicKey, Buffer.from('overlan.direct.1'))
  a.bind.onPacket(encodeInit(init.writeMessage1(initPayload(timestamp(Date.now()), 7))), '203.0.113.9', 5000)
  t.is(a.link.counters.drops.not_member, 1)
  tick(1000)
  const aliceInit = net.log.find(x => x.from.startsWith('192.0.2.1') && x.packet[0] === 1)
  t.truthy(aliceInit)
  const sessions = b.link.counters.sessions
  b.bind.onPacket(Buffer.from(aliceInit!.packet), '203.0.113.66', 41641)
  t.is(b.link.counters.drops.handshake_replay, 1)
  t.is(b.link.counters.sessions, sessions, 'no session from a replay')
  t.is(b.link.pathOf(MAC_A)?.endpoint, '192.0.2.1:41641', 'the replay did not move the path')
})

test('handshakes over HANDSHAKES_PER_S are dropped before any DH', t => {
  const { a } = pair(t)
  const eve = generateKeyPair()
  for (let i = 0; i < HANDSHAKES_PER_S * 2; i++) {
    const init = new Initiator(eve, a.key.publicKey, Buffer.from('overlan.direct.1'))
    a.bind.onPacket(encodeInit(init.writeMessage1(initPayload(timestamp(Date.now() + i), i))), '203.0.113.9', 5000)
  }
  t.true(a.link.counters.drops.handshake_rate >= HANDSHAKES_PER_S - 1, JSON.stringify(a.link.counters.drops))
})

test('UDP blocked: the path is lost within LOST_AFTER_MS + a tick, frames go to the hub; unblocked: direct again', t => {
  const { a, b, net, tick } = pair(t)
  tick(1000)
  t.is(a.link.pathOf(MAC_B)?.path, 'direct')
  net.blocked = true
  tick(3500)
  t.is(a.link.pathOf(MAC_B)?.path, 'relay')
  const batch = encodeBatch([ipv4Frame(MAC_B, MAC_A)])
  t.is(a.link.take(batch, 1, U), batch, 'for the hub')
  net.blocked = false
  tick(2500)
  t.is(a.link.pathOf(MAC_B)?.path, 'direct')
  t.is(b.link.pathOf(MAC_A)?.path, 'direct')
})

test('a member that leaves the room is forgotten: its sessions go, its packets are unknown', t => {
  const { a, b, tick, clock } = pair(t)
  tick(1000)
  a.link.setMembers([a.member], clock.now)
  t.is(a.link.pathOf(MAC_B), null)
  b.link.take(encodeBatch([ipv4Frame(MAC_A, MAC_B)]), 1, U)
  t.is(a.got.length, 0)
  t.is(a.link.counters.drops.unknown_index, 1)
})

test('rekey: after REKEY_AFTER_MS a new handshake runs on the live path; frames keep flowing, an old session packet is still refused as a replay', t => {
  const { a, b, net, tick } = pair(t)
  tick(1000)
  const sessions = a.link.counters.sessions + b.link.counters.sessions
  b.link.take(encodeBatch([ipv4Frame(MAC_A, MAC_B)]), 1, U)
  const inFlight = Buffer.from(net.log.filter(x => x.to.startsWith('192.0.2.1') && x.packet[0] === TYPE_DATA).at(-1)!.packet)
  a.got.length = 0
  // Heartbeats keep the path up while two minutes pass.
  for (let i = 0; i < 125; i++) tick(1000)
  t.true(a.link.counters.sessions + b.link.counters.sessions > sessions, 'a new session')
  t.is(a.link.pathOf(MAC_B)?.path, 'direct')
  b.link.take(encodeBatch([ipv4Frame(MAC_A, MAC_B)]), 1, U)
  t.is(a.got.length, 1, 'a frame on the new session')
  // A packet of the previous session (sent before the rekey, arriving late) is refused only as a replay.
  a.bind.onPacket(inFlight, '198.51.100.1', 41641)
  t.is(a.got.length, 1)
})

test('a session past REJECT_AFTER_MS is not used: with the other side gone silent, the path falls back and its packets are expired', t => {
  const { a, b, net, tick } = pair(t)
  tick(1000)
  b.link.take(encodeBatch([ipv4Frame(MAC_A, MAC_B)]), 1, U)
  const old = Buffer.from(net.log.filter(x => x.to.startsWith('192.0.2.1') && x.packet[0] === TYPE_DATA).at(-1)!.packet)
  net.blocked = true
  for (let i = 0; i < 185; i++) tick(1000)
  t.is(a.link.pathOf(MAC_B)?.path, 'relay')
  const before = a.link.counters.drops.expired + a.link.counters.drops.unknown_index
  a.bind.onPacket(old, '198.51.100.1', 41641)
  t.is(a.link.counters.drops.expired + a.link.counters.drops.unknown_index, before + 1)
  t.is(a.got.length, 1)
})

test('this host\'s ARP request for a member on a direct path is answered here, not sent to the hub; for others it goes to the hub', async t => {
  const { a, b, tick } = pair(t)
  const { writeArpFrame, ARP_REQUEST } = await import('../l2/arp.js')
  const { parseIpv4 } = await import('../core/ipv4.js')
  const req = (tpa: string): Buffer => {
    const f = Buffer.alloc(60)
    writeArpFrame(f, 0, ARP_REQUEST, 0xffffffffffff, macNumber(MAC_A), parseIpv4(a.member.ip)!, 0, parseIpv4(tpa)!)
    return f
  }
  const A = Uint8Array.of(CLASS_ARP)
  const before = encodeBatch([req(b.member.ip)])
  t.is(a.link.take(before, 1, A), before, 'no path yet: the hub answers')
  tick(1000)
  t.is(a.link.pathOf(MAC_B)?.path, 'direct')
  t.is(a.link.take(encodeBatch([req(b.member.ip)]), 1, A), null)
  t.is(a.got.length, 1)
  t.is(a.got[0]!.readUIntBE(6, 6), macNumber(MAC_B), 'the reply comes from bob\'s MAC')
  t.is(a.link.counters.arpAnswered, 1)
  const other = encodeBatch([req('10.0.0.99')])
  t.is(a.link.take(other, 1, A), other)
})

test('a failover: a member missing from the welcome keeps its live session for REJOIN_GRACE_MS (frames stay direct, no new handshake); forgotten when it does not come back', t => {
  const { a, b, tick, clock } = pair(t)
  tick(1000)
  const handshakes = a.link.counters.handshakesSent + b.link.counters.handshakesSent
  a.link.configure({ mac: macNumber(MAC_A), mtu: 1400, bridging: false, enabled: true })
  a.link.setMembers([a.member], clock.now, true) // alice is back on a hub before bob
  t.is(a.link.pathOf(MAC_B)?.path, 'direct', 'kept through the rejoin')
  a.link.setMembers([a.member], clock.now + 100) // a later push still without bob: still waiting
  t.is(a.link.take(encodeBatch([ipv4Frame(MAC_B, MAC_A)]), 1, U), null, 'frames still go direct')
  t.is(b.got.length, 1)
  tick(2000)
  a.link.setMembers([a.member, b.member], clock.now) // bob is back
  tick(REJOIN_GRACE_MS)
  t.is(a.link.pathOf(MAC_B)?.path, 'direct', 'listed again: kept for good')
  t.is(a.link.counters.handshakesSent + b.link.counters.handshakesSent, handshakes, 'no handshake was needed')
  a.link.setMembers([a.member], clock.now, true)
  tick(REJOIN_GRACE_MS)
  t.is(a.link.pathOf(MAC_B), null, 'not back within the grace: forgotten')
})

test('a member missing from a welcome with no session yet, or from a push on a steady link, is forgotten at once', t => {
  const { a, clock } = pair(t)
  a.link.setMembers([a.member], clock.now, true)
  t.is(a.link.pathOf(MAC_B), null)
})

test('a member kept through a rejoin is forgotten at once when a listed member holds its MAC or address (its lease given again)', t => {
  const { a, b, tick, clock } = pair(t)
  tick(1000)
  a.link.setMembers([a.member], clock.now, true)
  t.is(a.link.pathOf(MAC_B)?.path, 'direct', 'kept through the rejoin')
  const carol: Member = { name: 'carol', mac: MAC_B, ip: b.member.ip, key: generateKeyPair().publicKey, endpoints: [] }
  a.link.setMembers([a.member, carol], clock.now + 100)
  t.not(a.link.pathOf(MAC_B)?.path, 'direct', 'carol has no session: nothing for her MAC goes to bob')
  b.link.take(encodeBatch([ipv4Frame(MAC_A, MAC_B)]), 1, U)
  t.is(a.got.length, 0, 'bob\'s session is gone')
  t.is(a.link.counters.drops.unknown_index, 1)
})
