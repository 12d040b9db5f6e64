/**
 * Hub configuration: YAML fields (see configs/hub.yaml) merged with CLI flags, CLI wins.
 * With no file the hub runs on the embedded default: rooms created on first join.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { isIP } from 'node:net'
import { z } from 'zod'
import { DEFAULT_KEEP_WARM_MS } from '../core/keep-warm.js'
import { definedFields } from '../core/config.js'
import { cidrProblem, parseCidr, type Subnet } from '../core/ipv4.js'
import type { StormLimits } from '../l2/storm.js'
import type { ImpairmentSpec } from './impairment.js'

const cidr = z.string().superRefine((s, ctx) => { const p = cidrProblem(s); if (p !== null) ctx.addIssue({ code: 'custom', message: p }) })
  .refine(s => { const c = parseCidr(s); return c === null || (c.prefixLength >= 8 && c.prefixLength <= 30) }, 'prefix length must be 8..30')
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^\s:]+):\d{1,5}$/, 'expected HOST:PORT, like 0.0.0.0:443')
const roomName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'room names are 1-64 letters, digits, ".", "_" or "-"')
const mtu = z.number().int().min(576).max(9000)
const token = z.string().min(8, 'tokens need at least 8 characters').max(256)

const pps = z.number().min(0).max(10_000_000)
export const StormSchema = z.strictObject({
  broadcastPps: pps.optional(),
  multicastPps: pps.optional(),
  unknownUnicastPps: pps.optional(),
  discoveryPps: pps.optional(),
  burstS: z.number().min(0.01).max(60).optional()
})

const impairmentValues = {
  delayMs: z.number().min(0).max(10_000).optional(),
  jitterMs: z.number().min(0).max(10_000).optional(),
  lossPercent: z.number().min(0).max(100).optional()
}
export const ImpairmentSchema = z.strictObject({
  ...impairmentValues,
  /** Per-peer settings (by peer name) that replace the room's for that peer. */
  peers: z.record(z.string(), z.strictObject(impairmentValues)).optional()
})

const count = (max: number): z.ZodOptional<z.ZodNumber> => z.number().int().min(1).max(max).optional()
/** Bounds of every table a member can grow (l2/limits.ts, discovery/directory.ts); see README "Limits". */
export const TablesSchema = z.strictObject({
  macsPerPort: count(4096),
  bindingsPerPort: count(4096),
  bindingsPerRoom: count(1_000_000),
  groupsPerPort: count(4096),
  groupsPerRoom: count(1_000_000),
  directoryEntries: count(65_536),
  directoryEntriesPerPeer: count(65_536)
})
export type TablesConfig = z.infer<typeof TablesSchema>

/** Switch behaviour; top-level values are the defaults of every room. */
const switchFields = {
  mtu: mtu.optional(),
  maxPeers: z.number().int().min(1).max(4096).optional(),
  allowBridging: z.boolean().optional(),
  /** Members may exchange unicast frames peer to peer over encrypted UDP (default true). */
  directPath: z.boolean().optional(),
  arpSuppression: z.boolean().optional(),
  snooping: z.boolean().optional(),
  querier: z.boolean().optional(),
  queryIntervalS: z.number().min(2).max(3600).optional(),
  storm: StormSchema.optional(),
  tables: TablesSchema.optional(),
  impairment: ImpairmentSchema.optional()
}

/** Tokens still accepted after a rotation, until the given time (ISO 8601). */
const oldTokens = z.array(z.strictObject({ token, until: z.string().refine(s => Number.isFinite(Date.parse(s)), 'expected a date like 2026-12-31T00:00:00Z') })).max(8).optional()

export const RoomConfigSchema = z.strictObject({
  /** Required unless `join: invite`. */
  token: token.optional(),
  oldTokens,
  /** How members get in the first time: the token, invites, or both (default). Enrolled keys always can. */
  join: z.enum(['token', 'invite', 'both']).optional(),
  subnet: cidr.optional(),
  ...switchFields
}).refine(r => r.token !== undefined || r.join === 'invite', { message: 'a room needs a token unless join: invite', path: ['token'] })

