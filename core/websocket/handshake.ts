/**
 * The opening handshake (RFC 6455 §4): the client's upgrade request and the checks of the
 * server's answer, the server's checks of a request and its 101 answer. Pure but for the
 * random key and the SHA-1 of §4.2.2.
 */
import { createHash, randomBytes } from 'node:crypto'

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
/** An HTTP response head longer than this is no WebSocket handshake. */
export const MAX_HEAD_BYTES = 16 * 1024

/** §4.1: 16 random bytes, base64. */
export const newKey = (): string => randomBytes(16).toString('base64')

/** §4.2.2: the Sec-WebSocket-Accept for a Sec-WebSocket-Key. */
export const acceptFor = (key: string): string => createHash('sha1').update(key + GUID).digest('base64')

export interface UpgradeRequest { host: string, path: string, key: string, protocol: string }

export const upgradeRequest = (r: UpgradeRequest): string =>
  `GET ${r.path} HTTP/1.1\r\nHost: ${r.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: ${r.key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${r.protocol}\r\n\r\n`

export interface HttpHead {
  status: number
  /** Header names lower-cased; repeated headers joined with ", " (RFC 9110 §5.3). */
  headers: Map<string, string>
  /** Bytes of the head, the blank line included: what follows belongs to the body or the frames. */
  length: number
}

/**
 * Parses an HTTP/1.x response head from buf[0, len): null while the blank line has not
 * arrived; throws (a sentence) when it is malformed or longer than MAX_HEAD_BYTES.
 */
export const parseResponseHead = (buf: Buffer, len: number): HttpHead | null => {
  const end = buf.subarray(0, Math.min(len, MAX_HEAD_BYTES)).indexOf('\r\n\r\n')
  if (end < 0) {
    if (len >= MAX_HEAD_BYTES) throw new Error(`HTTP response head over ${MAX_HEAD_BYTES} bytes`)
    return null
  }
  const lines = buf.toString('latin1', 0, end).split('\r\n')
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0]!)
  if (m === null) throw new Error(`not an HTTP response: ${JSON.stringify(lines[0]!.slice(0, 60))}`)
  const headers = new Map<string, string>()
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon <= 0) throw new Error(`malformed HTTP header line: ${JSON.stringify(line.slice(0, 60))}`)
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    const had = headers.get(name)
    headers.set(name, had === undefined ? value : `${had}, ${value}`)
  }
  return { status: Number(m[1]), headers, length: end + 4 }
}

const hasToken = (value: string | undefined, token: string): boolean =>
  value !== undefined && value.split(',').some(v => v.trim().toLowerCase() === token)

/** §4.1 (client side): why a 101 answer is not a valid upgrade to `protocol`, or null. */
export const checkUpgradeResponse = (head: HttpHead, key: string, protocol: string): string | null => {
  const h = head.headers
  if (!hasToken(h.get('upgrade'), 'websocket')) return 'the 101 answer lacks Upgrade: websocket'
  if (!hasToken(h.get('connection'), 'upgrade')) return 'the 101 answer lacks Connection: Upgrade'
  if (h.get('sec-websocket-accept') !== acceptFor(key)) return 'wrong Sec-WebSocket-Accept in the 101 answer'
  if (h.get('sec-websocket-protocol') !== protocol) return `the server did not accept subprotocol ${protocol}`
  if (h.has('sec-websocket-extensions')) return 'the server chose an extension that was not offered'
  return null
}

/** §4.2.1 (server side): why a request is no valid WebSocket upgrade, or null. */
export const checkUpgradeRequest = (method: string | undefined, headers: Record<string, string | string[] | undefined>): string | null => {
  const one = (n: string): string | undefined => { const v = headers[n]; return Array.isArray(v) ? v.join(', ') : v }
  if (method !== 'GET') return 'a WebSocket upgrade is a GET'
  if (!hasToken(one('upgrade'), 'websocket')) return 'Upgrade: websocket missing'
  if (!hasToken(one('connection'), 'upgrade')) return 'Connection: Upgrade missing'
  if (one('sec-websocket-version') !== '13') return 'Sec-WebSocket-Version 13 required'
  const key = one('sec-websocket-key')
  if (key === undefined || !/^[A-Za-z0-9+/]{22}==$/.test(key)) return 'Sec-WebSocket-Key must be 16 bytes in base64'
  return null
}

/** §4.2.2: the server's 101 answer choosing `protocol`. */
export const upgradeResponse = (key: string, protocol: string): string =>
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  `Sec-WebSocket-Accept: ${acceptFor(key)}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`
