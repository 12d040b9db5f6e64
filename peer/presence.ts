/**
 * Presence of this host on the overlay, started after the first join (and again when the
 * lease changes; after any other welcome, e.g. once the hub restarted, it re-announces):
 * brings LAN-game discovery to the overlay, and answers for this peer over mDNS, NetBIOS
 * and SSDP — on sockets bound to the overlay interface only (SO_BINDTODEVICE), so nothing
 * leaks to the host's other networks. A responder stays off when the host's own (avahi,
 * nmbd) already serves the interface; that is re-checked every 30 s.
 *
 * Game discovery (`limitedBroadcast`): `copy` (default) — the kernel copies every limited
 * broadcast and game multicast the host sends elsewhere into the TAP (peer/os/linux-net.ts),
 * whatever the port, and groups the host joined elsewhere are joined on the TAP as well
 * (checked every MIRROR_MS); `route` — policy routing of the listed `gamePorts` only
 * (moves instead of copies); `off`. Whatever an earlier run left (also after SIGKILL) is
 * removed first.
 */
import { createSocket, type Socket } from 'node:dgram'
import { networkInterfaces } from 'node:os'
import type { Logger } from '../core/log.js'
import { formatIpv4, parseIpv4, prefixMask } from '../core/ipv4.js'
import { hostResponders } from '../discovery/host-responders.js'
import { MDNS_GROUP, MDNS_PORT, MdnsResponder } from '../discovery/mdns-responder.js'
import { netbiosNameOf, NBNS_PORT } from '../discovery/nbns.js'
import { NbnsResponder } from '../discovery/nbns-responder.js'
import { SsdpAdvertiser } from '../discovery/ssdp-advertiser.js'
import { SSDP_GROUP, SSDP_PORT } from '../discovery/ssdp-message.js'
import type { GamePortRange } from '../l2/ports.js'
import type { GameRouteSpec, HostOs } from './os/host-os.js'

const RECHECK_MS = 30_000
/** How often groups the host joined elsewhere are mirrored onto the TAP. */
const MIRROR_MS = 1000
/** At most this many mirrored groups (a bound like every table). */
const MAX_MIRRORED_GROUPS = 64

export type LimitedBroadcastMode = 'copy' | 'route' | 'off'

export interface PresenceOptions {
  iface: string
  name: string
  identity: string
  mdns: boolean
  netbios: boolean
  ssdp: boolean
  gameDiscovery: boolean
  gamePorts: readonly GamePortRange[]
  limitedBroadcast: LimitedBroadcastMode
}

export interface Lease { ip: string, prefixLength: number, mac: string }

export const gameRouteSpec = (ports: readonly GamePortRange[]): GameRouteSpec => ({
  broadcastPorts: ports.filter(p => p.group === undefined).map(p => ({ from: p.from, to: p.to })),
  groups: [...new Set(ports.flatMap(p => p.group !== undefined ? [p.group] : []))]
})

/** UUID (RFC 4122 layout, version 4 bits) from the 128-bit peer identity. */
export const uuidOf = (identity: string): string => {
  const h = identity.padEnd(32, '0')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}

export interface PresenceStatus {
  mdns: string
  netbios: string
  ssdp: string
  gameRoutes: string
  /** Game discovery: how limited broadcasts and game multicast reach the overlay. */
  limitedBroadcast: string
  mirroredGroups: string[]
}

export class Presence {
  private readonly options: PresenceOptions
  private readonly os: HostOs
  private readonly log: Logger
  private lease: Lease | null = null
  private sockets: Socket[] = []
  private mdns: MdnsResponder | null = null
  private nbns: NbnsResponder | null = null
  private ssdp: SsdpAdvertiser | null = null
  private routesInstalled = false
  private copyInstalled = false
  private mirrorSocket: Socket | null = null
  private readonly mirrored = new Set<string>()
  private recheck: NodeJS.Timeout | null = null
  private mirrorTimer: NodeJS.Timeout | null = null
  private readonly state: PresenceStatus = { mdns: 'off', netbios: 'off', ssdp: 'off', gameRoutes: 'off', limitedBroadcast: 'off', mirroredGroups: [] }

  constructor (options: PresenceOptions, deps: { os: HostOs, log: Logger }) {
    this.options = options
    this.os = deps.os
    this.log = deps.log
  }

  status (): PresenceStatus & { mdnsName: string | null } {
    return { ...this.state, mirroredGroups: [...this.mirrored], mdnsName: this.mdns !== null ? this.mdns.fqdn : null }
  }

