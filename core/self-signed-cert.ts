/**
 * A self-signed certificate made with node:crypto alone (no openssl binary, no x509 library):
 * an EC P-256 key and an X.509 v3 certificate (RFC 5280) signed with ecdsa-with-SHA256,
 * DER-encoded by the few ASN.1 writers below (X.690). The hub's own (hub/self-signed-cert.ts),
 * and the throwaway one of a keep-warm loop's loopback TLS (core/websocket/warm-loop.ts).
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { isIP } from 'node:net'

// --- DER (X.690 §8, definite lengths) ---
const tlv = (tag: number, body: Buffer): Buffer => {
  const n = body.length
  const len = n < 0x80
    ? Buffer.from([n])
    : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff])
  return Buffer.concat([Buffer.from([tag]), len, body])
}
const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items))
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items))
/**
 * A non-negative DER INTEGER from big-endian bytes: minimal, as DER requires (X.690 §8.3.2) —
 * no redundant leading zero bytes, and one zero byte before a set high bit.
 */
export const derInteger = (b: Buffer): Buffer => {
  let start = 0
  while (start < b.length - 1 && b[start] === 0 && (b[start + 1]! & 0x80) === 0) start++
  const v = b.subarray(start)
  return tlv(0x02, v.length === 0 ? Buffer.from([0]) : v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v)
}
const oid = (dotted: string): Buffer => {
  const parts = dotted.split('.').map(Number)
  const out = [40 * parts[0]! + parts[1]!]
  for (const p of parts.slice(2)) {
    const bytes = [p & 0x7f]
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift((v & 0x7f) | 0x80)
    out.push(...bytes)
  }
  return tlv(0x06, Buffer.from(out))
}
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'))
const octets = (b: Buffer): Buffer => tlv(0x04, b)
const bits = (b: Buffer): Buffer => tlv(0x03, Buffer.concat([Buffer.from([0]), b]))
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]))
const explicit = (n: number, body: Buffer): Buffer => tlv(0xa0 + n, body)
/** UTCTime YYMMDDHHMMSSZ (RFC 5280 §4.1.2.5.1: years before 2050). */
const utcTime = (d: Date): Buffer => tlv(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'))

const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2'
const OID_CN = '2.5.4.3'
const OID_SAN = '2.5.29.17'
const OID_BASIC_CONSTRAINTS = '2.5.29.19'
const OID_EXT_KEY_USAGE = '2.5.29.37'
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1'

const ipBytes = (ip: string): Buffer => {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number))
  const full = new URL(`http://[${ip}]/`).hostname.slice(1, -1) // normalised
  const halves = full.split('::')
  const head = halves[0] === '' ? [] : halves[0]!.split(':')
  const tail = halves.length > 1 && halves[1] !== '' ? halves[1]!.split(':') : []
  const groups = [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail]
  return Buffer.from(groups.flatMap(g => { const v = parseInt(g, 16); return [v >> 8, v & 0xff] }))
}

export interface SelfSignedOptions {
  commonName: string
  /** DNS names and IP addresses for subjectAltName. */
  names: string[]
  validDays: number
  now: Date
}

export const createSelfSignedCert = (o: SelfSignedOptions): { certPem: string, keyPem: string } => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const spki = publicKey.export({ type: 'spki', format: 'der' })
  const name = seq(set(seq(oid(OID_CN), utf8(o.commonName))))
  const alg = seq(oid(OID_ECDSA_SHA256))
  const serial = randomBytes(16)
  serial[0] = serial[0]! & 0x7f
  const notBefore = new Date(o.now.getTime() - 86_400_000)
  const notAfter = new Date(o.now.getTime() + o.validDays * 86_400_000)
  const sanEntries = o.names.map(n => isIP(n) !== 0 ? tlv(0x87, ipBytes(n)) : tlv(0x82, Buffer.from(n, 'ascii')))
  const extensions = seq(
    // cA false: a leaf that peers pin by its key (a CA certificate given to --ca verifies by name instead).
    seq(oid(OID_BASIC_CONSTRAINTS), bool(true), octets(seq())),
    seq(oid(OID_EXT_KEY_USAGE), octets(seq(oid(OID_SERVER_AUTH)))),
    seq(oid(OID_SAN), octets(seq(...sanEntries)))
  )
  const tbs = seq(
    explicit(0, derInteger(Buffer.from([2]))),
    derInteger(serial),
    alg,
    name,
    seq(utcTime(notBefore), utcTime(notAfter)),
    name,
    spki,
    explicit(3, extensions)
  )
  const signature = sign('sha256', tbs, privateKey)
  const der = seq(tbs, alg, bits(signature))
  const certPem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  return { certPem, keyPem }
}