export const HubFileSchema = z.strictObject({
  listen: hostPort.optional(),
  /** UDP for the direct path's rendezvous (reflexive addresses); default: listen's host and port; "off" for none. */
  udpListen: z.union([hostPort, z.literal('off')]).optional(),
  tlsCert: z.string().optional(),
  tlsKey: z.string().optional(),
  noTls: z.boolean().optional(),
  state: z.string().optional(),
  /** PostgreSQL URL of the cluster's shared state (README "Running a cluster"); absent: one hub, state in files. */
  store: z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'expected postgres://user@host[:port]/database').optional(),
  /** This hub's id in the cluster (default: made once and kept in <state>/hub-id). */
  hubId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, '1-64 letters, digits, ".", "_" or "-"').optional(),
  /** The URL peers use (what invites and the banner carry), e.g. wss://hub.example.net. */
  publicUrl: z.string().regex(/^wss?:\/\/[^\s/]+\/?$/, 'expected wss://host[:port] (or ws:// behind a proxy)').optional(),
  /** Token and subnet of rooms created on first join. */
  token: token.optional(),
  oldTokens,
  subnet: cidr.optional(),
  ...switchFields,
  autoCreateRooms: z.boolean().optional(),
  maxRooms: z.number().int().min(1).max(100_000).optional(),
  rooms: z.record(roomName, RoomConfigSchema).optional(),
  keepaliveIntervalS: z.number().min(1).max(300).optional(),
  keepaliveTimeoutS: z.number().min(2).max(900).optional(),
  sendQueueKiB: z.number().int().min(16).max(65536).optional(),
  /** Keep the relay's code cached while traffic is sparse: a loopback WebSocket round every N ms while frames pass (0 = off; README "Performance"). */
  keepWarmMs: z.number().int().min(0).max(1000).optional(),
  adminToken: token.optional(),
  /** Doors (README "Limits"): connections, pre-authentication connections per address, join rate. */
  maxConnections: count(1_000_000),
  maxPreAuthPerAddress: count(100_000),
  joinAttemptsPerMinute: count(1_000_000),
  tlsHandshakeTimeoutS: z.number().min(1).max(120).optional(),
  /** Auto-created rooms are removed after being empty this long. */
  emptyRoomTtlS: z.number().min(1).max(30 * 86_400).optional(),
  /** Reverse proxies whose X-Forwarded-For is believed (IP addresses), e.g. ['127.0.0.1']. */
  trustedProxies: z.array(z.string().refine(a => isIP(a) !== 0, 'expected an IP address')).max(64).optional(),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).optional()
})
export type HubFileConfig = z.infer<typeof HubFileSchema>

/** Cross-field rules the schema cannot say field by field; a sentence, or null. */
export const hubConfigProblem = (c: HubFileConfig): string | null => {
  if ((c.tlsCert === undefined) !== (c.tlsKey === undefined)) return 'tlsCert and tlsKey go together: set both (a real certificate) or neither (the generated self-signed one)'
  if (c.noTls === true && c.tlsCert !== undefined) return 'noTls cannot be combined with tlsCert/tlsKey'
  return null
}

export interface RoomSettings {
  name: string
  /** '' for a room that takes no token (join: invite). */
  token: string
  /** Tokens accepted until `untilMs` (a rotation's grace period). */
  oldTokens: Array<{ token: string, untilMs: number }>
  join: 'token' | 'invite' | 'both'
  subnet: Subnet
  mtu: number
  maxPeers: number
  allowBridging: boolean
  directPath: boolean
  arpSuppression: boolean
  snooping: boolean
  querier: boolean
  queryIntervalMs: number
  storm: Partial<StormLimits>
  tables: Partial<Record<keyof TablesConfig, number>>
  /** Created on first join (removed again after emptyRoomTtlMs empty), not configured. */
  autoCreated: boolean
  /** Delay / jitter / loss towards every peer of the room, and per-peer replacements. */
  impairment: { room: ImpairmentSpec, peers: Map<string, ImpairmentSpec> }
}