  /** Removes what an earlier run left on the host (routes, nftables), also after SIGKILL. */
  async cleanup (): Promise<void> {
    await this.os.removeBroadcastCopy(this.options.iface).catch(() => {})
    await this.os.removeGameRoutes(this.options.iface).catch(() => {})
  }

  /** (Re)starts everything for `lease`; with the lease unchanged it re-announces instead. */
  async apply (lease: Lease): Promise<void> {
    if (this.lease !== null && this.lease.ip === lease.ip && this.lease.prefixLength === lease.prefixLength) { this.reannounce(); return }
    await this.stop()
    await this.cleanup()
    this.lease = lease
    const o = this.options
    const mode: LimitedBroadcastMode = o.gameDiscovery ? o.limitedBroadcast : 'off'
    if (mode === 'route') {
      try {
        await this.os.installGameRoutes(o.iface, gameRouteSpec(o.gamePorts))
        this.routesInstalled = true
        this.state.gameRoutes = `on (${o.gamePorts.length} games)`
        this.state.limitedBroadcast = `route (policy routing of ${o.gamePorts.length} listed games)`
      } catch (e) {
        this.state.gameRoutes = this.state.limitedBroadcast = `failed: ${(e as Error).message}`
        this.log.warn('games.routes_failed', { error: (e as Error).message })
      }
    } else if (mode === 'copy') {
      try {
        await this.os.installBroadcastCopy(o.iface)
        this.copyInstalled = true
        this.state.limitedBroadcast = 'copy (limited broadcasts and game multicast of any port)'
      } catch (e) {
        this.state.limitedBroadcast = `failed: ${(e as Error).message}`
        this.log.warn('games.copy_failed', { error: (e as Error).message })
      }
      await this.startMirror(lease)
    }
    const host = hostResponders(o.iface, lease.ip)
    if (o.mdns) await this.startResponder('mdns', host.avahi, 'avahi-daemon serves this interface', () => this.startMdns(lease))
    if (o.netbios) await this.startResponder('netbios', host.nmbd, 'nmbd serves this interface', () => this.startNbns(lease))
    if (o.ssdp) await this.startResponder('ssdp', false, '', () => this.startSsdp(lease))
    this.recheck = setInterval(() => { this.recheckHost() }, RECHECK_MS)
    this.recheck.unref()
  }

  /** Says again what this host offers: a hub that restarted has forgotten the directory. */
  reannounce (): void {
    this.mdns?.reannounce()
    this.nbns?.reannounce()
    this.ssdp?.reannounce()
  }

  async stop (): Promise<void> {
    if (this.recheck !== null) clearInterval(this.recheck)
    this.recheck = null
    if (this.mirrorTimer !== null) clearInterval(this.mirrorTimer)
    this.mirrorTimer = null
    this.mirrorSocket = null
    this.mirrored.clear()
    this.mdns?.stop()
    this.nbns?.stop()
    this.ssdp?.stop()
    this.mdns = this.nbns = this.ssdp = null
    // Let the goodbyes leave before the sockets close.
    await new Promise(resolve => setImmediate(resolve))
    for (const s of this.sockets) s.close()
    this.sockets = []
    if (this.routesInstalled) {
      await this.os.removeGameRoutes(this.options.iface).catch((e: unknown) => { this.log.warn('games.routes_remove_failed', { error: String(e) }) })
      this.routesInstalled = false
    }
    if (this.copyInstalled) {
      await this.os.removeBroadcastCopy(this.options.iface).catch((e: unknown) => { this.log.warn('games.copy_remove_failed', { error: String(e) }) })
      this.copyInstalled = false
    }
    this.state.mdns = this.state.netbios = this.state.ssdp = this.state.gameRoutes = this.state.limitedBroadcast = 'off'
    this.lease = null
  }

  private async startResponder (key: 'mdns' | 'netbios' | 'ssdp', covered: boolean, why: string, start: () => Promise<void>): Promise<void> {
    if (covered) { this.state[key] = `host (${why})`; this.log.info(`${key}.host_responder`, { why }); return }
    try {
      await start()
      this.state[key] = 'on'
    } catch (e) {
      this.state[key] = `failed: ${(e as Error).message}`
      this.log.warn(`${key}.failed`, { error: (e as Error).message })
    }
  }

