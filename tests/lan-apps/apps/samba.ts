/**
 * Samba on one host: smbd + nmbd sharing `share` as NetBIOS name `netbiosName`, bound to the
 * overlay interface only, with its own state, locks and logs; and the client configuration
 * of a host whose Samba tools broadcast on the overlay.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Proc, Topology } from '../../support/netns.js'

export const serverConf = (dir: string, netbiosName: string): string => `[global]
  netbios name = ${netbiosName}
  workgroup = WORKGROUP
  server role = standalone server
  interfaces = ovl0
  bind interfaces only = yes
  map to guest = Bad User
  server min protocol = SMB2
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
  pid directory = ${dir}/run
  lock directory = ${dir}/lock
  state directory = ${dir}/state
  cache directory = ${dir}/cache
  private dir = ${dir}/private
  ncalrpc dir = ${dir}/ncalrpc
  log file = ${dir}/log.%m
[share]
  path = ${dir}/share
  guest ok = yes
  read only = no
  force user = root
`

/** Writes a client smb.conf under `dir` (name resolution by broadcast on the overlay); returns its path. */
export const clientConf = (dir: string): string => {
  for (const d of ['lock', 'state', 'cache', 'private']) mkdirSync(join(dir, d), { recursive: true })
  writeFileSync(join(dir, 'smb.conf'), `[global]
  interfaces = ovl0
  bind interfaces only = yes
  name resolve order = bcast
  client min protocol = SMB2
  lock directory = ${dir}/lock
  state directory = ${dir}/state
  cache directory = ${dir}/cache
  private dir = ${dir}/private
`)
  return join(dir, 'smb.conf')
}

export interface SambaServer { smbd: Proc, nmbd: Proc, conf: string, shareDir: string }

export const startSamba = (topo: Topology, ns: string, dir: string, netbiosName: string): SambaServer => {
  for (const d of ['run', 'lock', 'state', 'cache', 'private', 'ncalrpc', 'share']) mkdirSync(join(dir, d), { recursive: true })
  const conf = join(dir, 'smb.conf')
  writeFileSync(conf, serverConf(dir, netbiosName))
  // Own process groups (no --no-process-group): smbd signals its whole group when it stops.
  const nmbd = topo.start('nmbd', ns, 'nmbd', ['-F', '--debug-stdout', '-s', conf])
  const smbd = topo.start('smbd', ns, 'smbd', ['-F', '--debug-stdout', '-s', conf])
  return { smbd, nmbd, conf, shareDir: join(dir, 'share') }
}