/** Fully resolved settings the hub runs with. */
export interface HubSettings {
  listenHost: string
  listenPort: number
  /** The UDP reflector's address (null: off). */
  udpListen: { host: string, port: number } | null
  tls: { certFile?: string, keyFile?: string } | null
  stateDir: string
  autoCreateRooms: boolean
  /** Template for rooms created on first join; its token may be generated at start. */
  autoRoom: Omit<RoomSettings, 'name' | 'token'> & { token: string | undefined }
  maxRooms: number
  rooms: Map<string, RoomSettings>
  keepaliveIntervalMs: number
  keepaliveTimeoutMs: number
  sendQueueBytes: number
  keepWarmMs: number
  adminToken: string | undefined
  logLevel: 'debug' | 'info' | 'warn' | 'error'
  publicUrl: string | undefined
  /** The cluster's PostgreSQL URL, or null (one hub, state in files). */
  store: string | null
  hubId: string | undefined
  doors: DoorSettings
  emptyRoomTtlMs: number
}

export interface DoorSettings {
  maxConnections: number
  maxPreAuthPerAddress: number
  joinAttemptsPerMinute: number
  tlsHandshakeTimeoutMs: number
  trustedProxies: readonly string[]
}

/** One defaults table for the doors (schema bounds above, README "Limits"). */
export const DEFAULT_DOORS: Readonly<Omit<DoorSettings, 'trustedProxies'>> = Object.freeze({
  maxConnections: 4096,
  maxPreAuthPerAddress: 16,
  joinAttemptsPerMinute: 60,
  tlsHandshakeTimeoutMs: 10_000
})
export const DEFAULT_EMPTY_ROOM_TTL_S = 600

export const DEFAULT_LISTEN = '0.0.0.0:443'
export const DEFAULT_SUBNET = '10.77.0.0/24'
export const DEFAULT_MTU = 1400
export const DEFAULT_MAX_PEERS = 64
/** Small on purpose: a queue that drops beats one that delays (TCP-in-TCP, see README). */
export const DEFAULT_SEND_QUEUE_KIB = 128

export const defaultHubStateDir = (): string =>
  process.getuid?.() === 0 ? '/var/lib/overlan/hub' : join(homedir(), '.local', 'state', 'overlan', 'hub')

export const splitHostPort = (s: string): { host: string, port: number } => {
  const i = s.lastIndexOf(':')
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) }
}

const grace = (o: Array<{ token: string, until: string }> | undefined): Array<{ token: string, untilMs: number }> =>
  (o ?? []).map(t => ({ token: t.token, untilMs: Date.parse(t.until) }))

