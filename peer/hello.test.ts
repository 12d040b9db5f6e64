import test from 'ava'
import { generateKeyPair } from '../core/keys.js'
import type { WelcomeMessage } from '../core/protocol.js'
import type { PeerSettings } from './config.js'
import { helloMessage } from './hello.js'

const settings = { room: 'friday', token: 't', name: 'alice', invite: 'inv', address: undefined } as unknown as PeerSettings
const welcome = { mac: '02:00:00:00:00:01', ip: '10.0.0.2' } as unknown as WelcomeMessage

test('the first hello spends the invite; later ones ask for the lease again and prove the key instead', t => {
  const key = generateKeyPair()
  const first = helloMessage(settings, 'id', key, null, ['192.0.2.1:4000'])
  t.is(first.invite, 'inv')
  t.is(first.lease, undefined)
  t.deepEqual(first.endpoints, ['192.0.2.1:4000'])
  t.is(first.key, key.publicKey)
  const again = helloMessage(settings, 'id', key, welcome, [])
  t.is(again.invite, undefined)
  t.deepEqual(again.lease, { mac: welcome.mac, ip: welcome.ip })
  t.false('endpoints' in again)
  const keyless = helloMessage(settings, 'id', undefined, null, [])
  t.false('invite' in keyless, 'an invite needs a key to enrol')
  t.false('key' in keyless)
})
