/**
 * Host facts for `peer doctor` and its safe fixes (Linux). Part of the OS boundary: the
 * only place besides linux.ts that reads /proc/sys or runs ip, iptables and nft. Missing
 * tools or files are facts too (null), never errors.
 */
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { OverlanError } from '../../core/errors.js'
import { formatIpv4, parseIpv4, prefixMask } from '../../core/ipv4.js'
import type { FixAction, HostFacts } from '../doctor.js'
import { systemCommand } from './linux-net.js'

const CAP_NET_ADMIN = 12

const read = (file: string): string | null => { try { return readFileSync(file, 'utf8') } catch { return null } }

const cmd = (file: string, args: string[]): Promise<string | null> => new Promise(resolve => {
  execFile(systemCommand(file), args, { timeout: 5000 }, (err, stdout) => { resolve(err === null ? stdout : null) })
})

const capNetAdmin = (): boolean => {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(read('/proc/self/status') ?? '')
  return m !== null && (BigInt(`0x${m[1]!}`) & (1n << BigInt(CAP_NET_ADMIN))) !== 0n
}

const sysctlPath = (key: string): string => `/proc/sys/${key.replaceAll('.', '/')}`

export const gatherFacts = async (peer: HostFacts['peer']): Promise<HostFacts> => {
  const iface = peer?.iface ?? 'ovl0'
  let tap: HostFacts['tap'] = null
  const link = await cmd('ip', ['-j', 'addr', 'show', 'dev', iface])
  if (link !== null) {
    const l = (JSON.parse(link) as Array<{ flags: string[], mtu: number, addr_info?: Array<{ family: string, broadcast?: string }> }>)[0]
    const v4 = l?.addr_info?.find(a => a.family === 'inet')
    if (l !== undefined) tap = { multicast: l.flags.includes('MULTICAST'), mtu: l.mtu, up: l.flags.includes('UP'), ...(v4 !== undefined ? { broadcast: v4.broadcast ?? null } : {}) }
  }
  let routeDevForSubnet: string | null = null
  if (peer !== null) {
    const [ip, len] = peer.address.split('/')
    const v = parseIpv4(ip ?? '')
    if (v !== null) {
      // Another host address of the room: the last one below the broadcast address.
      const other = (((v & prefixMask(Number(len))) >>> 0) + 2 ** (32 - Number(len)) - 2)
      const r = await cmd('ip', ['-j', 'route', 'get', formatIpv4(other === v ? other - 1 : other)])
      routeDevForSubnet = r !== null ? (JSON.parse(r) as Array<{ dev?: string }>)[0]?.dev ?? null : null
    }
  }
  const routes = await cmd('ip', ['-j', 'route', 'show', 'table', 'main'])
  const rp = (k: string): number => Number(read(sysctlPath(`net.ipv4.conf.${k}.rp_filter`)) ?? 0)
  const v6 = read(sysctlPath(`net.ipv6.conf.${iface}.disable_ipv6`))
  const avahiPid = read('/run/avahi-daemon/pid')?.trim()
  return {
    root: process.getuid?.() === 0,
    capNetAdmin: capNetAdmin(),
    tunExists: existsSync('/dev/net/tun'),
    peer,
    tap,
    ipv6Disabled: v6 === null ? null : v6.trim() === '1',
    rpFilter: tap !== null ? { all: rp('all'), iface: rp(iface) } : null,
    routeDevForSubnet,
    routes: routes === null ? [] : (JSON.parse(routes) as Array<{ dst: string, dev?: string }>).map(r => ({ dst: r.dst, dev: r.dev ?? '' })),
    iptablesInput: await cmd('iptables', ['-S', 'INPUT']),
    nftRuleset: await cmd('nft', ['list', 'ruleset']),
    avahiConf: read('/etc/avahi/avahi-daemon.conf'),
    avahiRunning: avahiPid !== undefined && avahiPid !== '' && existsSync(`/proc/${avahiPid}`),
    smbConf: read('/etc/samba/smb.conf'),
    nsswitchHosts: /^hosts:(.*)$/m.exec(read('/etc/nsswitch.conf') ?? '')?.[1] ?? (existsSync('/etc/nsswitch.conf') ? '' : null),
    nftAvailable: await cmd('nft', ['--version']) !== null
  }
}

export const applyFix = async (a: FixAction): Promise<void> => {
  if (a.kind === 'sysctl') {
    try {
      writeFileSync(sysctlPath(a.key), a.value)
    } catch (e) {
      throw new OverlanError('LINK_CONFIG_FAILED', `sysctl ${a.key}=${a.value}: ${(e as Error).message}`, { cause: e })
    }
    return
  }
  if (await cmd('ip', a.args) === null) throw new OverlanError('LINK_CONFIG_FAILED', `ip ${a.args.join(' ')} failed`)
}
