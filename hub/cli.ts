#!/usr/bin/env node
/** `hub` command: see README "Running a hub" and DESIGN.md's command-line contract. */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfigFile } from '../core/config.js'
import { OverlanError } from '../core/errors.js'
import { createLogger } from '../core/log.js'
import { tierUpDataPathSooner } from '../core/tiering.js'
import { EXIT_OK, didYouMean, fail, flagError, flagName, numberFlag, packageVersion, validateFlags } from '../core/cli-support.js'
import { formatCidr } from '../core/ipv4.js'
import { HubFileSchema, defaultHubStateDir, hubConfigProblem, resolveHubSettings, type HubFileConfig } from './config.js'
import { callControl, type ControlRequest } from './control-socket.js'
import type { MemberView } from './member-admin.js'
import type { InviteInfo } from './members.js'
import { Hub } from './hub.js'

const USAGE = `usage: hub [--config FILE] [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE | --no-tls]
           [--token TOKEN] [--subnet CIDR] [--state DIR] [--public-url URL] [--udp-listen HOST:PORT|off] [--store postgres://…] [--keep-warm-ms N] [--log-level debug|info|warn|error]
       hub invite --room ROOM [--name NAME] [--uses N] [--expires DURATION] [--state DIR]
       hub invite --revoke ID [--state DIR]
       hub invites --room ROOM [--state DIR] [--json]
       hub peers --room ROOM [--state DIR] [--json]
       hub kick | ban | unban --room ROOM NAME [--state DIR]
       hub lease --room ROOM --release NAME [--state DIR]
       hub --version | hub --help | hub SUBCOMMAND --help

With no config the hub listens on 0.0.0.0:443 with a self-signed certificate it keeps in
the state directory, creates rooms on first join and prints the peer join line. The other
commands talk to the running hub of --state (default: the hub's default state directory).
`

const ADMIN_COMMANDS = new Set(['invite', 'invites', 'peers', 'kick', 'ban', 'unban', 'lease'])

/** `hub invite|invites|peers|kick|ban|unban|lease …`: one request to the running hub's control socket. */
const adminCommand = async (cmd: string, args: string[]): Promise<void> => {
  let p
  try {
    p = parseArgs({ args, options: { room: { type: 'string' }, name: { type: 'string' }, uses: { type: 'string' }, expires: { type: 'string' }, revoke: { type: 'string' }, release: { type: 'string' }, state: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } }, strict: true, allowPositionals: true })
  } catch (e) {
    throw flagError(e, ['room', 'name', 'uses', 'expires', 'revoke', 'release', 'state', 'config', 'json'], USAGE)
  }
  const v = p.values
  const file = v.config !== undefined ? loadConfigFile(v.config, HubFileSchema) : {}
  const stateDir = v.state ?? file.state ?? defaultHubStateDir()
  const target = p.positionals[0]
  const req: ControlRequest = cmd === 'invite' && v.revoke !== undefined ? { cmd: 'revoke', id: v.revoke }
    : cmd === 'lease' ? { cmd: 'release', room: v.room, name: v.release }
      : cmd === 'invite' ? { cmd, room: v.room, name: v.name, uses: v.uses, expires: v.expires }
        : { cmd, room: v.room, name: target }
  const result = await callControl(stateDir, req)
  if (v.json === true) { process.stdout.write(JSON.stringify(result, null, 2) + '\n'); return }
  process.stdout.write(formatAdmin(cmd, result) + '\n')
}

const main = async (): Promise<void> => {
  const sub = process.argv[2]
  if (sub === '--version' || sub === '-V' || sub === 'version') { process.stdout.write(`overlan hub ${packageVersion()}\n`); process.exit(EXIT_OK) }
  if (sub !== undefined && ADMIN_COMMANDS.has(sub)) {
    if (process.argv.includes('--help') || process.argv.includes('-h')) { process.stdout.write(USAGE); process.exit(EXIT_OK) }
    await adminCommand(sub, process.argv.slice(3))
    return
  }
  if (sub !== undefined && !sub.startsWith('-')) throw new OverlanError('USAGE', `unknown command "${sub}"${didYouMean(sub, [...ADMIN_COMMANDS, 'version'])}\n${USAGE}`)
  let parsed
  try {
    parsed = parseArgs({
      options: {
        config: { type: 'string' },
        listen: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'no-tls': { type: 'boolean' },
        token: { type: 'string' },
        subnet: { type: 'string' },
        state: { type: 'string' },
        'public-url': { type: 'string' },
        'udp-listen': { type: 'string' },
        store: { type: 'string' },
        'keep-warm-ms': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      },
      strict: true,
      allowPositionals: false
    })
  } catch (e) {
    throw flagError(e, ['config', 'listen', 'udp-listen', 'store', 'tls-cert', 'tls-key', 'no-tls', 'token', 'subnet', 'state', 'public-url', 'keep-warm-ms', 'log-level', 'help', 'version'], USAGE)
  }
  const v = parsed.values
  if (v.help === true) { process.stdout.write(USAGE); process.exit(EXIT_OK) }
  const cli: HubFileConfig = validateFlags(HubFileSchema, {
    listen: v.listen,
    tlsCert: v['tls-cert'],
    tlsKey: v['tls-key'],
    noTls: v['no-tls'],
    token: v.token,
    subnet: v.subnet,
    state: v.state,
    publicUrl: v['public-url'],
    udpListen: v['udp-listen'],
    store: v.store,
    keepWarmMs: numberFlag(v['keep-warm-ms']),
    logLevel: v['log-level']
  }, flagName)
  const file = v.config !== undefined ? loadConfigFile(v.config, HubFileSchema) : {}
  const problem = hubConfigProblem({ ...file, ...Object.fromEntries(Object.entries(cli).filter(([, x]) => x !== undefined)) })
  if (problem !== null) throw new OverlanError('CONFIG_INVALID', `${v.config ?? 'flags'}: ${problem}`)
  const settings = resolveHubSettings(file, cli)
  const log = createLogger('hub', { level: settings.logLevel })
  tierUpDataPathSooner()
  const hub = new Hub(settings, { log })
  const port = await hub.start()
  printBanner(hub, port)

  let signals = 0
  const onSignal = (sig: string): void => {
    if (++signals > 1) process.exit(1)
    log.info('hub.signal', { signal: sig })
    hub.stop().then(() => process.exit(EXIT_OK), (e: unknown) => { fail('hub', e) })
  }
  process.on('SIGINT', () => { onSignal('SIGINT') })
  process.on('SIGTERM', () => { onSignal('SIGTERM') })
}

