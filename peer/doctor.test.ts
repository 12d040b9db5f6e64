import test from 'ava'
import { diagnose, type HostFacts } from './doctor.js'

const healthy: HostFacts = {
  root: true, capNetAdmin: true, tunExists: true,
  peer: { iface: 'ovl0', address: '10.77.0.2/24', mtu: 1400, limitedBroadcast: 'copy (limited broadcasts and game multicast of any port)' },
  tap: { multicast: true, mtu: 1400, up: true, broadcast: '10.77.0.255' },
  nsswitchHosts: ' files mdns4_minimal [NOTFOUND=return] dns',
  nftAvailable: true,
  ipv6Disabled: false,
  rpFilter: { all: 0, iface: 0 },
  routeDevForSubnet: 'ovl0',
  routes: [{ dst: 'default', dev: 'eth0' }, { dst: '192.168.1.0/24', dev: 'eth0' }, { dst: '10.77.0.0/24', dev: 'ovl0' }],
  iptablesInput: '-P INPUT ACCEPT\n', nftRuleset: null,
  avahiConf: '[server]\nuse-ipv4=yes\n', avahiRunning: true,
  smbConf: '[global]\n   workgroup = WORKGROUP\n'
}
const problems = (f: HostFacts): Record<string, { safe: boolean | undefined, text: string | undefined }> =>
  Object.fromEntries(diagnose(f).filter(x => x.status === 'problem').map(x => [x.id, { safe: x.fix?.safe, text: x.fix?.text }]))

test('a healthy host has no problems', t => {
  t.deepEqual(problems(healthy), {})
  t.is(diagnose(healthy).filter(f => f.status === 'ok').length, 13)
})

test('TAP-level problems have safe fixes that --fix applies', t => {
  const p = problems({ ...healthy, tap: { multicast: false, mtu: 1500, up: true }, ipv6Disabled: true, rpFilter: { all: 1, iface: 0 } })
  t.deepEqual(p, {
    multicast: { safe: true, text: 'ip link set ovl0 multicast on' },
    mtu: { safe: true, text: 'ip link set ovl0 mtu 1400' },
    ipv6: { safe: true, text: 'sysctl -w net.ipv6.conf.ovl0.disable_ipv6=0' },
    rp_filter: { safe: true, text: 'sysctl -w net.ipv4.conf.ovl0.rp_filter=2 (loose)' }
  })
  const actions = diagnose({ ...healthy, rpFilter: { all: 0, iface: 1 } }).find(f => f.id === 'rp_filter')?.fix?.action
  t.deepEqual(actions, { kind: 'sysctl', key: 'net.ipv4.conf.ovl0.rp_filter', value: '2' })
})

test('problems outside the overlay are explained, not applied', t => {
  const p = problems({
    ...healthy,
    tunExists: false,
    routeDevForSubnet: 'eth1',
    routes: [...healthy.routes, { dst: '10.77.0.0/16', dev: 'eth1' }],
    iptablesInput: '-P INPUT DROP\n-A INPUT -i lo -j ACCEPT\n',
    avahiConf: '[server]\nallow-interfaces=eth0\n',
    smbConf: '[global]\n  interfaces = eth0 192.168.1.0/24\n  bind interfaces only = yes\n[share]\n  path = /srv\n'
  })
  t.deepEqual(Object.keys(p).sort(), ['avahi', 'firewall', 'overlap', 'route', 'samba', 'tun'])
  t.true(Object.values(p).every(x => x.safe === false))
  t.is(p.firewall!.text, 'iptables -I INPUT -i ovl0 -j ACCEPT')
})

test('Samba bound to the overlay address or subnet is fine; nft drop policy without an accept is not', t => {
  t.deepEqual(problems({ ...healthy, smbConf: '[global]\ninterfaces = 10.77.0.0/24\nbind interfaces only = yes\n' }), {})
  t.deepEqual(problems({ ...healthy, smbConf: '[global]\ninterfaces = lo ovl0\nbind interfaces only = yes\n' }), {})
  t.deepEqual(Object.keys(problems({ ...healthy, iptablesInput: null, nftRuleset: 'table inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n }\n}\n' })), ['firewall'])
  t.deepEqual(problems({ ...healthy, iptablesInput: '-P INPUT DROP\n-A INPUT -i ovl0 -j ACCEPT\n' }), {})
})

test('without a running peer the overlay checks are skipped', t => {
  const f = diagnose({ ...healthy, peer: null, tap: null })
  t.true(f.some(x => x.id === 'overlay' && x.status === 'skipped'))
  t.false(f.some(x => x.id === 'mtu'))
})

test('.local names, the TAP\'s broadcast address and limited broadcasts are checked', t => {
  const p = problems({ ...healthy, nsswitchHosts: ' files dns', tap: { ...healthy.tap!, broadcast: null }, peer: { ...healthy.peer!, limitedBroadcast: 'off' }, nftAvailable: false })
  t.deepEqual(p, {
    mdns_names: { safe: false, text: 'apt-get install libnss-mdns (it adds mdns4_minimal to the hosts line of /etc/nsswitch.conf)' },
    broadcast: { safe: true, text: 'ip addr change 10.77.0.2/24 broadcast + dev ovl0' },
    limited_broadcast: { safe: false, text: 'install nftables (apt-get install nftables) and rejoin' }
  })
  t.deepEqual(problems({ ...healthy, nsswitchHosts: ' files resolve [!UNAVAIL=return] dns' }), {}, 'systemd-resolved is accepted (with a note)')
  t.deepEqual(problems({ ...healthy, peer: { ...healthy.peer!, limitedBroadcast: 'route (policy routing of 8 listed games)' } }), {})
})
