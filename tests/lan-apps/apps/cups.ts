/**
 * CUPS on one host: a shared raw queue published over DNS-SD by cupsd through avahi, whose
 * backend writes each job's bytes to `jobsDir` (job-N.prn). Own configuration, spool, state
 * and ServerBin (the system's filters plus the capture backend); nothing of the host's.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Proc, Topology } from '../../support/netns.js'
import { waitFor } from '../../support/wait.js'
import { avahiStart } from './avahi.js'

const SYSTEM_SERVERBIN = '/usr/lib/cups'

/** CUPS backend: DEVICE_URI capture:/dir. Mode 0700, so cupsd runs it as root (CUPS backend(7)). */
const CAPTURE_BACKEND = `#!/bin/sh
[ $# -eq 0 ] && { echo 'direct capture "Unknown" "overlan test capture"'; exit 0; }
dir=\${DEVICE_URI#capture:}
if [ -n "$6" ]; then cat "$6"; else cat; fi > "$dir/.job-$1" && mv "$dir/.job-$1" "$dir/job-$1.prn"
`

/**
 * An open LAN printer: anyone on the overlay may submit and manage jobs. Written out because
 * CUPS's built-in default policy checks @OWNER on Send-Document, and Debian 12's cupsd
 * 2.4.2-3+deb12u10 (the CVE-2026-27447 fix) dereferences getpwnam()'s NULL there when the
 * requesting user has no local account (a remote root is "remroot"): cupsd segfaults and the job
 * never reaches the backend. Administrative operations stay with local root (PeerCred).
 */
const OPEN_POLICY = `<Policy default>
  <Limit CUPS-Add-Modify-Printer CUPS-Delete-Printer CUPS-Add-Modify-Class CUPS-Delete-Class CUPS-Set-Default Pause-Printer Resume-Printer Enable-Printer Disable-Printer Set-Printer-Attributes>
    AuthType Default
    Require user @SYSTEM
    Order deny,allow
  </Limit>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
`

export interface PrintServer { proc: Proc, dir: string, jobsDir: string, queue: string }

export const startPrintServer = async (topo: Topology, ns: string, dir: string, o: { address: string, hostName: string, queue: string, description: string }): Promise<PrintServer> => {
  for (const d of ['etc', 'spool', 'cache', 'state', 'tmp', 'log', 'jobs', 'serverbin/backend']) mkdirSync(join(dir, d), { recursive: true })
  for (const d of ['filter', 'daemon', 'cgi-bin', 'monitor', 'notifier', 'driver']) symlinkSync(join(SYSTEM_SERVERBIN, d), join(dir, 'serverbin', d))
  writeFileSync(join(dir, 'serverbin/backend/capture'), CAPTURE_BACKEND)
  chmodSync(join(dir, 'serverbin/backend/capture'), 0o700)
  writeFileSync(join(dir, 'cupsd.conf'), `Listen ${o.address}:631
Listen /run/cups/cups.sock
ServerAlias *
Browsing On
BrowseLocalProtocols dnssd
DefaultShared Yes
WebInterface No
LogLevel ${process.env.OVERLAN_CUPS_LOGLEVEL ?? 'info'}
<Location />
  Order allow,deny
  Allow all
</Location>
${OPEN_POLICY}`)
  const files = { ServerRoot: 'etc', RequestRoot: 'spool', CacheDir: 'cache', StateDir: 'state', TempDir: 'tmp', ServerBin: 'serverbin',
    ErrorLog: 'log/error_log', AccessLog: 'log/access_log', PageLog: 'log/page_log' }
  writeFileSync(join(dir, 'cups-files.conf'), Object.entries(files).map(([key, path]) => `${key} ${join(dir, path)}\n`).join(''))
  const proc = topo.startPrivate(`cupsd-${o.hostName}`, ns, `${avahiStart(dir, o.hostName)}
mkdir -p /run/cups
exec cupsd -f -c ${join(dir, 'cupsd.conf')} -s ${join(dir, 'cups-files.conf')}`)
  await waitFor('cupsd to run', async () => (await topo.runInside(proc, 'lpstat', ['-r'])).stdout.includes('scheduler is running'), 15_000)
  const add = await topo.runInside(proc, 'lpadmin', ['-p', o.queue, '-D', o.description, '-v', `capture:${join(dir, 'jobs')}`, '-E', '-o', 'printer-is-shared=true'])
  if (add.code !== 0) throw new Error(`lpadmin: ${add.stderr}`)
  return { proc, dir, jobsDir: join(dir, 'jobs'), queue: o.queue }
}

/**
 * What to print when a print test fails: whether cupsd still runs (or the signal that ended
 * it), its queue (`lpstat -W all -o`, `lpstat -t`) and the tail of its error log.
 * `OVERLAN_CUPS_LOGLEVEL=debug` makes the log say much more.
 */
export const printServerReport = async (topo: Topology, s: PrintServer): Promise<string> => {
  const p = s.proc
  const out = [p.exitCode === null ? 'cupsd is running' : `cupsd ended: ${p.signal ?? `exit ${p.exitCode}`}; its output: ${p.output.slice(-2000)}`]
  if (p.exitCode === null) {
    for (const args of [['-W', 'all', '-o'], ['-t']]) {
      const r = await topo.runInside(p, 'lpstat', args)
      out.push(`lpstat ${args.join(' ')} (exit ${r.code}):\n${r.stdout}${r.stderr}`)
    }
  }
  const log = join(s.dir, 'log/error_log')
  out.push(`cupsd error_log (last 16 KiB):\n${existsSync(log) ? readFileSync(log, 'utf8').slice(-16_384) : '(none)'}`)
  return out.join('\n')
}
