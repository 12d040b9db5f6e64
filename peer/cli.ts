#!/usr/bin/env node
/** `peer` command: join a room, or show the running peer's status. See README. */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { loadConfigFile } from '../core/config.js'
import { EXIT_OK, didYouMean, fail, flagError, flagName, numberFlag, packageVersion, validateFlags } from '../core/cli-support.js'
import { OverlanError } from '../core/errors.js'
import { loadOrCreateIdentity } from '../core/identity.js'
import { decodeInvite, looksLikeInvite } from '../core/invite.js'
import { loadOrCreateKeyPair } from '../core/keys.js'
import { knownRooms, rememberRoom } from './memberships.js'
import { createLogger } from '../core/log.js'
import { tierUpDataPathSooner } from '../core/tiering.js'
import { DEFAULT_IFACE, PeerFileSchema, defaultPeerConfigFile, defaultPeerStateDir, resolvePeerSettings, type PeerFileConfig } from './config.js'
import { linuxHostOs } from './os/linux.js'
import { Peer, type PeerStatus } from './peer.js'
import { queryPeer, serveStatus } from './status-socket.js'
import { formatDoctor, formatPing, formatRoom, formatSpeedTest, formatStatus } from './status-format.js'
import type { PingResult } from './ping.js'
import type { SpeedTestResult } from './speed-test.js'
import { diagnose } from './doctor.js'
import { applyFix, gatherFacts } from './os/linux-probe.js'
import type { RoomMessage } from '../core/protocol.js'
import { Presence } from './presence.js'
import { setGamePorts } from '../l2/ports.js'

const USAGE = `usage:
  peer join --room ROOM [--hub URL] [--token TOKEN] [--name NAME] [--iface NAME]
            [--address A.B.C.D] [--ca FILE | --pin sha256:HEX | --insecure] [--config FILE] [--state DIR]
            [--no-direct] [--keep-warm-ms N] [--log-level debug|info|warn|error]
  peer join INVITE [--name NAME] ...      joins with an invite (overlan://…) and enrols this peer's key;
                                          later just: peer join --room ROOM (or peer join)
  peer status [--iface NAME] [--json]
  peer list   [--iface NAME] [--json]     who is in the room and what they offer
  peer doctor [--iface NAME] [--fix] [--json]   what on this host breaks LAN apps, and the fixes
  peer test   [--iface NAME] [--json]     bufferbloat test towards the hub: RTT idle and under load, throughput
  peer ping NAME|IP [--count N] [--iface NAME] [--json]   pings a member through the overlay: path and RTT per reply
  peer --version | peer help | peer SUBCOMMAND --help

The token may also come from OVERLAN_TOKEN. Defaults come from --config, OVERLAN_PEER_CONFIG,
~/.config/overlan/peer.yaml or /etc/overlan/peer.yaml (the first that exists).
`

/** parseArgs for a subcommand; `--help` prints the usage; a bad flag is a USAGE error that suggests the nearest one. */
const flags = <O extends ParseArgsConfig['options']>(args: string[], options: O): ReturnType<typeof parseArgs<{ args: string[], options: O, strict: true, allowPositionals: false }>>['values'] => {
  if (args.includes('--help') || args.includes('-h')) { process.stdout.write(USAGE); process.exit(EXIT_OK) }
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values
  } catch (e) {
    throw flagError(e, Object.keys(options ?? {}), USAGE)
  }
}

