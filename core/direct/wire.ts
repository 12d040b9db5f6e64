/**
 * The direct path's packets around the Noise messages (noise.ts) and DATA (transport.ts):
 *
 *   HANDSHAKE_INIT  type(1)=1 | message 1 (payload: timestamp 12 | sender index 4)
 *   HANDSHAKE_RESP  type(1)=2 | receiver(4) | message 2 (payload: sender index 4)
 *   DATA            type(1)=4 | receiver(4) | counter(8) | AEAD(inner)
 *
 * Inside DATA, one byte says what the plaintext is:
 *   INNER_FRAME  one Ethernet frame (the length is the packet's; one frame per datagram, so
 *                no datagram exceeds the path MTU)
 *   INNER_PING   id(4) then padding (a full-size ping probes the path MTU)
 *   INNER_PONG   id(4) | the ping's length(2)
 * Endpoints travel through the hub as "a.b.c.d:port" strings.
 */
import { MSG1_LEN, MSG2_LEN } from './noise.js'
import { DATA_HEADER_LEN, TAG_LEN, TYPE_HANDSHAKE_INIT, TYPE_HANDSHAKE_RESP } from './transport.js'
import { parseIpv4 } from '../ipv4.js'
export { MAX_ENDPOINTS } from '../protocol.js'

export const INNER_FRAME = 0
export const INNER_PING = 1
export const INNER_PONG = 2
export const INIT_LEN = 1 + MSG1_LEN
export const RESP_LEN = 1 + 4 + MSG2_LEN
/** IPv4 (20) + UDP (8) + DATA header + tag + inner type: what the underlay adds to a frame. */
export const DIRECT_OVERHEAD = 20 + 8 + DATA_HEADER_LEN + TAG_LEN + 1
/** The underlay MTU the direct path assumes (Ethernet; PPPoE and tunnels fail the probe and stay relayed). */
export const UNDERLAY_MTU = 1500
/** Longest frame a direct datagram carries without IP fragmentation on UNDERLAY_MTU. */
export const DIRECT_MAX_FRAME = UNDERLAY_MTU - DIRECT_OVERHEAD

export interface Endpoint { address: string, port: number }

export const encodeInit = (msg1: Buffer): Buffer => Buffer.concat([Buffer.from([TYPE_HANDSHAKE_INIT]), msg1])

export const encodeResp = (receiver: number, msg2: Buffer): Buffer => {
  const b = Buffer.allocUnsafe(RESP_LEN)
  b[0] = TYPE_HANDSHAKE_RESP
  b.writeUInt32LE(receiver >>> 0, 1)
  msg2.copy(b, 5)
  return b
}

/** Message 1 payload: timestamp (12) | sender index (4). */
export const initPayload = (ts: Buffer, senderIndex: number): Buffer => {
  const p = Buffer.alloc(16)
  ts.copy(p, 0)
  p.writeUInt32LE(senderIndex >>> 0, 12)
  return p
}

/** "a.b.c.d:port", or null. */
export const parseEndpoint = (s: string): Endpoint | null => {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(s)
  if (m === null || parseIpv4(m[1]!) === null) return null
  const port = Number(m[2])
  return port >= 1 && port <= 65535 ? { address: m[1]!, port } : null
}

export const formatEndpoint = (e: Endpoint): string => `${e.address}:${e.port}`

/** Frames that may take the direct path: IPv4, and IPv6 except ICMPv6 (ND and MLD, which the hub suppresses and snoops). ARP and all else: the hub. */
export const directEligible = (b: Buffer, off: number, len: number): boolean => {
  if (len < 14 || (b[off]! & 1) !== 0) return false // group address: the hub floods it
  const type = b.readUInt16BE(off + 12)
  if (type === 0x0800) return true
  return type === 0x86dd && len >= 54 && b[off + 20] !== 58
}