/** Merges file config and CLI overrides (already validated by the same schema) into settings. */
export const resolveHubSettings = (file: HubFileConfig, cli: HubFileConfig): HubSettings => {
  const c: HubFileConfig = { ...file, ...definedFields(cli) }
  const { host, port } = splitHostPort(c.listen ?? DEFAULT_LISTEN)
  type SwitchConfig = Pick<HubFileConfig, 'mtu' | 'maxPeers' | 'allowBridging' | 'directPath' | 'arpSuppression' | 'snooping' | 'querier' | 'queryIntervalS' | 'storm' | 'tables' | 'impairment'>
  const spec = (i: { delayMs?: number | undefined, jitterMs?: number | undefined, lossPercent?: number | undefined } | undefined): ImpairmentSpec =>
    ({ delayMs: i?.delayMs ?? 0, jitterMs: i?.jitterMs ?? 0, lossPercent: i?.lossPercent ?? 0 })
  const switchSettings = (r: SwitchConfig): Omit<RoomSettings, 'name' | 'token' | 'subnet' | 'autoCreated' | 'oldTokens' | 'join'> => ({
    mtu: r.mtu ?? c.mtu ?? DEFAULT_MTU,
    maxPeers: r.maxPeers ?? c.maxPeers ?? DEFAULT_MAX_PEERS,
    allowBridging: r.allowBridging ?? c.allowBridging ?? false,
    directPath: r.directPath ?? c.directPath ?? true,
    arpSuppression: r.arpSuppression ?? c.arpSuppression ?? true,
    snooping: r.snooping ?? c.snooping ?? true,
    querier: r.querier ?? c.querier ?? true,
    queryIntervalMs: (r.queryIntervalS ?? c.queryIntervalS ?? 125) * 1000,
    storm: { ...definedFields(c.storm ?? {}), ...definedFields(r.storm ?? {}) },
    tables: { ...definedFields(c.tables ?? {}), ...definedFields(r.tables ?? {}) },
    impairment: {
      room: spec(r.impairment ?? c.impairment),
      peers: new Map(Object.entries({ ...c.impairment?.peers, ...r.impairment?.peers }).map(([name, p]) => [name, spec(p)]))
    }
  })
  const rooms = new Map<string, RoomSettings>()
  for (const [name, r] of Object.entries(c.rooms ?? {})) {
    rooms.set(name, { name, token: r.token ?? '', oldTokens: grace(r.oldTokens), join: r.join ?? 'both', subnet: parseCidr(r.subnet ?? c.subnet ?? DEFAULT_SUBNET)!, autoCreated: false, ...switchSettings(r) })
  }
  const useTls = c.noTls !== true
  return {
    listenHost: host,
    listenPort: port,
    udpListen: c.udpListen === 'off' ? null : c.udpListen !== undefined ? splitHostPort(c.udpListen) : { host, port },
    tls: useTls ? { ...(c.tlsCert !== undefined ? { certFile: c.tlsCert } : {}), ...(c.tlsKey !== undefined ? { keyFile: c.tlsKey } : {}) } : null,
    stateDir: c.state ?? defaultHubStateDir(),
    autoCreateRooms: c.autoCreateRooms ?? rooms.size === 0,
    autoRoom: { token: c.token, oldTokens: grace(c.oldTokens), join: 'both', subnet: parseCidr(c.subnet ?? DEFAULT_SUBNET)!, autoCreated: true, ...switchSettings({}) },
    maxRooms: c.maxRooms ?? 1000,
    rooms,
    keepaliveIntervalMs: (c.keepaliveIntervalS ?? 5) * 1000,
    keepaliveTimeoutMs: (c.keepaliveTimeoutS ?? 20) * 1000,
    sendQueueBytes: (c.sendQueueKiB ?? DEFAULT_SEND_QUEUE_KIB) * 1024,
    keepWarmMs: c.keepWarmMs ?? DEFAULT_KEEP_WARM_MS,
    adminToken: c.adminToken,
    logLevel: c.logLevel ?? 'info',
    publicUrl: c.publicUrl,
    store: c.store ?? null,
    hubId: c.hubId,
    doors: {
      maxConnections: c.maxConnections ?? DEFAULT_DOORS.maxConnections,
      maxPreAuthPerAddress: c.maxPreAuthPerAddress ?? DEFAULT_DOORS.maxPreAuthPerAddress,
      joinAttemptsPerMinute: c.joinAttemptsPerMinute ?? DEFAULT_DOORS.joinAttemptsPerMinute,
      tlsHandshakeTimeoutMs: c.tlsHandshakeTimeoutS !== undefined ? c.tlsHandshakeTimeoutS * 1000 : DEFAULT_DOORS.tlsHandshakeTimeoutMs,
      trustedProxies: c.trustedProxies ?? []
    },
    emptyRoomTtlMs: (c.emptyRoomTtlS ?? DEFAULT_EMPTY_ROOM_TTL_S) * 1000
  }
}
