/**
 * overlan wire protocol, version 1 (peer <-> hub).
 *
 * Transport: WebSocket (RFC 6455) over TLS, subprotocol `overlan.1`, permessage-deflate off.
 *
 * Control: WebSocket TEXT messages, each one JSON object with a `type`:
 *
 *   peer -> hub   hello    first message, within HELLO_TIMEOUT_MS of the upgrade
 *   hub  -> peer  welcome  join accepted: lease (MAC, IPv4/prefix), MTU, members
 *   hub  -> peer  error    join refused or session ended: stable `code` + sentence,
 *                          then a close with the matching CLOSE_* code below
 *   either        bye      orderly leave; the other side closes with 1000
 *   peer -> hub   list     asks for the room: members and the directory of services
 *   hub  -> peer  room     the answer: members and services (see Service below)
 *   hub  -> peer  members  the room's members now (joins, leaves, RTTs; at most once a second,
 *                          and every MEMBERS_REFRESH_MS), at most MAX_MEMBERS_PUSHED of them
 *   peer -> hub   test     a throughput test (peer test): "up" — the hub counts and drops this
 *                          session's binary data for `ms`; "down" — the hub sends filler
 *                          batches for `ms` (the peer discards them); each way at most once per
 *                          TEST_EVERY_MS, counted from the end of the last
 *   hub  -> peer  test_result  bytes the hub received (up) or sent (down) and over how long
 *   hub  -> peer  challenge  after a hello with `key`: a fresh nonce and the hub's key
 *   peer -> hub   proof    HMAC over the nonce keyed by X25519(peer, hub) (core/keys.ts)
 *   hub  -> peer  redirect another hub of the cluster owns the room: {room, url}; the hub
 *                          closes with CLOSE_REDIRECT and the peer joins at `url` at once
 *   peer -> hub   direct   the peer's direct-path candidates ("a.b.c.d:port", at most
 *                          MAX_ENDPOINTS) and how many members it reaches directly; the hub
 *                          passes the candidates on in `members` (as Member.endpoints) when
 *                          the room allows direct paths (welcome.directPath), at most
 *                          DIRECT_PER_S a second per session (more are ignored)
 *
 * Join with a key: hello {key, token | invite | neither} -> challenge -> proof -> welcome.
 * The first proven join with the room's token or an invite enrols identity -> key; after
 * that the identity joins by its key alone (no token), and never without it.
 *
 * Unknown `type`s are ignored (logged at debug) so later versions can add messages. A peer
 * never drops its connection over a control message it cannot use: after `welcome` it logs
 * and ignores it. A `room` answer is at most MAX_ROOM_ANSWER_BYTES (services cut, with
 * `truncated: true`); services that fail validation are left out, not the whole answer.
 * The hub answers `list` at most LIST_PER_S times a second per session (more are ignored).
 *
 * Data: WebSocket BINARY messages holding a batch of one or more Ethernet frames
 * (destination MAC first, no FCS, no preamble), each preceded by its length:
 *
 *   offset 0   2B  frame length N, big-endian (ETH_HEADER_LEN <= N <= MAX_FRAME_LEN)
 *   offset 2   NB  the frame
 *   offset 2+N      next length, … until the end of the message
 *
 * A sender batches what it has ready (e.g. every frame drained from the TAP in one
 * wake-up) so one WebSocket message and one TLS record carry many frames. A batch
 * whose lengths do not add up exactly is dropped whole and counted (`bad_batch`).
 * Binary messages before `welcome` are a protocol violation (CLOSE_BAD_MESSAGE).
 */

export const PROTOCOL_VERSION = 1
export const SUBPROTOCOL = 'overlan.1'

/** Length prefix of each frame inside a binary message. */
export const BATCH_LEN_PREFIX = 2
/** Largest frame the framing can carry (u16); rooms enforce their MTU below this. */
export const MAX_FRAME_LEN = 0xffff
/** Largest binary message either side sends or accepts (ws maxPayload). */
export const MAX_MESSAGE_BYTES = 256 * 1024
/** Largest text (control) message; hello/welcome are far smaller. */
export const MAX_CONTROL_BYTES = 64 * 1024
/** Largest `room` answer the hub sends (below MAX_CONTROL_BYTES, which peers accept). */
export const MAX_ROOM_ANSWER_BYTES = 60 * 1024
/** `list` requests the hub answers per session and second (burst LIST_BURST). */
export const LIST_PER_S = 2
export const LIST_BURST = 5
/** The hub closes a connection that has not sent `hello` by then. */
export const HELLO_TIMEOUT_MS = 10_000

