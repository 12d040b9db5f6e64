import test from 'ava'
import { addressKey } from './doors.js'
import { parseConfig } from '../core/config.js'
import { OverlanError } from '../core/errors.js'
import { formatCidr } from '../core/ipv4.js'
import { HubFileSchema, resolveHubSettings } from './config.js'

test('embedded default: port 443, TLS on, rooms created on first join', t => {
  const s = resolveHubSettings({}, {})
  t.like(s, { listenHost: '0.0.0.0', listenPort: 443, autoCreateRooms: true, keepaliveIntervalMs: 5000, keepaliveTimeoutMs: 20_000 })
  t.deepEqual(s.tls, {})
  t.is(formatCidr(s.autoRoom.subnet), '10.77.0.0/24')
  t.is(s.autoRoom.mtu, 1400)
  t.is(s.autoRoom.token, undefined, 'generated at start')
})

test('CLI wins over the file; configured rooms switch auto-creation off', t => {
  const file = parseConfig('listen: 0.0.0.0:8443\nsubnet: 10.1.0.0/16\nrooms:\n  friday:\n    token: friday-secret\n    mtu: 1280\n', 'hub.yaml', HubFileSchema)
  const s = resolveHubSettings(file, { listen: '127.0.0.1:9443', noTls: true })
  t.like(s, { listenHost: '127.0.0.1', listenPort: 9443, tls: null, autoCreateRooms: false })
  const friday = s.rooms.get('friday')!
  t.is(formatCidr(friday.subnet), '10.1.0.0/16', 'room inherits the top-level subnet')
  t.is(friday.mtu, 1280)
  t.is(resolveHubSettings({ ...file, autoCreateRooms: true }, {}).autoCreateRooms, true)
})

test('bad hub config values are named with their position', t => {
  const bad = (text: string): string => {
    try { parseConfig(text, 'hub.yaml', HubFileSchema) } catch (e) { if (e instanceof OverlanError) return e.message }
    return 'no error'
  }
  t.regex(bad('subnet: 10.77.0.1/24\n'), /hub.yaml:1:9 subnet: 10\.77\.0\.1\/24 has host bits set: the network is 10\.77\.0\.0\/24/)
  t.regex(bad('listen: localhost\n'), /hub.yaml:1:9 listen: expected HOST:PORT/)
  t.regex(bad('listen: 443\n'), /hub.yaml:1:9 listen: Invalid input: expected string, received number/)
  t.regex(bad('rooms:\n  "bad room":\n    token: abcdefghij\n'), /hub.yaml:2:3 rooms.bad room: room names are 1-64 letters/)
  t.regex(bad('mtu: 100\n'), /hub.yaml:1:6 mtu: Too small/)
})

test('per-address limits count an IPv6 address by its /64', t => {
  t.is(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64')
  t.is(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64')
  t.is(addressKey('2001:db8::1'), '2001:db8:0:0::/64')
  t.is(addressKey('::1'), '0:0:0:0::/64')
  t.is(addressKey('192.0.2.7'), '192.0.2.7')
  t.is(addressKey('::ffff:192.0.2.7'), '192.0.2.7', 'a dual-stack socket\'s IPv4 client is not lumped into ::/64')
})

test('udpListen: the WebSocket\'s host and port by default, its own address, or off', t => {
  t.deepEqual(resolveHubSettings({}, { listen: '127.0.0.1:9443' }).udpListen, { host: '127.0.0.1', port: 9443 })
  t.deepEqual(resolveHubSettings(parseConfig('udpListen: 0.0.0.0:3478\n', 'hub.yaml', HubFileSchema), {}).udpListen, { host: '0.0.0.0', port: 3478 })
  t.is(resolveHubSettings(parseConfig('udpListen: "off"\n', 'hub.yaml', HubFileSchema), {}).udpListen, null)
  t.throws(() => parseConfig('udpListen: 3478\n', 'hub.yaml', HubFileSchema), { message: /hub.yaml:1:12 udpListen/ })
})
