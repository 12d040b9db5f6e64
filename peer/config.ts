/**
 * Peer configuration: YAML fields (see configs/peer.yaml) merged with CLI flags (CLI wins)
 * and the token from OVERLAN_TOKEN. The usual hub, token and name live in the file so
 * that day to day it is just `peer join --room friday`.
 */
import { existsSync } from 'node:fs'
import { homedir, hostname } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { DEFAULT_KEEP_WARM_MS } from '../core/keep-warm.js'
import { definedFields } from '../core/config.js'
import { parseIpv4 } from '../core/ipv4.js'
import { DEFAULT_GAME_PORTS, type GamePortRange } from '../l2/ports.js'

export const PeerFileSchema = z.strictObject({
  /** One hub URL, or a cluster's hubs separated by commas (tried in turn; any of them redirects to a room's owner). */
  hub: z.string().regex(/^wss?:\/\/[^\s/,]+(\/[^\s,]*)?(,wss?:\/\/[^\s/,]+(\/[^\s,]*)?)*$/, 'expected a URL like wss://hub.example.net or ws://host:8080 (or several, comma-separated)').optional(),
  room: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'room names are 1-64 letters, digits, ".", "_" or "-"').optional(),
  token: z.string().min(1).max(256).optional(),
  name: z.string().regex(/^[^\s\0]{1,64}$/, '1-64 characters, no spaces').optional(),
  iface: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'interface names are 1-15 letters, digits, "_", "." or "-"').optional(),
  address: z.string().refine(s => parseIpv4(s) !== null, 'expected a dotted IPv4 address').optional(),
  ca: z.string().optional(),
  /** The hub's public key pin, "sha256:<hex>" of its SubjectPublicKeyInfo (what invites carry). */
  pin: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'expected sha256: and 64 lowercase hex digits').optional(),
  insecure: z.boolean().optional(),
  state: z.string().optional(),
  reconnectMinS: z.number().min(0.1).max(60).optional(),
  reconnectMaxS: z.number().min(1).max(3600).optional(),
  joinTimeoutS: z.number().min(1).max(3600).optional(),
  keepaliveTimeoutS: z.number().min(2).max(900).optional(),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).optional(),
  /** Frames to other members peer to peer over encrypted UDP when a path is up (default true). */
  directPath: z.boolean().optional(),
  /** Keep the data path's code cached while traffic is sparse: a warm-up every N ms while frames pass (0 = off; README "Performance"). */
  keepWarmMs: z.number().int().min(0).max(1000).optional(),
  /** The direct path's UDP port (default: any free one). */
  directPort: z.number().int().min(0).max(65535).optional(),
  /** Presence on the overlay: answer for this peer over mDNS, NetBIOS and SSDP. */
  mdns: z.boolean().optional(),
  netbios: z.boolean().optional(),
  ssdp: z.boolean().optional(),
  /** Route LAN-game discovery (limited broadcast / game groups) to the overlay. */
  gameDiscovery: z.boolean().optional(),
  /** How limited broadcasts and game multicast reach the room: copy (any port) | route (gamePorts only) | off. */
  limitedBroadcast: z.enum(['copy', 'route', 'off']).optional(),
  gamePorts: z.array(z.strictObject({
    game: z.string().min(1).max(64),
    from: z.number().int().min(1).max(65535),
    to: z.number().int().min(1).max(65535),
    group: z.string().refine(g => { const v = parseIpv4(g); return v !== null && v >= 0xe0000000 && v <= 0xefffffff }, 'expected an IPv4 multicast group').optional()
  }).refine(r => r.from <= r.to, 'from must be <= to')).max(256).optional()
})
export type PeerFileConfig = z.infer<typeof PeerFileSchema>

export interface PeerSettings {
  hub: string
  room: string
  token: string
  name: string
  iface: string
  address: string | undefined
  caFile: string | undefined
  pin: string | undefined
  /** "<id>.<secret>" of an invite being used (peer join INVITE). */
  invite: string | undefined
  insecure: boolean
  stateDir: string
  reconnectMinMs: number
  reconnectMaxMs: number
  joinTimeoutMs: number
  keepaliveTimeoutMs: number
  directPath: boolean
  directPort: number
  keepWarmMs: number
  logLevel: 'debug' | 'info' | 'warn' | 'error'
  mdns: boolean
  netbios: boolean
  ssdp: boolean
  gameDiscovery: boolean
  gamePorts: GamePortRange[]
  limitedBroadcast: 'copy' | 'route' | 'off'
}

