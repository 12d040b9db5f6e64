import test from 'ava'
import { ipv4, mac, udp4Frame } from '../tests/support/frames.js'
import { BroadcastCopy, isCopiedDestination, rewriteIpv4Source } from './broadcast-copy.js'
import { finishChecksum, ipv4PseudoSum, sum16 } from './checksum.js'
import { FrameInfo, inspect } from './packet.js'

const OWN = '02:00:00:00:00:0c'
/** A UDP frame with its checksum filled in (the frames helper leaves it 0, "none"). */
const frame = (dst: string, dstMac: string, srcIp: string, port: number, payload = Buffer.from('hello-game'), src = OWN): Buffer => {
  const f = udp4Frame(dstMac, src, srcIp, dst, 40000, port, payload)
  const len = f.readUInt16BE(38)
  const sum = finishChecksum(sum16(f, 34, len, ipv4PseudoSum(f, 14, len, 17)))
  f.writeUInt16BE(sum === 0 ? 0xffff : sum, 40)
  return f
}
const view = (f: Buffer): FrameInfo => { const i = new FrameInfo(); inspect(f, 0, f.length, i); return i }
const ipHeaderOk = (f: Buffer): boolean => finishChecksum(sum16(f, 14, 20)) === 0
const udpOk = (f: Buffer): boolean => { const len = f.readUInt16BE(38); return finishChecksum(sum16(f, 34, len, ipv4PseudoSum(f, 14, len, 17))) === 0 }

test('copied destinations: limited broadcast and game groups, not link-local control, SSDP or SLP', t => {
  for (const d of ['255.255.255.255', '224.0.2.60', '225.1.1.1', '239.1.2.3']) t.true(isCopiedDestination(ipv4(d)), d)
  for (const d of ['224.0.0.251', '224.0.0.1', '239.255.255.250', '239.255.255.253', '10.77.0.255', '10.77.0.2']) t.false(isCopiedDestination(ipv4(d)), d)
})

test('the source rewrite keeps the IPv4 and UDP checksums valid (RFC 1624, checked by recomputing)', t => {
  for (const src of ['172.31.9.2', '192.168.178.23', '10.0.0.1', '255.255.255.254']) {
    const f = frame('255.255.255.255', 'ff:ff:ff:ff:ff:ff', src, 47624, Buffer.from(`payload from ${src}`))
    t.true(ipHeaderOk(f) && udpOk(f), 'valid before')
    rewriteIpv4Source(f, view(f), ipv4('10.77.0.12'))
    t.is(f.readUInt32BE(26), ipv4('10.77.0.12'))
    t.true(ipHeaderOk(f), `IPv4 header checksum after rewriting ${src}`)
    t.true(udpOk(f), `UDP checksum after rewriting ${src}`)
  }
  const noSum = frame('255.255.255.255', 'ff:ff:ff:ff:ff:ff', '172.31.9.2', 47624)
  noSum.writeUInt16BE(0, 40)
  rewriteIpv4Source(noSum, view(noSum), ipv4('10.77.0.12'))
  t.is(noSum.readUInt16BE(40), 0, 'no UDP checksum stays none')
})

test('copies from the TAP\'s own MAC get the overlay source; bridged hosts, the overlay address and denied ports are left alone', t => {
  const c = new BroadcastCopy()
  c.address = ipv4('10.77.0.12')
  c.mac = mac(OWN)
  const copied = frame('255.255.255.255', 'ff:ff:ff:ff:ff:ff', '172.31.9.2', 47624)
  t.true(c.outgoing(copied, 0, view(copied), 0))
  t.is(copied.readUInt32BE(26), ipv4('10.77.0.12'))
  const group = frame('224.0.2.60', '01:00:5e:00:02:3c', '172.31.9.2', 4445)
  t.true(c.outgoing(group, 0, view(group), 0))
  t.is(group.readUInt32BE(26), ipv4('10.77.0.12'), 'game multicast too')
  const bridged = frame('255.255.255.255', 'ff:ff:ff:ff:ff:ff', '192.168.5.9', 47624, undefined, '02:00:00:00:01:01')
  t.true(c.outgoing(bridged, 0, view(bridged), 0))
  t.is(bridged.readUInt32BE(26), ipv4('192.168.5.9'), 'a bridged host keeps its address')
  const dhcp = frame('255.255.255.255', 'ff:ff:ff:ff:ff:ff', '0.0.0.0', 67)
  t.true(c.outgoing(dhcp, 0, view(dhcp), 0))
  t.is(dhcp.readUInt32BE(26), 0)
  t.is(c.rewritten, 2)
})

test('of a sent-on-the-TAP and a copied twin within 20 ms the second is dropped, whichever came first; repeats of one origin pass', t => {
  const c = new BroadcastCopy()
  c.address = ipv4('10.77.0.12')
  c.mac = mac(OWN)
  const native = frame('255.255.255.255', 'ff:ff:ff:ff:ff:ff', '10.77.0.12', 47624)
  const copy = frame('255.255.255.255', 'ff:ff:ff:ff:ff:ff', '172.31.9.2', 47624)
  t.true(c.outgoing(copy, 0, view(copy), 1000))
  t.false(c.outgoing(native, 0, view(native), 1005), 'the native one after the copy is the duplicate')
  t.is(c.duplicates, 1)
  const again = frame('255.255.255.255', 'ff:ff:ff:ff:ff:ff', '10.77.0.12', 47624)
  t.true(c.outgoing(again, 0, view(again), 1100), 'the next announcement a second later passes')
  const other = frame('255.255.255.255', 'ff:ff:ff:ff:ff:ff', '10.77.0.12', 47625)
  t.true(c.outgoing(other, 0, view(other), 1101), 'another port is another message')
  for (let i = 0; i < 3; i++) {
    const same = frame('255.255.255.255', 'ff:ff:ff:ff:ff:ff', '10.77.0.12', 9999)
    t.true(c.outgoing(same, 0, view(same), 2000 + i), 'an application repeating itself (or a flood) is not de-duplicated')
  }
  const first = frame('255.255.255.255', 'ff:ff:ff:ff:ff:ff', '10.77.0.12', 5000)
  const twin = frame('255.255.255.255', 'ff:ff:ff:ff:ff:ff', '172.31.9.2', 5000)
  t.true(c.outgoing(first, 0, view(first), 3000))
  t.false(c.outgoing(twin, 0, view(twin), 3001), 'the copy after the native one is dropped too')
  t.is(c.duplicates, 2)
})
