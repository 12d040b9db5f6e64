/**
 * Host networking commands of the Linux OS boundary: iproute2 (`ip`) and nftables (`nft`),
 * the only places in the tree that run them, and /proc/net/igmp. The rule sets they apply
 * are built by pure functions (tested); every install removes what an earlier run (also one
 * killed with SIGKILL) left, so the host ends as it was found.
 *
 * Limited broadcasts and game multicast (README "LAN-game discovery"): by default the kernel
 * copies what the host sends to 255.255.255.255, or to a multicast group, out of any other
 * interface into the TAP (nftables `dup` in the output hook, one table per TAP), and the
 * peer rewrites the copy's source to its overlay address (l2/broadcast-copy.ts). The
 * original still leaves by the physical network, so a LAN party with local and overlay
 * friends at once sees both. Groups the host joined elsewhere are joined on the TAP too.
 */
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { OverlanError, errnoCode } from '../../core/errors.js'
import { COPY_DENY_GROUPS, COPY_DENY_PORTS } from '../../l2/broadcast-copy.js'
import type { GameRouteSpec } from './host-os.js'

const SYSTEM_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/local/bin']

/**
 * The system's `name` (first of SYSTEM_DIRS), else `name` from PATH. Never PATH first: an
 * npm checkout puts node_modules/.bin there, and @vercel/nft installs a `nft` of its own.
 */
export const systemCommand = (name: string): string => {
  for (const d of SYSTEM_DIRS) if (existsSync(`${d}/${name}`)) return `${d}/${name}`
  return name
}

export const run = (cmd: 'ip' | 'nft', args: string[], input?: string): Promise<string> => new Promise((resolve, reject) => {
  const child = execFile(systemCommand(cmd), args, { timeout: 10_000 }, (err, stdout, stderr) => {
    if (err === null) { resolve(stdout); return }
    const why = errnoCode(err) === 'ENOENT' ? `the \`${cmd}\` command (${cmd === 'ip' ? 'iproute2' : 'nftables'}) is not installed` : (stderr.trim() || err.message)
    reject(new OverlanError('LINK_CONFIG_FAILED', `${cmd} ${args.join(' ')}: ${why}`, { cause: err }))
  })
  if (input !== undefined) child.stdin?.end(input)
})

export const runQuiet = (cmd: 'ip' | 'nft', args: string[]): Promise<boolean> => run(cmd, args).then(() => true, () => false)

/** The nftables table of one TAP: `ip overlan_<iface>`. */
export const copyTableName = (iface: string): string => `overlan_${iface.replace(/[^A-Za-z0-9_]/g, '_')}`

/** The nft script that copies limited broadcasts and game multicast leaving by other interfaces into `iface` (pure; tested). */
export const broadcastCopyRuleset = (iface: string): string => {
  const t = copyTableName(iface)
  const q = JSON.stringify(iface)
  return [
    // Creating then deleting makes the script idempotent (nft has no "delete if exists" in 1.0).
    `add table ip ${t}`,
    `delete table ip ${t}`,
    `table ip ${t} {`,
    '  chain out {',
    '    type filter hook output priority 0; policy accept;',
    `    oifname != ${q} ip daddr 255.255.255.255 udp dport != { ${COPY_DENY_PORTS.join(', ')} } dup to 255.255.255.255 device ${q}`,
    `    oifname != ${q} ip daddr 224.0.0.0/4 ip daddr != { ${COPY_DENY_GROUPS.join(', ')} } meta l4proto udp dup to ip daddr device ${q}`,
    '  }',
    '}',
    ''
  ].join('\n')
}

export const installBroadcastCopy = async (iface: string): Promise<void> => { await run('nft', ['-f', '-'], broadcastCopyRuleset(iface)) }

export const removeBroadcastCopy = async (iface: string): Promise<void> => { await runQuiet('nft', ['delete', 'table', 'ip', copyTableName(iface)]) }

/**
 * Policy routing for game discovery (the `limitedBroadcast: route` option: moves instead of
 * copies, listed ports only). One rule priority and table per interface, so rules can be
 * found and removed again, also after a crash.
 */
export const gameRouteTable = (iface: string): number => {
  let h = 0
  for (const c of iface) h = (h * 31 + c.charCodeAt(0)) % 90
  return 5210 + h
}

/** The `ip` commands that install `spec` for `iface` (pure; tested). */
export const gameRouteCommands = (iface: string, spec: GameRouteSpec): string[][] => {
  const t = String(gameRouteTable(iface))
  const cmds: string[][] = [
    ['route', 'replace', '255.255.255.255/32', 'dev', iface, 'table', t],
    ['route', 'replace', '224.0.0.0/4', 'dev', iface, 'table', t]
  ]
  for (const r of spec.broadcastPorts) {
    cmds.push(['rule', 'add', 'pref', t, 'to', '255.255.255.255', 'ipproto', 'udp', 'dport', r.from === r.to ? String(r.from) : `${r.from}-${r.to}`, 'lookup', t])
  }
  for (const g of spec.groups) cmds.push(['rule', 'add', 'pref', t, 'to', g, 'lookup', t])
  return cmds
}

export const removeGameRoutes = async (iface: string): Promise<void> => {
  const t = String(gameRouteTable(iface))
  // Delete every rule with our priority (bounded), then the table (gone anyway with the device).
  for (let i = 0; i < 256 && await runQuiet('ip', ['rule', 'del', 'pref', t]); i++);
  await runQuiet('ip', ['route', 'flush', 'table', t])
}

export const installGameRoutes = async (iface: string, spec: GameRouteSpec): Promise<void> => {
  await removeGameRoutes(iface)
  for (const cmd of gameRouteCommands(iface, spec)) await run('ip', cmd)
}

/**
 * IPv4 groups joined on interfaces other than `except` (and lo), from /proc/net/igmp
 * (groups are little-endian hex there); link-local control groups left out. Pure parser.
 */
export const parseIgmpGroups = (text: string, except: string): string[] => {
  const out = new Set<string>()
  let dev = ''
  for (const line of text.split('\n')) {
    const head = /^\d+\s+(\S+)\s*:/.exec(line)
    if (head !== null) { dev = head[1]!; continue }
    const g = /^\s+([0-9A-Fa-f]{8})\s/.exec(line)
    if (g === null || dev === except || dev === 'lo') continue
    const v = Buffer.from(g[1]!, 'hex').readUInt32LE(0)
    if ((v >>> 28) !== 0xe || (v >>> 8) === 0xe00000) continue
    out.add(`${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`)
  }
  return [...out]
}

export const hostMulticastGroups = (except: string): string[] => {
  try { return parseIgmpGroups(readFileSync('/proc/net/igmp', 'utf8'), except) } catch { return [] }
}