const join = async (args: string[]): Promise<void> => {
  // `peer join INVITE`: the invite is the only positional argument.
  const invite = args.find(a => looksLikeInvite(a))
  const inv = invite !== undefined ? decodeInvite(invite) : null
  const v = flags(args.filter(a => a !== invite), {
    room: { type: 'string' },
    pin: { type: 'string' },
    hub: { type: 'string' },
    token: { type: 'string' },
    name: { type: 'string' },
    iface: { type: 'string' },
    address: { type: 'string' },
    ca: { type: 'string' },
    insecure: { type: 'boolean' },
    'no-direct': { type: 'boolean' },
    'keep-warm-ms': { type: 'string' },
    config: { type: 'string' },
    state: { type: 'string' },
    'log-level': { type: 'string' }
  })
  if (v.ca !== undefined && v.insecure === true) throw new OverlanError('USAGE', '--ca and --insecure exclude each other')
  if (v.pin !== undefined && (v.ca !== undefined || v.insecure === true)) throw new OverlanError('USAGE', '--pin excludes --ca and --insecure')
  const cli: PeerFileConfig = validateFlags(PeerFileSchema, {
    room: v.room ?? inv?.room, hub: v.hub ?? inv?.hub, token: v.token, name: v.name, iface: v.iface, address: v.address,
    ca: v.ca, pin: v.pin ?? inv?.pin ?? undefined, insecure: v.insecure, state: v.state, logLevel: v['log-level'],
    directPath: v['no-direct'] === true ? false : undefined,
    keepWarmMs: numberFlag(v['keep-warm-ms'])
  }, flagName)
  const configFile = v.config ?? defaultPeerConfigFile(process.env)
  const file = configFile !== undefined ? loadConfigFile(configFile, PeerFileSchema) : {}
  const stateDir = cli.state ?? file.state ?? defaultPeerStateDir()
  const known = knownRooms(stateDir)
  // Just `peer join` when this peer is enrolled in exactly one room.
  if (cli.room === undefined && file.room === undefined && Object.keys(known).length === 1) cli.room = Object.keys(known)[0]
  const settings = resolvePeerSettings(file, cli, process.env, (room) => known[room], inv !== null ? `${inv.id}.${inv.secret}` : undefined)
  if ('missing' in settings) throw new OverlanError('USAGE', `peer join needs ${settings.missing}\n${USAGE}`)

  const log = createLogger('peer', { level: settings.logLevel })
  if (settings.insecure) log.warn('tls.insecure', { message: 'hub certificate NOT verified (--insecure): anyone on the path can read and inject LAN traffic' })
  const identity = loadOrCreateIdentity(settings.stateDir)
  const key = loadOrCreateKeyPair(settings.stateDir)
  // The config's game list also decides which ports count as discovery (classes, storm buckets).
  setGamePorts(settings.gamePorts)
  const presence = new Presence({ ...settings, identity }, { os: linuxHostOs, log: log.child('presence') })
  // Rules or routes a peer killed with SIGKILL left on this interface go first.
  await presence.cleanup()
  tierUpDataPathSooner()
  const peer = new Peer(settings, {
    os: linuxHostOs,
    log,
    identity,
    key,
    onJoined: (m) => {
      // Enrolled: later joins of this room need neither token nor hub (peer/memberships.ts).
      if (m.enrolled === true) rememberRoom(settings.stateDir, m.room, { hub: settings.hub, pin: settings.pin ?? null })
      void presence.apply({ ip: m.ip, prefixLength: m.prefixLength, mac: m.mac })
    }
  })
  const statusServer = await serveStatus(settings.iface, {
    status: () => ({ ...peer.status(), presence: presence.status() }),
    list: async () => await peer.list(),
    test: async () => await peer.speedTest(),
    ping: async ([name, count]) => {
      if (name === undefined) throw new OverlanError('USAGE', 'peer ping needs a member name or IP')
      return await peer.ping(name, count !== undefined ? Number(count) : 4)
    }
  })

  // Presence goes first (goodbyes, game routes removed), then bye and the TAP.
  const shutdown = async (): Promise<void> => { await presence.stop(); await peer.stop(); statusServer.close() }
  let signals = 0
  const onSignal = (sig: string): void => {
    if (++signals > 1) process.exit(1)
    log.info('peer.signal', { signal: sig })
    shutdown().then(() => process.exit(EXIT_OK), (e: unknown) => { fail('peer', e) })
  }
  process.on('SIGINT', () => { onSignal('SIGINT') })
  process.on('SIGTERM', () => { onSignal('SIGTERM') })

  await peer.start()
  const s = peer.status()
  process.stdout.write(`joined room ${s.room} as ${s.name}: ${s.iface} ${s.address ?? '?'} ${s.mac ?? '?'} (MTU ${s.mtu ?? '?'}), ${s.members.length} other peer(s)\n`)
  try {
    await peer.done // rejects with a refusal that ends the session later
  } catch (e) {
    await presence.stop()
    throw e
  }
}

const status = async (args: string[]): Promise<void> => {
  const v = flags(args, { iface: { type: 'string' }, json: { type: 'boolean' } })
  const s = await queryPeer(v.iface ?? DEFAULT_IFACE, 'status') as PeerStatus
  process.stdout.write(v.json === true ? JSON.stringify(s, null, 2) + '\n' : formatStatus(s))
}

