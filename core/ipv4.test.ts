import test from 'ava'
import { cidrProblem, formatCidr, formatIpv4, hostRange, parseCidr, parseIpv4, subnetContains } from './ipv4.js'

test('parse and format IPv4', t => {
  t.is(parseIpv4('10.77.0.1'), 0x0a4d0001)
  t.is(parseIpv4('255.255.255.255'), 0xffffffff)
  t.is(formatIpv4(0xc0a80101), '192.168.1.1')
  for (const bad of ['10.77.0', '10.77.0.256', '01.2.3.4', '1.2.3.4.5', 'a.b.c.d', '']) t.is(parseIpv4(bad), null, bad)
})

test('CIDR parsing, containment and host range', t => {
  const s = parseCidr('10.77.0.0/24')!
  t.is(formatCidr(s), '10.77.0.0/24')
  t.true(subnetContains(s, parseIpv4('10.77.0.200')!))
  t.false(subnetContains(s, parseIpv4('10.77.1.1')!))
  t.deepEqual(hostRange(s), { first: parseIpv4('10.77.0.1'), last: parseIpv4('10.77.0.254') })
  t.is(parseCidr('10.77.0.1/24'), null, 'host bits set')
  t.is(parseCidr('10.77.0.0/33'), null)
  t.is(parseCidr('10.77.0.0'), null)
})

test('CIDR problems get their own sentences', t => {
  t.is(cidrProblem('10.77.0.0/24'), null)
  t.regex(cidrProblem('10.77.0.0/33')!, /\/33 is not a prefix length/)
  t.regex(cidrProblem('300.1.1.0/24')!, /300\.1\.1\.0 is not an IPv4 address/)
  t.regex(cidrProblem('10.77.0.5/24')!, /host bits set: the network is 10\.77\.0\.0\/24/)
  t.regex(cidrProblem('ten')!, /ADDRESS\/PREFIX/)
})