/** A shell word: quoted when it holds anything a shell would read. */
const sq = (w: string): string => /^[A-Za-z0-9_./:=@%+-]+$/.test(w) ? w : `'${w.replaceAll("'", "'\\''")}'`

const printBanner = (hub: Hub, port: number): void => {
  const s = hub.settings
  const out: string[] = [`overlan hub listening on ${s.tls === null ? 'ws' : 'wss'}://${s.listenHost}:${port} (state ${s.stateDir}), peers use ${hub.publicUrl}`]
  if (hub.tls !== null) {
    out.push(`TLS certificate ${hub.tls.certFile}${hub.tls.generated ? ' (generated now, self-signed)' : ''}`)
    out.push(`  SHA-256 fingerprint ${hub.tls.fingerprint256}`)
    out.push(`  key pin ${hub.pin!} (what peer join --pin and invites check)`)
  } else {
    out.push('TLS is off (--no-tls): run this behind a reverse proxy that terminates TLS')
  }
  // Self-signed: peers pin the key; a real certificate verifies by name.
  const trust = hub.tls !== null && s.tls?.certFile === undefined ? ['--pin', hub.pin!] : []
  const line = (room: string, token: string): string => ['peer', 'join', '--hub', hub.publicUrl, '--room', room, '--token', token, ...trust].map(sq).join(' ')
  if (s.autoCreateRooms) {
    out.push(`rooms are created on first join, subnet ${formatCidr(s.autoRoom.subnet)}, MTU ${s.autoRoom.mtu}; peers join with:`)
    if (hub.autoToken !== undefined) out.push(`  ${line('friday', hub.autoToken)}`)
    else out.push(`  the join token shown when it was made (the hub keeps only its scrypt hash; move ${join(s.stateDir, 'join-token.json')} away for a new one), or an invite`)
  }
  for (const r of s.rooms.values()) {
    out.push(`room ${r.name}: subnet ${formatCidr(r.subnet)}, MTU ${r.mtu}, up to ${r.maxPeers} peers; join with:`)
    out.push(`  ${line(r.name, r.token)}`)
  }
  out.push(`or invite one friend at a time: hub invite --room ROOM${s.stateDir !== defaultHubStateDir() ? ` --state ${sq(s.stateDir)}` : ''} (prints a link for peer join)`)
  process.stdout.write(out.join('\n') + '\n')
}

const formatAdmin = (cmd: string, r: unknown): string => {
  if (cmd === 'invite' && typeof r === 'object' && r !== null && 'invite' in r) {
    const i = r as { id: string, invite: string, expiresAt: number }
    return `invite ${i.id}, valid until ${new Date(i.expiresAt).toISOString()}; the friend runs:\n  sudo peer join '${i.invite}'\n${i.invite}`
  }
  if (cmd === 'peers' && Array.isArray(r)) {
    if (r.length === 0) return 'no members'
    return (r as MemberView[]).map(m => `${m.name.padEnd(16)} ${m.ip.padEnd(15)} ${m.mac}  ${m.online ? `online ${m.onlineSinceS ?? 0} s` : `last seen ${new Date(m.lastSeen).toISOString()}`}  ${m.key ?? 'no key'}${m.banned ? '  BANNED' : ''}`).join('\n')
  }
  if (cmd === 'invites' && Array.isArray(r)) {
    if (r.length === 0) return 'no open invites'
    return (r as InviteInfo[]).map(i => `${i.id}  ${i.usesLeft} use(s) left, until ${new Date(i.expiresAt).toISOString()}${i.name !== null ? `, for ${i.name}` : ''}`).join('\n')
  }
  return JSON.stringify(r)
}

main().catch((e: unknown) => fail('hub', e))
