/** The example configs in configs/ stay valid and mean what their comments say. */
import test from 'ava'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadConfigFile } from '../core/config.js'
import { DEFAULT_DOORS, DEFAULT_EMPTY_ROOM_TTL_S, HubFileSchema, resolveHubSettings } from '../hub/config.js'
import { DEFAULT_KEEP_WARM_MS as HUB_KEEP_WARM_MS, DEFAULT_KEEP_WARM_MS as PEER_KEEP_WARM_MS } from '../core/keep-warm.js'
import { DEFAULT_TABLE_LIMITS } from '../l2/limits.js'
import { MAX_ENTRIES, MAX_ENTRIES_PER_PEER } from '../discovery/directory.js'
import { PeerFileSchema, resolvePeerSettings } from '../peer/config.js'
import { DEFAULT_GAME_PORTS } from '../l2/ports.js'

const ROOT = resolve(fileURLToPath(import.meta.url), '../..')

test('configs/hub.yaml is valid', t => {
  const s = resolveHubSettings(loadConfigFile(join(ROOT, 'configs/hub.yaml'), HubFileSchema), {})
  t.like(s, { listenPort: 443, autoCreateRooms: true, keepaliveTimeoutMs: 20_000, sendQueueBytes: 128 * 1024 })
  t.is(s.rooms.get('friday')?.maxPeers, 16)
  t.deepEqual(s.rooms.get('friday')?.storm, { broadcastPps: 1000, multicastPps: 5000, unknownUnicastPps: 2000, discoveryPps: 4000, burstS: 2 })
  t.like(s.rooms.get('friday'), { arpSuppression: true, snooping: true, querier: true, queryIntervalMs: 125_000 })
  t.deepEqual(s.rooms.get('friday')?.impairment.room, { delayMs: 0, jitterMs: 0, lossPercent: 0 }, 'no active impairment in the example')
  t.is(s.rooms.get('friday')?.impairment.peers.size, 0)
  t.deepEqual(s.autoRoom.tables, { ...DEFAULT_TABLE_LIMITS, directoryEntries: MAX_ENTRIES, directoryEntriesPerPeer: MAX_ENTRIES_PER_PEER }, 'the example shows the defaults')
  t.like(s.doors, DEFAULT_DOORS)
  t.is(s.emptyRoomTtlMs, DEFAULT_EMPTY_ROOM_TTL_S * 1000)
  t.is(s.keepWarmMs, HUB_KEEP_WARM_MS, 'the example shows the default keep-warm period')
  t.is(resolveHubSettings({ keepWarmMs: 0 }, {}).keepWarmMs, 0)
  t.false(HubFileSchema.safeParse({ keepWarmMs: 1.5 }).success, 'whole milliseconds')
  t.false(HubFileSchema.safeParse({ keepWarmMs: 5000 }).success, 'at most a second')
})

test('configs/peer.yaml is valid; CLI and OVERLAN_TOKEN win', t => {
  const file = loadConfigFile(join(ROOT, 'configs/peer.yaml'), PeerFileSchema)
  t.like(resolvePeerSettings(file, { room: 'friday' }, {}), { hub: 'wss://hub.example.net', name: 'alice', token: 'friday-night-secret', iface: 'ovl0' })
  t.like(resolvePeerSettings(file, { room: 'friday' }, { OVERLAN_TOKEN: 'from-env' }), { token: 'from-env' })
  t.like(resolvePeerSettings(file, { room: 'friday', token: 'from-cli' }, { OVERLAN_TOKEN: 'from-env' }), { token: 'from-cli' })
  const full = resolvePeerSettings(file, { room: 'friday' }, {})
  t.like(full, { mdns: true, netbios: true, ssdp: true, gameDiscovery: true, keepWarmMs: PEER_KEEP_WARM_MS })
  t.like(resolvePeerSettings(file, { room: 'friday', keepWarmMs: 0 }, {}), { keepWarmMs: 0 }, '--keep-warm-ms 0 wins')
  t.false(PeerFileSchema.safeParse({ keepWarmMs: -1 }).success)
  t.deepEqual(!('missing' in full) && full.gamePorts, DEFAULT_GAME_PORTS, 'the example lists exactly the built-in games')
  t.deepEqual(resolvePeerSettings({}, {}, {}), { missing: '--room' })
  t.deepEqual(resolvePeerSettings({}, { room: 'x', hub: 'wss://h' }, {}), { missing: '--token (or OVERLAN_TOKEN, or `token:` in the config file), or an invite' })
  t.like(resolvePeerSettings({}, { room: 'x' }, {}, (r) => r === 'x' ? { hub: 'wss://h:443', pin: null } : undefined), { hub: 'wss://h:443', token: '' }, 'an enrolled room needs neither hub nor token')
})

test('an unknown config key names the nearest known one, also nested', t => {
  const dir = mkdtempSync(join(tmpdir(), 'overlan-cfg-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const file = join(dir, 'hub.yaml')
  writeFileSync(file, 'listn: 0.0.0.0:443\n')
  t.regex(t.throws(() => loadConfigFile(file, HubFileSchema))?.message ?? '', /hub\.yaml:1:1 listn: unknown field \(did you mean listen\?\)/)
  writeFileSync(file, 'rooms:\n  friday:\n    token: long-enough-token\n    storm: { broadcastPPS: 5 }\n')
  t.regex(t.throws(() => loadConfigFile(file, HubFileSchema))?.message ?? '', /did you mean broadcastPps\?/)
})
