import test from 'ava'
import { broadcastCopyRuleset, copyTableName, parseIgmpGroups } from './linux-net.js'

test('the nftables copy rules: one table per TAP, replaced whole, deny list applied, UDP only', t => {
  t.is(copyTableName('ovl0'), 'overlan_ovl0')
  t.is(copyTableName('ovl-x.1'), 'overlan_ovl_x_1')
  t.is(broadcastCopyRuleset('ovl0'), [
    'add table ip overlan_ovl0',
    'delete table ip overlan_ovl0',
    'table ip overlan_ovl0 {',
    '  chain out {',
    '    type filter hook output priority 0; policy accept;',
    '    oifname != "ovl0" ip daddr 255.255.255.255 udp dport != { 67, 68, 137, 138 } dup to 255.255.255.255 device "ovl0"',
    '    oifname != "ovl0" ip daddr 224.0.0.0/4 ip daddr != { 224.0.0.0/24, 239.255.255.250, 239.255.255.253 } meta l4proto udp dup to ip daddr device "ovl0"',
    '  }',
    '}',
    ''
  ].join('\n'))
})

test('/proc/net/igmp: groups joined on other interfaces, little-endian hex, control groups and lo left out', t => {
  const text = [
    'Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter',
    '1\tlo        :     1      V3',
    '\t\t\t\t010000E0     1 0:00000000\t\t0',
    '2\teth0      :     3      V3',
    '\t\t\t\t3C0200E0     1 0:00000000\t\t0', // 224.0.2.60
    '\t\t\t\tFB0000E0     1 0:00000000\t\t0', // 224.0.0.251: link-local, left out
    '\t\t\t\t010000E0     1 0:00000000\t\t0',
    '3\tovl0      :     2      V3',
    '\t\t\t\t010101E1     1 0:00000000\t\t0', // 225.1.1.1 on the TAP itself
    '4\twlan0     :     1      V3',
    '\t\t\t\t010101E1     1 0:00000000\t\t0'
  ].join('\n')
  t.deepEqual(parseIgmpGroups(text, 'ovl0'), ['224.0.2.60', '225.1.1.1'])
})