const list = async (args: string[]): Promise<void> => {
  const v = flags(args, { iface: { type: 'string' }, json: { type: 'boolean' } })
  const r = await queryPeer(v.iface ?? DEFAULT_IFACE, 'list') as RoomMessage
  process.stdout.write(v.json === true ? JSON.stringify(r, null, 2) + '\n' : formatRoom(r))
}

const speedTest = async (args: string[]): Promise<void> => {
  const v = flags(args, { iface: { type: 'string' }, json: { type: 'boolean' } })
  process.stderr.write('testing: 2 s idle, 5 s upload, 5 s download through the hub…\n')
  const r = await queryPeer(v.iface ?? DEFAULT_IFACE, 'test', 30_000) as SpeedTestResult
  process.stdout.write(v.json === true ? JSON.stringify(r, null, 2) + '\n' : formatSpeedTest(r))
}

const ping = async (args: string[]): Promise<void> => {
  const target = args[0] !== undefined && !args[0].startsWith('-') ? args[0] : undefined
  const v = flags(target !== undefined ? args.slice(1) : args, { iface: { type: 'string' }, count: { type: 'string' }, json: { type: 'boolean' } })
  if (target === undefined || !/^[^\s\0]{1,64}$/.test(target)) throw new OverlanError('USAGE', `peer ping needs a member's name or IP\n${USAGE}`)
  const count = numberFlag(v.count) ?? 4
  if (!Number.isInteger(count) || count < 1 || count > 100) throw new OverlanError('USAGE', '--count must be 1..100')
  const r = await queryPeer(v.iface ?? DEFAULT_IFACE, `ping ${target} ${count}`, count * 2500 + 5000) as PingResult
  process.stdout.write(v.json === true ? JSON.stringify(r, null, 2) + '\n' : formatPing(r))
  if (r.replies.every(x => x.path === null)) process.exitCode = 1
}

const doctor = async (args: string[]): Promise<void> => {
  const v = flags(args, { iface: { type: 'string' }, fix: { type: 'boolean' }, json: { type: 'boolean' } })
  const iface = v.iface ?? DEFAULT_IFACE
  const running = await queryPeer(iface, 'status').then(s => s as PeerStatus & { presence?: { limitedBroadcast?: string } }, () => null)
  const lb = running?.presence?.limitedBroadcast
  const peer = running !== null && running.address !== null && running.mtu !== null ? { iface: running.iface, address: running.address, mtu: running.mtu, ...(lb !== undefined ? { limitedBroadcast: lb } : {}) } : null
  let findings = diagnose(await gatherFacts(peer))
  const applied: string[] = []
  if (v.fix === true) {
    for (const f of findings) {
      if (f.status !== 'problem' || f.fix?.safe !== true || f.fix.action === undefined) continue
      await applyFix(f.fix.action)
      applied.push(`${f.id}: ${f.fix.text}`)
    }
    if (applied.length > 0) findings = diagnose(await gatherFacts(peer))
  }
  if (v.json === true) process.stdout.write(JSON.stringify({ applied, findings }, null, 2) + '\n')
  else process.stdout.write(formatDoctor(findings, applied))
  if (findings.some(f => f.status === 'problem')) process.exitCode = 1
}

const main = async (): Promise<void> => {
  const [cmd, ...rest] = process.argv.slice(2)
  switch (cmd) {
    case 'join': await join(rest); break
    case 'status': await status(rest); break
    case 'list': await list(rest); break
    case 'doctor': await doctor(rest); break
    case 'test': await speedTest(rest); break
    case 'ping': await ping(rest); break
    case '-h': case '--help': case 'help': process.stdout.write(USAGE); break
    case '-V': case '--version': case 'version': process.stdout.write(`overlan peer ${packageVersion()}\n`); break
    default: throw new OverlanError('USAGE', `${cmd === undefined ? 'missing command' : `unknown command "${cmd}"${didYouMean(cmd, ['join', 'status', 'list', 'doctor', 'test', 'ping', 'help', 'version'])}`}\n${USAGE}`)
  }
}

main().then(() => process.exit(process.exitCode ?? EXIT_OK), (e: unknown) => fail('peer', e))