  /** A UDP socket on `port`, for this interface only, joined to `group` if given. */
  private async open (port: number, ip: string, group?: string): Promise<Socket> {
    const s = createSocket({ type: 'udp4', reuseAddr: true })
    s.on('error', (e) => { this.log.warn('presence.socket_error', { port, error: e.message }) })
    await new Promise<void>((resolve, reject) => { s.once('error', reject); s.bind(port, '0.0.0.0', () => { s.off('error', reject); resolve() }) })
    this.sockets.push(s)
    this.os.bindToDevice(s, this.options.iface)
    s.setBroadcast(true)
    if (group !== undefined) {
      s.addMembership(group, ip)
      s.setMulticastInterface(ip)
      s.setMulticastLoopback(false)
    }
    return s
  }

  private async startMdns (lease: Lease): Promise<void> {
    const socket = await this.open(MDNS_PORT, lease.ip, MDNS_GROUP)
    socket.setMulticastTTL(255) // RFC 6762 §11
    const ipv6 = (networkInterfaces()[this.options.iface] ?? []).filter(a => a.family === 'IPv6').map(a => a.address.split('%')[0]!)
    const name = this.options.name.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '') || 'peer'
    this.mdns = new MdnsResponder({ name, ipv4: lease.ip, ipv6 }, { socket, log: this.log })
    void this.mdns.start()
  }

  private async startNbns (lease: Lease): Promise<void> {
    const socket = await this.open(NBNS_PORT, lease.ip)
    const ip = parseIpv4(lease.ip)!
    const broadcast = formatIpv4((ip | ~prefixMask(lease.prefixLength)) >>> 0)
    this.nbns = new NbnsResponder({ name: netbiosNameOf(this.options.name), ipv4: lease.ip, broadcast, mac: lease.mac }, { socket, log: this.log })
    void this.nbns.start()
  }

  private async startSsdp (lease: Lease): Promise<void> {
    const socket = await this.open(SSDP_PORT, lease.ip, SSDP_GROUP)
    socket.setMulticastTTL(2) // UDA 1.1 §1.1.2 default
    this.ssdp = new SsdpAdvertiser({ name: this.options.name, ipv4: lease.ip, uuid: uuidOf(this.options.identity) }, { socket, log: this.log })
    await this.ssdp.start()
  }

  /** Joins on the TAP the groups the host joined elsewhere, so a game listening with a default socket hears the room. */
  private async startMirror (lease: Lease): Promise<void> {
    try {
      const s = createSocket({ type: 'udp4', reuseAddr: true })
      s.on('error', (e) => { this.log.warn('games.mirror_error', { error: e.message }) })
      await new Promise<void>((resolve, reject) => { s.once('error', reject); s.bind(0, lease.ip, () => { s.off('error', reject); resolve() }) })
      this.sockets.push(s)
      this.mirrorSocket = s
    } catch (e) {
      this.log.warn('games.mirror_failed', { error: (e as Error).message })
      return
    }
    this.mirror()
    this.mirrorTimer = setInterval(() => { this.mirror() }, MIRROR_MS)
    this.mirrorTimer.unref()
  }

  private mirror (): void {
    const s = this.mirrorSocket
    const ip = this.lease?.ip
    if (s === null || ip === undefined) return
    const want = new Set(this.os.hostMulticastGroups(this.options.iface).slice(0, MAX_MIRRORED_GROUPS))
    for (const g of this.mirrored) {
      if (want.has(g)) continue
      try { s.dropMembership(g, ip) } catch {}
      this.mirrored.delete(g)
    }
    for (const g of want) {
      if (this.mirrored.has(g)) continue
      try { s.addMembership(g, ip); this.mirrored.add(g); this.log.info('games.group_mirrored', { group: g }) } catch (e) { this.log.debug('games.mirror_join_failed', { group: g, error: (e as Error).message }) }
    }
  }

  /** Hands over to a host responder that appeared since (e.g. Samba started after the join). */
  private recheckHost (): void {
    if (this.lease === null) return
    const host = hostResponders(this.options.iface, this.lease.ip, this.mdns !== null ? 1 : 0)
    if (host.nmbd && this.nbns !== null) { this.nbns.stop(); this.nbns = null; this.state.netbios = 'host (nmbd serves this interface)'; this.log.info('netbios.host_responder', {}) }
    if (host.avahi && this.mdns !== null) { this.mdns.stop(); this.mdns = null; this.state.mdns = 'host (avahi-daemon serves this interface)'; this.log.info('mdns.host_responder', {}) }
  }
}