/** WebSocket close codes (4000-4999 are application codes, RFC 6455 §7.4.2). */
export const CLOSE_NORMAL = 1000
export const CLOSE_GOING_AWAY = 1001
export const CLOSE_BAD_MESSAGE = 4000
export const CLOSE_AUTH_FAILED = 4001
export const CLOSE_ROOM_UNKNOWN = 4002
export const CLOSE_ROOM_FULL = 4003
export const CLOSE_PROTOCOL_VERSION = 4004
export const CLOSE_ADDRESS_UNAVAILABLE = 4005
export const CLOSE_SUBNET_EXHAUSTED = 4006
export const CLOSE_DUPLICATE_SESSION = 4007
export const CLOSE_HELLO_TIMEOUT = 4008
export const CLOSE_RATE_LIMITED = 4009
export const CLOSE_BANNED = 4010
export const CLOSE_KICKED = 4011
export const CLOSE_INVITE_INVALID = 4012
/** Not a refusal: the room lives on another hub (a `redirect` said where). */
export const CLOSE_REDIRECT = 4013
export const CLOSE_UNAVAILABLE = 4014

/** Refusal codes sent in `error` and the close code each one ends with. */
export const REFUSAL_CLOSE_CODES = {
  BAD_MESSAGE: CLOSE_BAD_MESSAGE,
  AUTH_FAILED: CLOSE_AUTH_FAILED,
  ROOM_UNKNOWN: CLOSE_ROOM_UNKNOWN,
  ROOM_FULL: CLOSE_ROOM_FULL,
  PROTOCOL_VERSION: CLOSE_PROTOCOL_VERSION,
  ADDRESS_UNAVAILABLE: CLOSE_ADDRESS_UNAVAILABLE,
  SUBNET_EXHAUSTED: CLOSE_SUBNET_EXHAUSTED,
  DUPLICATE_SESSION: CLOSE_DUPLICATE_SESSION,
  /** Too many join attempts from one address: retry later (a peer backs off and retries). */
  RATE_LIMITED: CLOSE_RATE_LIMITED,
  /** The peer's key is banned from the room (hub ban). */
  BANNED: CLOSE_BANNED,
  /** An admin removed the peer (hub kick); it may join again. */
  KICKED: CLOSE_KICKED,
  /** The invite is unknown, used up, expired or for another room. */
  INVITE_INVALID: CLOSE_INVITE_INVALID,
  /** The hub cannot place the join now (the cluster's store is unreachable): retry later. */
  UNAVAILABLE: CLOSE_UNAVAILABLE
} as const
export type RefusalCode = keyof typeof REFUSAL_CLOSE_CODES

export const isRefusalCode = (s: string): s is RefusalCode =>
  Object.prototype.hasOwnProperty.call(REFUSAL_CLOSE_CODES, s)

export interface Lease {
  /** Locally administered unicast MAC, "02:xx:xx:xx:xx:xx". */
  mac: string
  /** Dotted IPv4 address inside the room's subnet. */
  ip: string
}

export interface Member {
  name: string
  mac: string
  ip: string
  /** ms since epoch the member's session began (members/room messages). */
  since?: number
  /** The member's RTT to the hub (median, ms), as the hub measures it; null before a sample. */
  hubRttMs?: number | null
  /** The member's proven X25519 public key (the direct path's responder key); absent without one. */
  key?: string
  /** The member's direct-path candidates, "a.b.c.d:port" (members pushes only). */
  endpoints?: string[]
  /** How this peer reaches the member (added by the peer to `peer list` answers, never on the wire). */
  path?: 'direct' | 'relay'
  rttMs?: number | null
}

export interface DirectMessage {
  type: 'direct'
  endpoints: string[]
  /** Members this peer reaches directly now (the hub's /status shows it). */
  reaching: number
}

/** Candidates a peer may announce; `direct` messages a session may send per second. */
export const MAX_ENDPOINTS = 8
export const DIRECT_PER_S = 2

export interface MembersMessage {
  type: 'members'
  room: string
  members: Member[]
  truncated?: boolean
}

/** Members pushed at most this often, and at least this often for RTT updates. */
export const MEMBERS_PUSH_MIN_MS = 1000
export const MEMBERS_REFRESH_MS = 10_000
export const MAX_MEMBERS_PUSHED = 256

