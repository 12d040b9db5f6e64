/**
 * NetBIOS name service packets (RFC 1002 §4.2), UDP 137.
 *
 *   header 12B: +0 NAME_TRN_ID  +2 flags  +4 QDCOUNT  +6 ANCOUNT  +8 NSCOUNT  +10 ARCOUNT
 *     flags: R(15) OPCODE(14-11) AA(10) TC(9) RD(8) RA(7) 0 0 B(4) RCODE(3-0)
 *   question: name, type (NB 0x20, NBSTAT 0x21), class (IN 1)
 *   resource record: name (or pointer 0xC00C), type, class, TTL(4), RDLENGTH(2), RDATA
 *     NB RDATA: n × { NB_FLAGS(2): G(15) ONT(14-13); NB_ADDRESS(4) }
 *     NBSTAT RDATA: NUM_NAMES(1), n × { name 16B (15 + suffix), NAME_FLAGS(2) }, STATISTICS 46B
 *       (the first 6 bytes of the statistics are the unit ID, the MAC address)
 *
 * Names use first-level encoding (RFC 1001 §14.1): 15 characters space-padded plus a suffix
 * byte, each half-byte as 'A' + nibble: 32 characters in one label, then the (empty) scope.
 * Codecs follow the dns-packet shape: encode / decode / encodingLength; decode throws a
 * RangeError naming what is wrong, never reads out of bounds.
 */

export const NBNS_PORT = 137
export const TYPE_NB = 0x20
export const TYPE_NBSTAT = 0x21
const CLASS_IN = 1

export const OPCODE_QUERY = 0
export const OPCODE_REGISTRATION = 5
export const OPCODE_RELEASE = 6
export const OPCODE_WACK = 7
export const OPCODE_REFRESH = 8

/** NetBIOS suffixes (MS-NBTE): workstation, messenger, file server. */
export const SUFFIX_WORKSTATION = 0x00
export const SUFFIX_MESSENGER = 0x03
export const SUFFIX_SERVER = 0x20

export const RCODE_OK = 0
export const RCODE_ACT_ERR = 6 // name is active on another node (RFC 1002 §4.2.6)

/** NAME_FLAGS of NBSTAT entries. */
export const NAME_FLAG_GROUP = 0x8000
export const NAME_FLAG_ACTIVE = 0x0400
export const NAME_FLAG_PERMANENT = 0x0200

export interface NbName {
  /** Up to 15 characters; `*` with suffix 0 is the wildcard of node status queries. */
  name: string
  suffix: number
}

export interface NbQuestion { name: NbName, type: number }

export interface NbAddress { group: boolean, /** owner node type, 0 = B-node */ ont: number, address: string }
export interface NbStatName { name: NbName, flags: number }

export type NbRecord =
  | { name: NbName, type: typeof TYPE_NB, ttl: number, addresses: NbAddress[] }
  | { name: NbName, type: typeof TYPE_NBSTAT, ttl: number, names: NbStatName[], unitId: string }

export interface NbPacket {
  id: number
  response: boolean
  opcode: number
  authoritative: boolean
  truncated: boolean
  recursionDesired: boolean
  recursionAvailable: boolean
  broadcast: boolean
  rcode: number
  questions: NbQuestion[]
  answers: NbRecord[]
  authorities: NbRecord[]
  additionals: NbRecord[]
}

export const packet = (p: Partial<NbPacket> & Pick<NbPacket, 'id'>): NbPacket => ({
  response: false, opcode: OPCODE_QUERY, authoritative: false, truncated: false, recursionDesired: false,
  recursionAvailable: false, broadcast: false, rcode: 0, questions: [], answers: [], authorities: [], additionals: [], ...p
})

// --- names ---

const NAME_ENCODED_LEN = 34 // length byte 0x20, 32 characters, empty scope (0)
const STATS_LEN = 46

/** The 16 raw bytes of a name: 15 characters (space-padded; NUL-padded for `*`) and the suffix. */
export const rawName = (n: NbName): Buffer => {
  const b = Buffer.alloc(16, n.name === '*' ? 0 : 0x20)
  b.write(n.name.slice(0, 15), 0, 'latin1')
  b[15] = n.suffix
  return b
}

