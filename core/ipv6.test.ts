import test from 'ava'
import { ipv6Words } from './ipv6.js'

test('ipv6Words: "::" expanded, dotted IPv4 tails, and anything else is null', t => {
  t.deepEqual(ipv6Words('2001:db8::7'), [0x2001, 0xdb8, 0, 0, 0, 0, 0, 7])
  t.deepEqual(ipv6Words('::'), [0, 0, 0, 0, 0, 0, 0, 0])
  t.deepEqual(ipv6Words('::1'), [0, 0, 0, 0, 0, 0, 0, 1])
  t.deepEqual(ipv6Words('fe80::'), [0xfe80, 0, 0, 0, 0, 0, 0, 0])
  t.deepEqual(ipv6Words('1:2:3:4:5:6:7:8'), [1, 2, 3, 4, 5, 6, 7, 8])
  t.deepEqual(ipv6Words('::ffff:192.0.2.1'), [0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201])
  for (const bad of ['', '1.2.3.4', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'g::1', '::1.2.3', '1:2:3:4:5:6:7::8:9', ':1:2:3:4:5:6:7', 'localhost']) {
    t.is(ipv6Words(bad), null, bad)
  }
})
