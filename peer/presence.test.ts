import test from 'ava'
import { DEFAULT_GAME_PORTS } from '../l2/ports.js'
import { gameRouteCommands, gameRouteTable } from './os/linux-net.js'
import { gameRouteSpec, uuidOf } from './presence.js'

test('game route spec: limited-broadcast port ranges and multicast groups', t => {
  const spec = gameRouteSpec(DEFAULT_GAME_PORTS)
  t.deepEqual(spec.groups, ['225.1.1.1', '224.0.2.60'])
  t.true(spec.broadcastPorts.some(r => r.from === 8303 && r.to === 8310))
  t.false(spec.broadcastPorts.some(r => r.from === 4445), 'multicast games are not broadcast rules')
})

test('the ip commands: one table and rule priority per interface, rules by port and by group', t => {
  const table = String(gameRouteTable('ovl0'))
  t.not(gameRouteTable('ovl0'), gameRouteTable('ovl1'))
  t.deepEqual(gameRouteCommands('ovl0', { broadcastPorts: [{ from: 8303, to: 8310 }, { from: 6112, to: 6112 }], groups: ['224.0.2.60'] }), [
    ['route', 'replace', '255.255.255.255/32', 'dev', 'ovl0', 'table', table],
    ['route', 'replace', '224.0.0.0/4', 'dev', 'ovl0', 'table', table],
    ['rule', 'add', 'pref', table, 'to', '255.255.255.255', 'ipproto', 'udp', 'dport', '8303-8310', 'lookup', table],
    ['rule', 'add', 'pref', table, 'to', '255.255.255.255', 'ipproto', 'udp', 'dport', '6112', 'lookup', table],
    ['rule', 'add', 'pref', table, 'to', '224.0.2.60', 'lookup', table]
  ])
})

test('SSDP UUID from the peer identity: stable, RFC 4122 layout', t => {
  t.is(uuidOf('00112233445566778899aabbccddeeff'), '00112233-4455-4677-a899-aabbccddeeff')
})