export const encodeName = (n: NbName, out: Buffer = Buffer.alloc(NAME_ENCODED_LEN), off = 0): Buffer => {
  const raw = rawName(n)
  out[off] = 0x20
  for (let i = 0; i < 16; i++) {
    out[off + 1 + i * 2] = 0x41 + (raw[i]! >> 4)
    out[off + 2 + i * 2] = 0x41 + (raw[i]! & 0x0f)
  }
  out[off + 33] = 0
  return out
}

const fromRaw = (raw: Buffer): NbName => {
  const suffix = raw[15]!
  const text = raw.toString('latin1', 0, 15)
  return { name: text[0] === '*' ? '*' : text.replace(/[ \0]+$/, ''), suffix }
}

/** Decodes a name at `off` (following one compression pointer); returns it and the bytes consumed. */
export const decodeName = (b: Buffer, off: number): { name: NbName, length: number } => {
  if (off >= b.length) throw new RangeError(`name at ${off} is past the end of the packet`)
  if ((b[off]! & 0xc0) === 0xc0) {
    if (off + 2 > b.length) throw new RangeError('truncated name pointer')
    const target = b.readUInt16BE(off) & 0x3fff
    if (target >= off) throw new RangeError(`name pointer ${target} does not point backwards`)
    return { name: decodeName(b, target).name, length: 2 }
  }
  if (b[off] !== 0x20) throw new RangeError(`name label length ${b[off]!} is not 32`)
  if (off + NAME_ENCODED_LEN > b.length) throw new RangeError('truncated name')
  const raw = Buffer.alloc(16)
  for (let i = 0; i < 16; i++) {
    const hi = b[off + 1 + i * 2]! - 0x41
    const lo = b[off + 2 + i * 2]! - 0x41
    if (hi < 0 || hi > 15 || lo < 0 || lo > 15) throw new RangeError(`name character at ${off + 1 + i * 2} is not A-P`)
    raw[i] = (hi << 4) | lo
  }
  // Scope labels (rare): skip them, bounded by the packet.
  let p = off + 33
  while (b[p] !== 0) {
    if (p >= b.length || b[p]! > 63) throw new RangeError('bad scope label')
    p += 1 + b[p]!
  }
  if (p >= b.length) throw new RangeError('truncated scope')
  return { name: fromRaw(raw), length: p + 1 - off }
}

// --- records ---

const rdataLength = (r: NbRecord): number =>
  r.type === TYPE_NB ? r.addresses.length * 6 : 1 + r.names.length * 18 + STATS_LEN

const recordLength = (r: NbRecord): number => NAME_ENCODED_LEN + 10 + rdataLength(r)

export const encodingLength = (p: NbPacket): number =>
  12 + p.questions.length * (NAME_ENCODED_LEN + 4) +
  [...p.answers, ...p.authorities, ...p.additionals].reduce((n, r) => n + recordLength(r), 0)

const writeRecord = (r: NbRecord, out: Buffer, off: number): number => {
  encodeName(r.name, out, off)
  let p = off + NAME_ENCODED_LEN
  out.writeUInt16BE(r.type, p)
  out.writeUInt16BE(CLASS_IN, p + 2)
  out.writeUInt32BE(r.ttl >>> 0, p + 4)
  out.writeUInt16BE(rdataLength(r), p + 8)
  p += 10
  if (r.type === TYPE_NB) {
    for (const a of r.addresses) {
      out.writeUInt16BE((a.group ? 0x8000 : 0) | ((a.ont & 3) << 13), p)
      a.address.split('.').forEach((o, i) => { out[p + 2 + i] = Number(o) })
      p += 6
    }
  } else {
    out[p++] = r.names.length
    for (const n of r.names) {
      rawName(n.name).copy(out, p)
      out.writeUInt16BE(n.flags, p + 16)
      p += 18
    }
    out.fill(0, p, p + STATS_LEN)
    Buffer.from(r.unitId.replaceAll(':', ''), 'hex').copy(out, p)
    p += STATS_LEN
  }
  return p
}

