import test from 'ava'
import { createSocket } from 'node:dgram'
import { LinuxUdpBind, linuxUdpBind } from './linux-udp.js'
import { waitFor } from '../../tests/support/wait.js'

const open = async (): Promise<LinuxUdpBind> => {
  const b = linuxUdpBind(0)
  if (!(b instanceof LinuxUdpBind)) throw new Error('no native binding')
  if (await b.open() === null) throw new Error('bind failed')
  return b
}

test('two binds on loopback: datagrams both ways, sender address and port, DF set, clean close', async t => {
  const a = await open()
  const b = await open()
  t.true(a.dontFragment)
  t.not(a.localPort, b.localPort)
  const atB: Array<{ text: string, address: string, port: number }> = []
  // The datagram is valid only during the call: keep a copy, as a user of the Bind must.
  b.onPacket = (msg, address, port) => { atB.push({ text: msg.toString(), address, port }) }
  for (let i = 0; i < 20; i++) a.send(Buffer.from(`m${i}`), b.localPort!, '127.0.0.1')
  await waitFor('20 datagrams at b', () => atB.length === 20)
  t.deepEqual(atB.map(m => m.text), Array.from({ length: 20 }, (_, i) => `m${i}`))
  t.true(atB.every(m => m.address === '127.0.0.1' && m.port === a.localPort))
  let atA = ''
  a.onPacket = (msg) => { atA = msg.toString() }
  b.send(Buffer.from('back'), a.localPort!, '127.0.0.1')
  await waitFor('the answer at a', () => atA === 'back')
  t.is(a.sendErrors + b.sendErrors, 0)
  let empty = -1
  b.onPacket = (msg) => { empty = msg.length }
  a.send(Buffer.alloc(0), b.localPort!, '127.0.0.1')
  await waitFor('an empty datagram handed over', () => empty === 0)
  a.close()
  b.close()
  a.close() // idempotent
  a.send(Buffer.from('late'), b.localPort!, '127.0.0.1')
  t.is(a.sendErrors, 1, 'a send after close is a counted failure, not a throw')
})

test('interoperates with node:dgram; a TTL burst goes out and later sends follow', async t => {
  const a = await open()
  const d = createSocket('udp4')
  await new Promise<void>(resolve => d.bind(0, '127.0.0.1', resolve))
  const got: string[] = []
  d.on('message', (m) => got.push(m.toString()))
  a.sendWithTtl(Buffer.from('punch'), [{ address: '127.0.0.1', port: d.address().port }], 3)
  a.send(Buffer.from('after'), d.address().port, '127.0.0.1')
  await waitFor('both datagrams', () => got.length === 2)
  t.deepEqual(got, ['punch', 'after'])
  let echoed = ''
  a.onPacket = (m, address, port) => { echoed = `${m.toString()} ${address} ${port === d.address().port}` }
  d.send('hi', a.localPort!, '127.0.0.1')
  await waitFor('dgram to the native bind', () => echoed !== '')
  t.is(echoed, 'hi 127.0.0.1 true')
  a.close()
  d.close()
})

test('bad targets are counted, never thrown; an oversized datagram fails (DF) and is counted', async t => {
  const a = await open()
  for (const bad of ['hub.example', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '', '::1', '01234.1.1.1']) a.send(Buffer.from('x'), 9, bad)
  t.is(a.sendErrors, 8)
  a.send(Buffer.alloc(70_000), 9, '127.0.0.1')
  t.is(a.sendErrors, 9)
  a.close()
})

test('a port in use: open resolves null', async t => {
  const a = await open()
  const b = linuxUdpBind(a.localPort!)!
  t.is(await b.open(), null)
  a.close()
})

test('corked sends: equal datagrams go as one UDP GSO buffer and arrive as separate datagrams, in order; others go alone, whole', async t => {
  const a = await open()
  const b = await open()
  const got: Buffer[] = []
  b.onPacket = (msg) => { got.push(Buffer.from(msg)) }
  const sized = (i: number, len: number): Buffer => Buffer.alloc(len, i)
  const sent: Buffer[] = []
  a.cork()
  for (let i = 0; i < 10; i++) sent.push(sized(i, 1200)) // one group of 10
  sent.push(sized(10, 80)) // a different size ends the group: alone
  for (let i = 11; i < 14; i++) sent.push(sized(i, 1200)) // a second group
  for (const p of sent) a.send(p, b.localPort!, '127.0.0.1')
  a.uncork()
  // Uncorked, a datagram larger than the socket's UDP_SEGMENT (1200 now) must not be cut.
  sent.push(sized(14, 1400))
  a.send(sent[14]!, b.localPort!, '127.0.0.1')
  // 60 equal datagrams of 1400 B exceed one GSO buffer (65000 B): split over two sends.
  a.cork()
  for (let i = 15; i < 75; i++) { sent.push(sized(i, 1400)); a.send(sent[i]!, b.localPort!, '127.0.0.1') }
  a.uncork()
  await waitFor('every datagram at b', () => got.length >= sent.length, 5000)
  t.is(got.length, sent.length)
  t.deepEqual(got.map(g => `${g[0]}:${g.length}`), sent.map(p => `${p[0]}:${p.length}`))
  t.true(got.every(g => g.every(byte => byte === g[0])), 'no datagram mixes two')
  t.is(a.segmentedSends, 4, 'groups of 10, 3, 46 and 14')
  t.true(b.coalescedReads >= 1, 'the receiver read GSO sends whole (UDP_GRO) and cut them')
  t.is(a.sendErrors, 0)
  a.close()
  b.close()
})

test('a handler that throws is counted and the socket is read on', async t => {
  const a = await open()
  const b = await open()
  let calls = 0
  b.onPacket = (msg) => { calls++; if (msg.toString() !== 'fine') throw new Error('a bug') }
  for (const m of ['boom', 'boom', 'fine']) a.send(Buffer.from(m), b.localPort!, '127.0.0.1')
  await waitFor('all three handled', () => calls === 3, 3000)
  t.is(b.handlerErrors, 2)
  a.close()
  b.close()
})

test('a burst larger than one wake-up\'s bound is read over several wake-ups, none lost', async t => {
  const a = await open()
  const b = await open()
  let got = 0
  b.onPacket = () => { got++ }
  // 300 > MAX_PER_WAKE (256): five GSO sends of up to 64, read whole (GRO), each counting its datagrams.
  a.cork()
  for (let i = 0; i < 300; i++) a.send(Buffer.alloc(64, i), b.localPort!, '127.0.0.1')
  a.uncork()
  await waitFor('300 datagrams', () => got === 300, 5000)
  t.is(got, 300)
  t.is(a.segmentedSends, 5)
  a.close()
  b.close()
})
