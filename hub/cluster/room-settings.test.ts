import test from 'ava'
import { resolveHubSettings } from '../config.js'
import { decodeRoomSettings, encodeRoomSettings } from './room-settings.js'

test('a room\'s settings survive the store: encoded in hub.yaml\'s shape, decoded through its schema', t => {
  const s = resolveHubSettings({
    mtu: 1380,
    storm: { broadcastPps: 500 },
    rooms: {
      friday: { token: 'friday-token', subnet: '10.88.4.0/24', join: 'both', directPath: false, oldTokens: [{ token: 'old-friday', until: '2030-01-01T00:00:00.000Z' }], impairment: { delayMs: 20, peers: { bob: { lossPercent: 1 } } }, tables: { macsPerPort: 8 } },
      lan: { join: 'invite', allowBridging: true }
    }
  }, {})
  for (const name of ['friday', 'lan']) {
    const room = s.rooms.get(name)!
    const back = decodeRoomSettings(name, JSON.parse(JSON.stringify(encodeRoomSettings(room))))
    t.deepEqual(back, room, name)
  }
})

test('a stored value a hub cannot validate is refused with the reason', t => {
  t.regex(decodeRoomSettings('friday', { token: 'short', subnet: '10.0.0.0/33' }) as string, /token.*8 characters|subnet/)
  t.regex(decodeRoomSettings('friday', { token: 'long-enough-token', warp: 9 }) as string, /Unrecognized key|warp/)
  t.is(typeof decodeRoomSettings('friday', 'not an object'), 'string')
})