export interface HelloMessage {
  type: 'hello'
  version: number
  room: string
  token: string
  /** Stable random identity of the peer (hex), the key of its lease. */
  identity: string
  name: string
  /** Address the peer asks for (--address), granted if free. */
  address?: string
  /** Lease the peer held before, as a hint; the hub's state file is authoritative. */
  lease?: Lease
  software?: string
  /** The peer's X25519 public key (base64url, 32 bytes): the hub challenges it. */
  key?: string
  /** "<id>.<secret>" of an invite (with `key`): joins and enrols without the token. */
  invite?: string
  /** The peer's direct-path candidates, as in `direct` (so the first members push has them). */
  endpoints?: string[]
}

export interface TestMessage {
  type: 'test'
  direction: 'up' | 'down'
  ms: number
}

export interface TestResultMessage {
  type: 'test_result'
  direction: 'up' | 'down'
  bytes: number
  ms: number
}

/** Longest test phase, and how often a session may start one. */
export const TEST_MAX_MS = 10_000
export const TEST_EVERY_MS = 30_000

export interface ChallengeMessage {
  type: 'challenge'
  /** 32 random bytes, base64url; valid for this connection only. */
  nonce: string
  /** The hub's X25519 public key, base64url. */
  hubKey: string
}

export interface ProofMessage {
  type: 'proof'
  proof: string
}

export interface WelcomeMessage {
  type: 'welcome'
  version: number
  room: string
  mac: string
  ip: string
  prefixLength: number
  mtu: number
  members: Member[]
  /** The name the hub gave this peer in the room (unique: a second "bob" is "bob-2"). */
  name?: string
  /** The peer's key is enrolled: later joins need no token. */
  enrolled?: boolean
  /** UDP port of the hub's reflector on the hub's host (core/reflect.ts); null: none. */
  udpPort?: number | null
  /** The room allows direct paths between members (hub.yaml `directPath`, default true). */
  directPath?: boolean
  /** Members may send from MACs other than their lease (the direct path enforces it too). */
  allowBridging?: boolean
}

export interface RedirectMessage {
  type: 'redirect'
  room: string
  /** The owning hub's public URL (ws:// or wss://). */
  url: string
}

export interface ErrorMessage {
  type: 'error'
  code: string
  message: string
}

export interface ByeMessage {
  type: 'bye'
  reason?: string
}

export interface ListMessage {
  type: 'list'
}

/** One service a peer offers, from the hub's room directory (discovery/directory.ts). */
export interface Service {
  /** Name of the peer whose port the announcement came from. */
  peer: string
  kind: 'mdns' | 'ssdp' | 'netbios' | 'game'
  /** e.g. "_ipp._tcp", "urn:schemas-upnp-org:device:MediaServer:1", "smb", "Teeworlds". */
  type: string
  /** e.g. "Office", "ALICE", "Friday DM". */
  name: string
  address: string
  port: number | null
  /** Extra human detail: map and players, SSDP server string, DNS-SD host. */
  detail: string
  /** ms since epoch. */
  lastSeen: number
  expires: number
}

export interface RoomMessage {
  type: 'room'
  room: string
  members: Member[]
  services: Service[]
  /** Services were cut to keep the answer under MAX_ROOM_ANSWER_BYTES. */
  truncated?: boolean
}

export type ControlMessage = RedirectMessage | DirectMessage | HelloMessage | WelcomeMessage | ErrorMessage | ByeMessage | ListMessage | RoomMessage | ChallengeMessage | ProofMessage | MembersMessage | TestMessage | TestResultMessage

export type DecodeResult =
  | { ok: true, message: ControlMessage }
  | { ok: false, reason: string }
  /** Well-formed JSON object of a type this version does not know. */
  | { ok: true, message: null, unknownType: string }

const isStr = (v: unknown, max = 256): v is string => typeof v === 'string' && v.length <= max
const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max
const isLease = (v: unknown): v is Lease =>
  typeof v === 'object' && v !== null && isStr((v as Lease).mac, 17) && isStr((v as Lease).ip, 15)
const isEndpoints = (v: unknown): v is string[] =>
  Array.isArray(v) && v.length <= MAX_ENDPOINTS && v.every(e => isStr(e, 64))
const isMember = (v: unknown): v is Member =>
  isLease(v) && isStr((v as Member).name, 64) && ((v as Member).endpoints === undefined || isEndpoints((v as Member).endpoints))