export const DEFAULT_IFACE = 'ovl0'

export const defaultPeerStateDir = (): string =>
  process.getuid?.() === 0 ? '/var/lib/overlan/peer' : join(homedir(), '.local', 'state', 'overlan', 'peer')

/** The config file used when --config is not given: OVERLAN_PEER_CONFIG, else the first that exists. */
export const defaultPeerConfigFile = (env: NodeJS.ProcessEnv): string | undefined => {
  if (env.OVERLAN_PEER_CONFIG !== undefined && env.OVERLAN_PEER_CONFIG !== '') return env.OVERLAN_PEER_CONFIG
  const candidates = [join(homedir(), '.config', 'overlan', 'peer.yaml'), '/etc/overlan/peer.yaml']
  return candidates.find(f => existsSync(f))
}

/** A valid default NetBIOS/mDNS-friendly name from the host name. */
const defaultName = (): string => (hostname().split('.')[0] ?? 'peer').replace(/[^\w.-]/g, '-').slice(0, 64) || 'peer'

/** What a peer remembers of a room it joined with its key (peer/memberships.ts). */
export interface KnownRoom { hub: string, pin: string | null }

/**
 * Merges; returns the missing required field's flag when hub, room or token are absent. A
 * room this peer is enrolled in (`known`) needs neither hub nor token: its key is enough.
 */
export const resolvePeerSettings = (file: PeerFileConfig, cli: PeerFileConfig, env: NodeJS.ProcessEnv, known?: (room: string) => KnownRoom | undefined, invite?: string): PeerSettings | { missing: string } => {
  const c: PeerFileConfig = { ...file, ...definedFields(cli) }
  const token = cli.token ?? (env.OVERLAN_TOKEN !== undefined && env.OVERLAN_TOKEN !== '' ? env.OVERLAN_TOKEN : undefined) ?? file.token
  if (c.room === undefined) return { missing: '--room' }
  const k = known?.(c.room)
  const hub = c.hub ?? k?.hub
  if (hub === undefined) return { missing: '--hub (or `hub:` in the config file)' }
  if (token === undefined && k === undefined && invite === undefined) return { missing: '--token (or OVERLAN_TOKEN, or `token:` in the config file), or an invite' }
  const pin = c.pin ?? (k !== undefined && k.hub === hub ? k.pin ?? undefined : undefined)
  return {
    hub,
    room: c.room,
    token: token ?? '',
    pin,
    invite,
    name: c.name ?? defaultName(),
    iface: c.iface ?? DEFAULT_IFACE,
    address: c.address,
    caFile: c.ca,
    insecure: c.insecure ?? false,
    stateDir: c.state ?? defaultPeerStateDir(),
    reconnectMinMs: (c.reconnectMinS ?? 1) * 1000,
    reconnectMaxMs: (c.reconnectMaxS ?? 60) * 1000,
    joinTimeoutMs: (c.joinTimeoutS ?? 30) * 1000,
    keepaliveTimeoutMs: (c.keepaliveTimeoutS ?? 20) * 1000,
    directPath: c.directPath ?? true,
    directPort: c.directPort ?? 0,
    keepWarmMs: c.keepWarmMs ?? DEFAULT_KEEP_WARM_MS,
    logLevel: c.logLevel ?? 'info',
    mdns: c.mdns ?? true,
    netbios: c.netbios ?? true,
    ssdp: c.ssdp ?? true,
    gameDiscovery: c.gameDiscovery ?? true,
    limitedBroadcast: c.limitedBroadcast ?? 'copy',
    gamePorts: (c.gamePorts ?? DEFAULT_GAME_PORTS).map(r => ({ game: r.game, from: r.from, to: r.to, ...(r.group !== undefined ? { group: r.group } : {}) }))
  }
}
