/**
 * avahi-daemon on one host, with its own system D-Bus (cupsd and avahi-browse talk to avahi
 * over D-Bus) and /run, in a private mount namespace: nothing of the host's is used or changed.
 * `.local` names resolve through nss-mdns, as on a desktop.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Proc, Topology } from '../../support/netns.js'
import { waitFor } from '../../support/wait.js'

/** Only the overlay interface, IPv4 only (the overlay's addresses are IPv4). */
export const avahiConf = (hostName: string): string => `[server]
host-name=${hostName}
use-ipv4=yes
use-ipv6=no
allow-interfaces=ovl0
[publish]
publish-workstation=no
publish-hinfo=no
`

/** Shell lines that start D-Bus and avahi in the background (inside Topology.startPrivate). */
export const avahiStart = (dir: string, hostName: string): string => {
  writeFileSync(join(dir, 'avahi-daemon.conf'), avahiConf(hostName))
  writeFileSync(join(dir, 'nsswitch.conf'), 'hosts: files mdns4_minimal [NOTFOUND=return] dns\n')
  // No unicast DNS: nss-mdns asks it for a "local" SOA first, and the host's nameserver is
  // unreachable from a test host (a 10 s timeout per lookup).
  writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n')
  return [
    'mkdir -p /run/dbus /run/avahi-daemon',
    `mount --bind ${join(dir, 'nsswitch.conf')} /etc/nsswitch.conf`,
    `mount --bind ${join(dir, 'resolv.conf')} /etc/resolv.conf`,
    'dbus-daemon --system --fork',
    `avahi-daemon -D -f ${join(dir, 'avahi-daemon.conf')}`
  ].join('\n')
}

/** A desktop on `ns`: avahi for browsing and .local names; run tools in it with topo.runInside. */
export const startDesktop = async (topo: Topology, ns: string, dir: string, hostName: string): Promise<Proc> => {
  const p = topo.startPrivate(`desktop-${hostName}`, ns, `${avahiStart(dir, hostName)}\nexec sleep 3600`)
  await waitFor(`avahi on ${hostName}`, async () => (await topo.runInside(p, 'avahi-daemon', ['--check'])).code === 0, 10_000)
  return p
}
