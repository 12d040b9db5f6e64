#!/usr/bin/env node
/** `hub` command: see README "Running a hub" and DESIGN.md's command-line contract. */
import { networkInterfaces } from 'node:os'
import { parseArgs } from 'node:util'
import { loadConfigFile } from '../core/config.js'
import { OverlanError } from '../core/errors.js'
import { createLogger } from '../core/log.js'
import { EXIT_OK, fail, flagName, validateFlags } from '../core/cli-support.js'
import { formatCidr } from '../core/ipv4.js'
import { HubFileSchema, resolveHubSettings, type HubFileConfig } from './config.js'
import { Hub } from './hub.js'

const USAGE = `usage: hub [--config FILE] [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE | --no-tls]
           [--token TOKEN] [--subnet CIDR] [--state DIR] [--log-level debug|info|warn|error]

With no config the hub listens on 0.0.0.0:443 with a self-signed certificate it keeps in
the state directory, creates rooms on first join and prints the peer join line.
`

const main = async (): Promise<void> => {
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
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      },
      strict: true,
      allowPositionals: false
    })
  } catch (e) {
    throw new OverlanError('USAGE', `${(e as Error).message}\n${USAGE}`)
  }
  const v = parsed.values
  if (v.help === true) { process.stdout.write(USAGE); process.exit(EXIT_OK) }
  if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined)) throw new OverlanError('USAGE', '--tls-cert and --tls-key go together')
  if (v['no-tls'] === true && v['tls-cert'] !== undefined) throw new OverlanError('USAGE', '--no-tls cannot be combined with --tls-cert/--tls-key')
  const cli: HubFileConfig = validateFlags(HubFileSchema, {
    listen: v.listen,
    tlsCert: v['tls-cert'],
    tlsKey: v['tls-key'],
    noTls: v['no-tls'],
    token: v.token,
    subnet: v.subnet,
    state: v.state,
    logLevel: v['log-level']
  }, flagName)
  const file = v.config !== undefined ? loadConfigFile(v.config, HubFileSchema) : {}
  const settings = resolveHubSettings(file, cli)
  const log = createLogger('hub', { level: settings.logLevel })
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

/** The address peers should use: the listen host, or this machine's first external IPv4. */
const publicHost = (listenHost: string): string => {
  if (listenHost !== '0.0.0.0' && listenHost !== '::') return listenHost.includes(':') ? `[${listenHost}]` : listenHost
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}

const printBanner = (hub: Hub, port: number): void => {
  const s = hub.settings
  const scheme = s.tls === null ? 'ws' : 'wss'
  const url = `${scheme}://${publicHost(s.listenHost)}${port === 443 && s.tls !== null ? '' : `:${port}`}`
  const out: string[] = [`overlan hub listening on ${scheme}://${s.listenHost}:${port} (state ${s.stateDir})`]
  if (hub.tls !== null) {
    out.push(`TLS certificate ${hub.tls.certFile}${hub.tls.generated ? ' (generated now, self-signed)' : ''}`)
    out.push(`  SHA-256 fingerprint ${hub.tls.fingerprint256}`)
  } else {
    out.push('TLS is off (--no-tls): run this behind a reverse proxy that terminates TLS')
  }
  const ca = hub.tls !== null && s.tls?.certFile === undefined ? ` --ca ${hub.tls.certFile}` : ''
  if (s.autoCreateRooms) {
    out.push(`rooms are created on first join, subnet ${formatCidr(s.autoRoom.subnet)}, MTU ${s.autoRoom.mtu}`)
    out.push('peers join with (copy the certificate file to each peer):')
    out.push(`  peer join --hub ${url} --room friday --token ${hub.autoToken!}${ca}`)
  }
  for (const r of s.rooms.values()) out.push(`room ${r.name}: subnet ${formatCidr(r.subnet)}, MTU ${r.mtu}, up to ${r.maxPeers} peers`)
  process.stdout.write(out.join('\n') + '\n')
}

main().catch((e: unknown) => fail('hub', e))
