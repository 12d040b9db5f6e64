/** The hello a peer opens each connection with (DESIGN.md, the wire protocol). */
import { PROTOCOL_VERSION, type HelloMessage, type WelcomeMessage } from '../core/protocol.js'
import type { KeyPair } from '../core/keys.js'
import type { PeerSettings } from './config.js'

const SOFTWARE = 'overlan-peer/0.1'

/**
 * `welcome` is the last one this peer got (null before the first): its lease is asked for
 * again, and an invite is spent by the first welcome only — reconnects prove the enrolled key.
 */
export const helloMessage = (settings: PeerSettings, identity: string, key: KeyPair | undefined, welcome: WelcomeMessage | null, endpoints: readonly string[]): HelloMessage => ({
  type: 'hello',
  version: PROTOCOL_VERSION,
  room: settings.room,
  token: settings.token,
  identity,
  name: settings.name,
  ...(settings.address !== undefined ? { address: settings.address } : {}),
  ...(welcome !== null ? { lease: { mac: welcome.mac, ip: welcome.ip } } : {}),
  software: SOFTWARE,
  ...(key !== undefined ? { key: key.publicKey } : {}),
  ...(key !== undefined && settings.invite !== undefined && welcome === null ? { invite: settings.invite } : {}),
  ...(endpoints.length > 0 ? { endpoints: [...endpoints] } : {})
})
