import test from 'ava'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { avahiAllows, hostResponders, udpSocketsOnPort } from './host-responders.js'

const PROC_NET_UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
   1: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000   108        0 1 2 0000000000000000 0
   2: 01004D0A:0089 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3 2 0000000000000000 0
   3: 00000000:0089 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4 2 0000000000000000 0
`

test('UDP sockets bound to a port, addresses decoded from little-endian hex', t => {
  t.deepEqual(udpSocketsOnPort(PROC_NET_UDP, 5353), ['0.0.0.0'])
  t.deepEqual(udpSocketsOnPort(PROC_NET_UDP, 137), ['10.77.0.1', '0.0.0.0'])
  t.deepEqual(udpSocketsOnPort(PROC_NET_UDP, 1900), [])
})

test('avahi allow/deny interfaces', t => {
  t.true(avahiAllows('[server]\nuse-ipv4=yes\n', 'ovl0'))
  t.false(avahiAllows('allow-interfaces=eth0, wlan0\n', 'ovl0'))
  t.true(avahiAllows('allow-interfaces=eth0,ovl0\n', 'ovl0'))
  t.false(avahiAllows('deny-interfaces=ovl0\n', 'ovl0'))
})

test('host responders: nmbd on the overlay address, avahi beyond our own socket', t => {
  const dir = mkdtempSync(join(tmpdir(), 'overlan-hr-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  writeFileSync(join(dir, 'udp'), PROC_NET_UDP)
  writeFileSync(join(dir, 'avahi'), '[server]\n')
  const files = { udp: join(dir, 'udp'), avahiConf: join(dir, 'avahi') }
  t.deepEqual(hostResponders('ovl0', '10.77.0.1', 0, files), { nmbd: true, avahi: true })
  t.deepEqual(hostResponders('ovl0', '10.77.0.2', 1, files), { nmbd: false, avahi: false }, 'the one 0.0.0.0:5353 socket is ours')
})
