/**
 * The hub's UDP reflector (as STUN's binding request, RFC 8489, in a few bytes): a peer asks
 * from the UDP socket it will use for the direct path, and learns the address and port the
 * hub saw — its reflexive candidate behind a NAT.
 *
 *   request  "OVL1" | 0x01 | nonce (8) | zero padding to REQUEST_LEN     (≥ the answer: no amplification)
 *   answer   "OVL1" | 0x02 | nonce (8) | family (1: 4 or 6) | port (2) | address (4 or 16)
 */
import { parseIpv4 } from './ipv4.js'
import { ipv6Words } from './ipv6.js'

export const MAGIC = Buffer.from('OVL1')
export const REFLECT_REQUEST = 0x01
export const REFLECT_ANSWER = 0x02
export const NONCE_LEN = 8
/** Requests are at least this long, and answers never longer (32 bytes at most). */
export const REQUEST_LEN = 48

export const encodeRequest = (nonce: Buffer): Buffer => {
  const b = Buffer.alloc(REQUEST_LEN)
  MAGIC.copy(b, 0)
  b[4] = REFLECT_REQUEST
  nonce.copy(b, 5, 0, NONCE_LEN)
  return b
}

/** The nonce of a valid request, or null (wrong magic or type, too short to answer safely). */
export const decodeRequest = (b: Buffer): Buffer | null =>
  b.length >= REQUEST_LEN && b.subarray(0, 4).equals(MAGIC) && b[4] === REFLECT_REQUEST ? b.subarray(5, 5 + NONCE_LEN) : null

export const encodeAnswer = (nonce: Buffer, address: string, port: number): Buffer | null => {
  const v4 = parseIpv4(address)
  const v6 = v4 === null ? ipv6Words(address) : null
  if (v4 === null && v6 === null) return null
  const b = Buffer.alloc(4 + 1 + NONCE_LEN + 1 + 2 + (v4 !== null ? 4 : 16))
  MAGIC.copy(b, 0)
  b[4] = REFLECT_ANSWER
  nonce.copy(b, 5, 0, NONCE_LEN)
  b[13] = v4 !== null ? 4 : 6
  b.writeUInt16BE(port, 14)
  if (v4 !== null) b.writeUInt32BE(v4, 16)
  else v6!.forEach((w, i) => { b.writeUInt16BE(w, 16 + 2 * i) })
  return b
}

/** "ip:port" the hub saw, if `b` answers the request with `nonce`; else null. */
export const decodeAnswer = (b: Buffer, nonce: Buffer): string | null => {
  if (b.length < 20 || !b.subarray(0, 4).equals(MAGIC) || b[4] !== REFLECT_ANSWER || !b.subarray(5, 13).equals(nonce)) return null
  const port = b.readUInt16BE(14)
  if (b[13] === 4 && b.length >= 20) return `${[...b.subarray(16, 20)].join('.')}:${port}`
  if (b[13] === 6 && b.length >= 32) {
    const words: string[] = []
    for (let i = 0; i < 8; i++) words.push(b.readUInt16BE(16 + 2 * i).toString(16))
    return `[${words.join(':')}]:${port}`
  }
  return null
}
