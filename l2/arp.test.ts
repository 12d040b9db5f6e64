import test from 'ava'
import { ARP_REPLY, ARP_REQUEST, answerOwnArpRequest, gratuitousArp, writeArpFrame } from './arp.js'
import { MAC_BROADCAST } from './ethernet.js'

const ME = 0x02000000000a
const FRIEND = 0x02000000000b
const MY_IP = 0x0a4d0002 // 10.77.0.2
const FRIEND_IP = 0x0a4d0003
const macOf = (ip: number): number => ip === FRIEND_IP ? FRIEND : -1

const request = (o: { eth?: number, sender?: number, spa?: number, tpa?: number, oper?: number } = {}): Buffer => {
  const f = Buffer.alloc(60)
  writeArpFrame(f, 0, o.oper ?? ARP_REQUEST, o.eth ?? MAC_BROADCAST, o.sender ?? ME, o.spa ?? MY_IP, 0, o.tpa ?? FRIEND_IP)
  return f
}

test('this host\'s request for a known address: the owner\'s reply, to us', t => {
  const out = Buffer.alloc(60)
  t.is(answerOwnArpRequest(request(), 0, 60, ME, macOf, out), 60)
  t.is(out.readUIntBE(0, 6), ME, 'Ethernet destination: us')
  t.is(out.readUIntBE(6, 6), FRIEND, 'from the owner')
  t.is(out.readUInt16BE(12), 0x0806)
  t.is(out.readUInt16BE(14 + 6), ARP_REPLY)
  t.is(out.readUIntBE(14 + 8, 6), FRIEND)
  t.is(out.readUInt32BE(14 + 14), FRIEND_IP)
  t.is(out.readUIntBE(14 + 18, 6), ME)
  t.is(out.readUInt32BE(14 + 24), MY_IP)
  // The kernel's unicast re-check of a stale entry is answered the same way.
  t.is(answerOwnArpRequest(request({ eth: FRIEND }), 0, 60, ME, macOf, out), 60)
})

test('no answer: unknown address, another sender, a reply, a probe, an announcement, short or non-ARP frames', t => {
  const out = Buffer.alloc(60)
  const none = (f: Buffer, len = f.length): number => answerOwnArpRequest(f, 0, len, ME, macOf, out)
  t.is(none(request({ tpa: 0x0a4d0009 })), 0, 'an address no direct member holds')
  t.is(none(request({ sender: FRIEND })), 0, 'not this host\'s request')
  t.is(none(request({ oper: ARP_REPLY })), 0)
  t.is(none(request({ spa: 0 })), 0, 'RFC 5227 probe')
  t.is(none(gratuitousArp(ME, MY_IP)), 0, 'announcement')
  t.is(none(request(), 41), 0, 'truncated')
  const ip = request(); ip.writeUInt16BE(0x0800, 12)
  t.is(none(ip), 0)
  const forged = request(); forged.writeUIntBE(FRIEND, 6, 6)
  t.is(none(forged), 0, 'Ethernet source is not this host')
})
