import test from 'ava'
import { BROADCAST, ethFrame, vlanFrame } from '../tests/support/frames.js'
import {
  ETH_DST, ETH_SRC, etherTypeAt, formatMac, isBroadcastAt, isGroupAt, macAt, maxFrameLenForMtu, parseMac, payloadOffsetAt, writeMac
} from './ethernet.js'

test('MAC fields read as 48-bit integers, text form round-trips', t => {
  const f = ethFrame('02:00:00:00:00:01', '02:aa:bb:cc:dd:ee')
  t.is(macAt(f, ETH_DST), 0x020000000001)
  t.is(formatMac(macAt(f, ETH_SRC)), '02:aa:bb:cc:dd:ee')
  t.is(parseMac('FF:ff:ff:ff:ff:ff'), 0xffffffffffff)
  t.is(parseMac('02:00:00:00:00'), null)
  t.is(parseMac('02-00-00-00-00-01'), null)
  const b = Buffer.alloc(6)
  writeMac(b, 0, 0x0123456789ab)
  t.is(b.toString('hex'), '0123456789ab')
})

test('group and broadcast bits', t => {
  t.true(isGroupAt(ethFrame(BROADCAST, '02:00:00:00:00:01'), ETH_DST))
  t.true(isBroadcastAt(ethFrame(BROADCAST, '02:00:00:00:00:01'), ETH_DST))
  t.true(isGroupAt(ethFrame('01:00:5e:00:00:fb', '02:00:00:00:00:01'), ETH_DST), 'IPv4 multicast (mDNS)')
  t.false(isBroadcastAt(ethFrame('01:00:5e:00:00:fb', '02:00:00:00:00:01'), ETH_DST))
  t.true(isGroupAt(ethFrame('33:33:00:00:00:fb', '02:00:00:00:00:01'), ETH_DST), 'IPv6 multicast')
  t.false(isGroupAt(ethFrame('02:00:00:00:00:01', '02:00:00:00:00:02'), ETH_DST))
})

test('EtherType and payload offset see through one 802.1Q tag, at any frame offset', t => {
  const plain = ethFrame(BROADCAST, '02:00:00:00:00:01', 0x0806)
  t.is(etherTypeAt(plain, 0, plain.length), 0x0806)
  t.is(payloadOffsetAt(plain, 0), 14)
  const tagged = vlanFrame(BROADCAST, '02:00:00:00:00:01', 7, 0x86dd)
  t.is(etherTypeAt(tagged, 0, tagged.length), 0x86dd)
  t.is(payloadOffsetAt(tagged, 0), 18)
  const inBatch = Buffer.concat([Buffer.alloc(5), tagged])
  t.is(etherTypeAt(inBatch, 5, tagged.length), 0x86dd)
  t.is(maxFrameLenForMtu(1400), 1418)
})