export const encode = (pk: NbPacket): Buffer => {
  const out = Buffer.alloc(encodingLength(pk))
  out.writeUInt16BE(pk.id, 0)
  const flags = (pk.response ? 0x8000 : 0) | ((pk.opcode & 0xf) << 11) | (pk.authoritative ? 0x400 : 0) |
    (pk.truncated ? 0x200 : 0) | (pk.recursionDesired ? 0x100 : 0) | (pk.recursionAvailable ? 0x80 : 0) |
    (pk.broadcast ? 0x10 : 0) | (pk.rcode & 0xf)
  out.writeUInt16BE(flags, 2)
  out.writeUInt16BE(pk.questions.length, 4)
  out.writeUInt16BE(pk.answers.length, 6)
  out.writeUInt16BE(pk.authorities.length, 8)
  out.writeUInt16BE(pk.additionals.length, 10)
  let p = 12
  for (const q of pk.questions) {
    encodeName(q.name, out, p)
    out.writeUInt16BE(q.type, p + NAME_ENCODED_LEN)
    out.writeUInt16BE(CLASS_IN, p + NAME_ENCODED_LEN + 2)
    p += NAME_ENCODED_LEN + 4
  }
  for (const r of [...pk.answers, ...pk.authorities, ...pk.additionals]) p = writeRecord(r, out, p)
  return out
}

const need = (b: Buffer, off: number, n: number, what: string): void => {
  if (off + n > b.length) throw new RangeError(`truncated ${what} at ${off}`)
}

const readRecord = (b: Buffer, off: number): { record: NbRecord, next: number } => {
  const { name, length } = decodeName(b, off)
  let p = off + length
  need(b, p, 10, 'record header')
  const type = b.readUInt16BE(p)
  const ttl = b.readUInt32BE(p + 4)
  const rdlen = b.readUInt16BE(p + 8)
  p += 10
  need(b, p, rdlen, 'record data')
  const end = p + rdlen
  if (type === TYPE_NB) {
    if (rdlen % 6 !== 0) throw new RangeError(`NB record data length ${rdlen} is not a multiple of 6`)
    const addresses: NbAddress[] = []
    for (; p < end; p += 6) {
      const f = b.readUInt16BE(p)
      addresses.push({ group: (f & 0x8000) !== 0, ont: (f >> 13) & 3, address: `${b[p + 2]!}.${b[p + 3]!}.${b[p + 4]!}.${b[p + 5]!}` })
    }
    return { record: { name, type: TYPE_NB, ttl, addresses }, next: end }
  }
  if (type === TYPE_NBSTAT) {
    if (rdlen < 1) throw new RangeError('empty NBSTAT record')
    const n = b[p]!
    if (1 + n * 18 > rdlen) throw new RangeError(`NBSTAT record lists ${n} names but holds ${rdlen} bytes`)
    const names: NbStatName[] = []
    for (let i = 0; i < n; i++) {
      const q = p + 1 + i * 18
      names.push({ name: fromRaw(b.subarray(q, q + 16)), flags: b.readUInt16BE(q + 16) })
    }
    const stats = p + 1 + n * 18
    const unitId = stats + 6 <= end ? b.toString('hex', stats, stats + 6).match(/../g)!.join(':') : '00:00:00:00:00:00'
    return { record: { name, type: TYPE_NBSTAT, ttl, names, unitId }, next: end }
  }
  throw new RangeError(`unsupported record type 0x${type.toString(16)}`)
}

export const decode = (b: Buffer): NbPacket => {
  need(b, 0, 12, 'header')
  const flags = b.readUInt16BE(2)
  const counts = [b.readUInt16BE(4), b.readUInt16BE(6), b.readUInt16BE(8), b.readUInt16BE(10)] as const
  if (counts.reduce((a, c) => a + c, 0) > 64) throw new RangeError('more than 64 questions and records')
  const pk = packet({
    id: b.readUInt16BE(0),
    response: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    authoritative: (flags & 0x400) !== 0,
    truncated: (flags & 0x200) !== 0,
    recursionDesired: (flags & 0x100) !== 0,
    recursionAvailable: (flags & 0x80) !== 0,
    broadcast: (flags & 0x10) !== 0,
    rcode: flags & 0xf
  })
  let p = 12
  for (let i = 0; i < counts[0]; i++) {
    const { name, length } = decodeName(b, p)
    p += length
    need(b, p, 4, 'question')
    pk.questions.push({ name, type: b.readUInt16BE(p) })
    p += 4
  }
  const sections = [pk.answers, pk.authorities, pk.additionals]
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const { record, next } = readRecord(b, p)
      sections[s]!.push(record)
      p = next
    }
  }
  return pk
}

/** A NetBIOS name from a host name: upper case, at most 15 characters, no dots or spaces. */
export const netbiosNameOf = (name: string): string =>
  name.toUpperCase().replace(/[^A-Z0-9!#$%&'()\-^_{}~]/g, '-').slice(0, 15) || 'OVERLAN'