/** Checks field by field; returns the first problem as a sentence naming the field. */
const check = (o: Record<string, unknown>): string | null => {
  switch (o.type) {
    case 'hello':
      if (!isInt(o.version, 0, 0xffff)) return 'hello.version must be an integer'
      if (!isStr(o.room, 64)) return 'hello.room must be a string of at most 64 characters'
      if (!isStr(o.token, 256)) return 'hello.token must be a string of at most 256 characters'
      if (!isStr(o.identity, 128) || !/^[0-9a-f]{16,128}$/.test(o.identity)) return 'hello.identity must be 16-128 lowercase hex digits'
      if (!isStr(o.name, 64)) return 'hello.name must be a string of at most 64 characters'
      if (o.address !== undefined && !isStr(o.address, 15)) return 'hello.address must be a dotted IPv4 address'
      if (o.lease !== undefined && !isLease(o.lease)) return 'hello.lease must be {mac, ip}'
      if (o.software !== undefined && !isStr(o.software, 128)) return 'hello.software must be a short string'
      if (o.key !== undefined && (!isStr(o.key, 43) || !/^[A-Za-z0-9_-]{43}$/.test(o.key))) return 'hello.key must be a base64url X25519 public key'
      if (o.invite !== undefined && (!isStr(o.invite, 64) || o.key === undefined)) return 'hello.invite must be "<id>.<secret>" and comes with hello.key'
      if (o.endpoints !== undefined && !isEndpoints(o.endpoints)) return `hello.endpoints must be a list of at most ${MAX_ENDPOINTS} "ip:port" strings`
      return null
    case 'redirect':
      if (!isStr(o.room, 64) || !isStr(o.url, 512) || !/^wss?:\/\/[^\s/]+\/?$/.test(o.url)) return 'redirect needs room and url (wss://host[:port])'
      return null
    case 'direct':
      if (!isEndpoints(o.endpoints)) return `direct.endpoints must be a list of at most ${MAX_ENDPOINTS} "ip:port" strings`
      if (!isInt(o.reaching, 0, 0xffff)) return 'direct.reaching must be a count'
      return null
    case 'test':
      if ((o.direction !== 'up' && o.direction !== 'down') || !isInt(o.ms, 100, TEST_MAX_MS)) return `test needs direction "up" or "down" and ms 100..${TEST_MAX_MS}`
      return null
    case 'test_result':
      if ((o.direction !== 'up' && o.direction !== 'down') || !isInt(o.bytes, 0, Number.MAX_SAFE_INTEGER) || !isInt(o.ms, 0, 3_600_000)) return 'test_result needs direction, bytes and ms'
      return null
    case 'members':
      if (!isStr(o.room, 64) || !Array.isArray(o.members)) return 'members.members must be a list'
      o.members = o.members.slice(0, MAX_MEMBERS_PUSHED).filter(isMember)
      return null
    case 'challenge':
      if (!isStr(o.nonce, 64) || !isStr(o.hubKey, 64)) return 'challenge.nonce and challenge.hubKey must be strings'
      return null
    case 'proof':
      if (!isStr(o.proof, 64)) return 'proof.proof must be a string'
      return null
    case 'welcome':
      if (!isInt(o.version, 0, 0xffff)) return 'welcome.version must be an integer'
      if (!isStr(o.room, 64) || !isStr(o.mac, 17) || !isStr(o.ip, 15)) return 'welcome.room/mac/ip must be strings'
      if (!isInt(o.prefixLength, 1, 32)) return 'welcome.prefixLength must be 1..32'
      if (!isInt(o.mtu, 576, 65535 - 18)) return 'welcome.mtu must be 576..65517'
      if (!Array.isArray(o.members) || !o.members.every(isMember)) return 'welcome.members must be a list of {name, mac, ip}'
      if (o.name !== undefined && !isStr(o.name, 64)) return 'welcome.name must be a string of at most 64 characters'
      if (o.enrolled !== undefined && typeof o.enrolled !== 'boolean') return 'welcome.enrolled must be a boolean'
      if (o.udpPort !== undefined && o.udpPort !== null && !isInt(o.udpPort, 1, 65535)) return 'welcome.udpPort must be a port or null'
      if (o.directPath !== undefined && typeof o.directPath !== 'boolean') return 'welcome.directPath must be a boolean'
      if (o.allowBridging !== undefined && typeof o.allowBridging !== 'boolean') return 'welcome.allowBridging must be a boolean'
      return null
    case 'error':
      if (!isStr(o.code, 64) || !isStr(o.message, 1024)) return 'error.code and error.message must be strings'
      return null
    case 'bye':
      if (o.reason !== undefined && !isStr(o.reason, 1024)) return 'bye.reason must be a string'
      return null
    case 'list':
      return null
    case 'room':
      if (!isStr(o.room, 64) || !Array.isArray(o.members)) return 'room.members must be a list of {name, mac, ip}'
      if (!Array.isArray(o.services)) return 'room.services must be a list of services'
      // Lenient: entries a later hub (or a bug) makes invalid are left out, not the answer.
      o.members = o.members.filter(isMember)
      o.services = o.services.slice(0, 4096).filter(isService)
      return null
    default:
      return null
  }
}

