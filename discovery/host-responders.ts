/**
 * Does the host's own responder already serve the overlay interface? Then ours stays off.
 * Reads /proc/net/udp of this network namespace (the sockets bound here) and avahi's
 * configuration. nmbd binds port 137 on every interface address it serves; avahi binds
 * 0.0.0.0:5353 once and filters interfaces by allow-/deny-interfaces.
 */
import { readFileSync } from 'node:fs'

/** Local IPv4 addresses of the UDP sockets bound to `port` in a /proc/net/udp text. */
export const udpSocketsOnPort = (procNetUdp: string, port: number): string[] => {
  const out: string[] = []
  for (const line of procNetUdp.split('\n').slice(1)) {
    const m = /^\s*\d+:\s+([0-9A-Fa-f]{8}):([0-9A-Fa-f]{4})\s/.exec(line)
    if (m === null || parseInt(m[2]!, 16) !== port) continue
    const v = parseInt(m[1]!, 16) // little-endian on the hosts we run on
    out.push(`${v & 255}.${(v >>> 8) & 255}.${(v >>> 16) & 255}.${v >>> 24}`)
  }
  return out
}

/** Interfaces avahi-daemon.conf allows: undefined = all; deny wins. */
export const avahiAllows = (conf: string, iface: string): boolean => {
  const value = (key: string): string[] | undefined => {
    const m = new RegExp(`^\\s*${key}\\s*=\\s*(.*)$`, 'm').exec(conf)
    return m === null ? undefined : m[1]!.split(',').map(s => s.trim()).filter(Boolean)
  }
  if (value('deny-interfaces')?.includes(iface) === true) return false
  const allow = value('allow-interfaces')
  return allow === undefined || allow.includes(iface)
}

const read = (file: string): string => { try { return readFileSync(file, 'utf8') } catch { return '' } }

export interface HostResponders {
  /** nmbd serves the overlay address. */
  nmbd: boolean
  /** avahi (or another mDNS responder) listens here and does not exclude the interface. */
  avahi: boolean
}

/**
 * `ownMdnsSockets`: how many of the 0.0.0.0:5353 sockets are ours (0 before we open one),
 * so a re-check while our responder runs still sees only the host's.
 */
export const hostResponders = (iface: string, ipv4: string, ownMdnsSockets = 0, files = { udp: '/proc/net/udp', avahiConf: '/etc/avahi/avahi-daemon.conf' }): HostResponders => {
  const udp = read(files.udp)
  const anyMdns = udpSocketsOnPort(udp, 5353).filter(a => a === '0.0.0.0').length
  return {
    nmbd: udpSocketsOnPort(udp, 137).includes(ipv4),
    avahi: anyMdns > ownMdnsSockets && avahiAllows(read(files.avahiConf), iface)
  }
}