const isService = (v: unknown): v is Service =>
  typeof v === 'object' && v !== null && isStr((v as Service).peer, 64) && isStr((v as Service).type, 256) &&
  isStr((v as Service).name, 256) && isStr((v as Service).kind, 16) && isStr((v as Service).address, 64)

const KNOWN_TYPES = new Set(['redirect', 'direct', 'hello', 'welcome', 'error', 'bye', 'list', 'room', 'challenge', 'proof', 'members', 'test', 'test_result'])

/** Decodes one text message. Never throws: bad input is a reason string. */
export const decodeControl = (text: string): DecodeResult => {
  if (text.length > MAX_CONTROL_BYTES) return { ok: false, reason: `control message over ${MAX_CONTROL_BYTES} bytes` }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    return { ok: false, reason: `not JSON: ${(e as Error).message}` }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, reason: 'not a JSON object' }
  const o = parsed as Record<string, unknown>
  if (typeof o.type !== 'string') return { ok: false, reason: 'missing "type"' }
  if (!KNOWN_TYPES.has(o.type)) return { ok: true, message: null, unknownType: o.type.slice(0, 64) }
  const problem = check(o)
  if (problem !== null) return { ok: false, reason: problem }
  return { ok: true, message: o as unknown as ControlMessage }
}

export const encodeControl = (m: ControlMessage): string => JSON.stringify(m)

/**
 * Walks a batch and calls `onFrame(buf, offset, length)` for each frame, without
 * allocating. Returns the number of frames, or -1 if the lengths do not add up (the
 * caller drops the whole batch; nothing was delivered). Validation runs before any
 * callback so a bad batch never delivers half its frames.
 */
export const forEachFrame = (
  buf: Buffer,
  onFrame: (buf: Buffer, offset: number, length: number) => void
): number => {
  const n = countFrames(buf)
  if (n <= 0) return n
  let off = 0
  while (off < buf.length) {
    const len = buf.readUInt16BE(off)
    onFrame(buf, off + BATCH_LEN_PREFIX, len)
    off += BATCH_LEN_PREFIX + len
  }
  return n
}

/** Number of frames in a batch, or -1 when it is malformed (runt length, overrun, empty). */
export const countFrames = (buf: Buffer): number => {
  let off = 0
  let n = 0
  while (off < buf.length) {
    if (off + BATCH_LEN_PREFIX > buf.length) return -1
    const len = buf.readUInt16BE(off)
    if (len < 14) return -1
    off += BATCH_LEN_PREFIX + len
    n++
  }
  return off === buf.length && n > 0 ? n : -1
}

/** A copy of `batch` without the frames whose `skip[i]` is non-zero (the frame path's drops, the direct path's sends). */
export const compactBatch = (batch: Buffer, frames: number, skip: Uint8Array): Buffer => {
  const parts: Buffer[] = []
  let off = 0
  for (let i = 0; i < frames; i++) {
    const end = off + BATCH_LEN_PREFIX + batch.readUInt16BE(off)
    if (skip[i] === 0) parts.push(batch.subarray(off, end))
    off = end
  }
  return Buffer.concat(parts)
}

/** Encodes frames into one batch (copying). For tests and control paths, not the hot path. */
export const encodeBatch = (frames: readonly Buffer[]): Buffer => {
  let total = 0
  for (const f of frames) total += BATCH_LEN_PREFIX + f.length
  const out = Buffer.allocUnsafe(total)
  let off = 0
  for (const f of frames) {
    out.writeUInt16BE(f.length, off)
    f.copy(out, off + BATCH_LEN_PREFIX)
    off += BATCH_LEN_PREFIX + f.length
  }
  return out
}

/** Splits a batch into copies of its frames (tests and tools). */
export const decodeBatch = (buf: Buffer): Buffer[] | null => {
  const out: Buffer[] = []
  const n = forEachFrame(buf, (b, off, len) => { out.push(Buffer.from(b.subarray(off, off + len))) })
  return n < 0 ? null : out
}
