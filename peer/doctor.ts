/**
 * `peer doctor`: what on this host breaks LAN apps on the overlay, and how to fix each.
 * Pure: facts gathered by the OS boundary (peer/os/linux-probe.ts) go in, findings come
 * out. Fixes marked safe only touch the overlay interface itself and are applied by
 * `peer doctor --fix`; the others change other software's configuration or the firewall
 * and are printed for the user to decide.
 */
import { parseIpv4, prefixMask, subnetContains } from '../core/ipv4.js'

export interface HostFacts {
  root: boolean
  capNetAdmin: boolean
  tunExists: boolean
  /** Present when a peer runs on the interface; `limitedBroadcast` as its presence reports it. */
  peer: { iface: string, address: string, mtu: number, limitedBroadcast?: string } | null
  /** `broadcast` is the TAP's IPv4 broadcast address (what getifaddrs/SIOCGIFBRDADDR return), null without one. */
  tap: { multicast: boolean, mtu: number, up: boolean, broadcast?: string | null } | null
  /** The `hosts:` line of /etc/nsswitch.conf (null: no such file). */
  nsswitchHosts: string | null
  /** Is the `nft` command there (the default copy of limited broadcasts needs it)? */
  nftAvailable: boolean
  ipv6Disabled: boolean | null
  rpFilter: { all: number, iface: number } | null
  /** Device `ip route get` picks for another address of the room's subnet. */
  routeDevForSubnet: string | null
  /** Main-table routes: destination CIDR (or "default") and device. */
  routes: Array<{ dst: string, dev: string }>
  iptablesInput: string | null
  nftRuleset: string | null
  avahiConf: string | null
  avahiRunning: boolean
  smbConf: string | null
}

export type FixAction =
  | { kind: 'sysctl', key: string, value: string }
  | { kind: 'link', args: string[] }

export interface Finding {
  id: string
  status: 'ok' | 'problem' | 'skipped'
  detail: string
  fix?: { text: string, safe: boolean, action?: FixAction }
}

const ok = (id: string, detail: string): Finding => ({ id, status: 'ok', detail })
const skipped = (id: string, detail: string): Finding => ({ id, status: 'skipped', detail })
const problem = (id: string, detail: string, fix: Finding['fix']): Finding => fix === undefined ? { id, status: 'problem', detail } : { id, status: 'problem', detail, fix }

/** smb.conf [global] value of `key` (case and spacing as Samba reads them). */
const smbGlobal = (conf: string, key: string): string | undefined => {
  let inGlobal = false
  for (const raw of conf.split('\n')) {
    const line = raw.replace(/[;#].*$/, '').trim()
    const section = /^\[(.+)\]$/.exec(line)
    if (section !== null) { inGlobal = section[1]!.toLowerCase() === 'global'; continue }
    if (!inGlobal) continue
    const m = /^([^=]+?)\s*=\s*(.*)$/.exec(line)
    if (m !== null && m[1]!.toLowerCase().replace(/\s+/g, ' ') === key) return m[2]!
  }
  return undefined
}

export const diagnose = (f: HostFacts): Finding[] => {
  const out: Finding[] = []
  const iface = f.peer?.iface ?? 'ovl0'

  // 1. TUN device and privileges
  if (!f.tunExists) out.push(problem('tun', '/dev/net/tun is missing: no TAP can be created', { text: 'modprobe tun (or pass --device /dev/net/tun to the container)', safe: false }))
  else if (!f.root && !f.capNetAdmin) out.push(problem('tun', 'not root and no CAP_NET_ADMIN: peer join cannot create the TAP', { text: 'run peer join with sudo (or grant CAP_NET_ADMIN)', safe: false }))
  else out.push(ok('tun', '/dev/net/tun present, privileges sufficient'))

  if (f.peer === null || f.tap === null) {
    out.push(skipped('overlay', `no peer is running on ${iface}: start \`peer join\` first to check the overlay itself`))
  } else {
    // 2. Route and reverse-path filtering
    if (f.routeDevForSubnet !== null && f.routeDevForSubnet !== iface) {
      out.push(problem('route', `the room's subnet of ${f.peer.address} is routed via ${f.routeDevForSubnet}, not ${iface}`, { text: `remove the overlapping route on ${f.routeDevForSubnet}`, safe: false }))
    } else {
      out.push(ok('route', `the room's subnet is reached via ${iface}`))
    }
    if (f.rpFilter !== null && Math.max(f.rpFilter.all, f.rpFilter.iface) === 1) {
      out.push(problem('rp_filter', `strict reverse-path filtering (rp_filter=1) on ${iface}: answers to game broadcasts can be dropped`,
        { text: `sysctl -w net.ipv4.conf.${iface}.rp_filter=2 (loose)`, safe: true, action: { kind: 'sysctl', key: `net.ipv4.conf.${iface}.rp_filter`, value: '2' } }))
    } else {
      out.push(ok('rp_filter', 'reverse-path filtering is off or loose'))
    }
    // 4. Multicast flag and MTU of the TAP
    if (!f.tap.multicast) {
      out.push(problem('multicast', `${iface} has no MULTICAST flag: mDNS, SSDP and game groups cannot work`,
        { text: `ip link set ${iface} multicast on`, safe: true, action: { kind: 'link', args: ['link', 'set', 'dev', iface, 'multicast', 'on'] } }))
    } else {
      out.push(ok('multicast', `${iface} has the MULTICAST flag`))
    }
    if (f.tap.mtu !== f.peer.mtu) {
      out.push(problem('mtu', `${iface} MTU is ${f.tap.mtu}, the room's is ${f.peer.mtu}: large frames will be dropped`,
        { text: `ip link set ${iface} mtu ${f.peer.mtu}`, safe: true, action: { kind: 'link', args: ['link', 'set', 'dev', iface, 'mtu', String(f.peer.mtu)] } }))
    } else {
      out.push(ok('mtu', `${iface} MTU matches the room (${f.peer.mtu})`))
    }
    // 9. Broadcast address of the TAP: OpenTTD, Java and many games search the addresses getifaddrs gives.
    if (f.tap.broadcast === null) {
      out.push(problem('broadcast', `${iface} has no IPv4 broadcast address: games that search the interface's broadcast address (OpenTTD, Java games) miss the room`,
        { text: `ip addr change ${f.peer.address} broadcast + dev ${iface}`, safe: true, action: { kind: 'link', args: ['addr', 'change', f.peer.address, 'broadcast', '+', 'dev', iface] } }))
    } else if (f.tap.broadcast !== undefined) {
      out.push(ok('broadcast', `${iface} has the broadcast address ${f.tap.broadcast}`))
    }
    // 10. Limited broadcasts (255.255.255.255) and game multicast from sockets bound to no interface
    const lb = f.peer.limitedBroadcast
    if (lb !== undefined) {
      if (lb.startsWith('copy')) out.push(ok('limited_broadcast', `limited broadcasts and game multicast of any port are copied to ${iface} (${lb})`))
      else if (lb.startsWith('route')) out.push(ok('limited_broadcast', `only the listed games' broadcasts reach ${iface}, and they leave the physical network (${lb}); limitedBroadcast: copy covers every game`))
      else {
        out.push(problem('limited_broadcast', `limited broadcasts (255.255.255.255) leave by the physical network, not ${iface} (${lb}): games that announce themselves that way are not found`,
          { text: f.nftAvailable ? 'set limitedBroadcast: copy (and gameDiscovery: true) in the peer config and rejoin' : 'install nftables (apt-get install nftables) and rejoin', safe: false }))
      }
    }
    // 8. IPv6 on the TAP
    if (f.ipv6Disabled === true) {
      out.push(problem('ipv6', `IPv6 is disabled on ${iface}: IPv6-only discovery (some games, Windows file sharing) will not work`,
        { text: `sysctl -w net.ipv6.conf.${iface}.disable_ipv6=0`, safe: true, action: { kind: 'sysctl', key: `net.ipv6.conf.${iface}.disable_ipv6`, value: '0' } }))
    } else if (f.ipv6Disabled === false) {
      out.push(ok('ipv6', `IPv6 is enabled on ${iface}`))
    }
    // 7. Overlapping subnets
    const own = parseCidrLoose(f.peer.address)
    const overlaps = own === null ? [] : f.routes.filter(r => r.dev !== iface && r.dst !== 'default' && overlapsCidr(r.dst, own))
    if (overlaps.length > 0) {
      out.push(problem('overlap', `routes overlap the room's subnet: ${overlaps.map(r => `${r.dst} dev ${r.dev}`).join(', ')}`, { text: 'ask the hub admin for another room subnet, or remove the overlapping route', safe: false }))
    } else {
      out.push(ok('overlap', 'no other route overlaps the room\'s subnet'))
    }
  }

  // 11. .local names on this host (ping alice.local, smb://alice.local): nss-mdns or systemd-resolved
  const hosts = f.nsswitchHosts
  if (hosts === null) out.push(skipped('mdns_names', '/etc/nsswitch.conf is missing: cannot tell how this host resolves .local names'))
  else if (/\bmdns(4|6)?(_minimal)?\b/.test(hosts)) out.push(ok('mdns_names', `.local names resolve through nss-mdns (${hosts.trim()})`))
  else if (/\bresolve\b/.test(hosts)) out.push(ok('mdns_names', `.local names go to systemd-resolved (${hosts.trim()}); it answers them only with MulticastDNS=yes in resolved.conf and for the link`))
  else {
    out.push(problem('mdns_names', `.local names do not resolve on this host (no mdns in "${hosts.trim()}"): \`ping alice.local\` and printers by name fail, though the peers answer`,
      { text: 'apt-get install libnss-mdns (it adds mdns4_minimal to the hosts line of /etc/nsswitch.conf)', safe: false }))
  }

  // 3. Firewall
  const iptDrop = f.iptablesInput !== null && /^-P INPUT (DROP|REJECT)/m.test(f.iptablesInput) && !new RegExp(`-i ${iface} .*-j ACCEPT`).test(f.iptablesInput)
  const nftDrop = f.nftRuleset !== null && /hook input[^\n]*policy drop/.test(f.nftRuleset) && !f.nftRuleset.includes(`iifname "${iface}" accept`)
  if (iptDrop || nftDrop) {
    out.push(problem('firewall', `the firewall drops incoming traffic and does not accept ${iface}: LAN apps cannot answer`, {
      text: iptDrop ? `iptables -I INPUT -i ${iface} -j ACCEPT` : `nft insert rule inet filter input iifname "${iface}" accept`, safe: false
    }))
  } else if (f.iptablesInput === null && f.nftRuleset === null) {
    out.push(skipped('firewall', 'neither iptables nor nft is installed: nothing to check'))
  } else {
    out.push(ok('firewall', `no input policy drops ${iface}`))
  }

  // 5. avahi
  if (f.avahiConf === null) {
    out.push(ok('avahi', 'avahi-daemon is not installed: the peer answers mDNS itself'))
  } else {
    const allow = /^\s*allow-interfaces\s*=\s*(.*)$/m.exec(f.avahiConf)?.[1]?.split(',').map(s => s.trim()) ?? null
    const deny = /^\s*deny-interfaces\s*=\s*(.*)$/m.exec(f.avahiConf)?.[1]?.split(',').map(s => s.trim()) ?? []
    if (deny.includes(iface) || (allow !== null && !allow.includes(iface))) {
      out.push(problem('avahi', `avahi-daemon.conf excludes ${iface} (allow-interfaces/deny-interfaces): services published by avahi stay invisible to the room`,
        { text: `add ${iface} to allow-interfaces in /etc/avahi/avahi-daemon.conf and restart avahi-daemon`, safe: false }))
    } else {
      out.push(ok('avahi', `avahi-daemon ${f.avahiRunning ? 'runs and ' : ''}does not exclude ${iface}`))
    }
  }

  // 6. Samba
  if (f.smbConf === null) {
    out.push(ok('samba', 'Samba is not installed'))
  } else {
    const only = (smbGlobal(f.smbConf, 'bind interfaces only') ?? 'no').toLowerCase()
    const ifaces = (smbGlobal(f.smbConf, 'interfaces') ?? '').split(/[\s,]+/).filter(Boolean)
    const addr = f.peer?.address.split('/')[0]
    const covers = ifaces.some(i => i === iface || i.startsWith(`${iface}/`) || (addr !== undefined && cidrOrIpCovers(i, addr)))
    if (['yes', 'true', '1'].includes(only) && !covers) {
      out.push(problem('samba', `smb.conf has "bind interfaces only = yes" and "interfaces" does not include ${iface}: shares and NetBIOS names are not served on the overlay`,
        { text: `add ${iface} to "interfaces" in /etc/samba/smb.conf and restart smbd and nmbd`, safe: false }))
    } else {
      out.push(ok('samba', only === 'yes' ? `smb.conf lists ${iface} in "interfaces"` : `smb.conf does not keep Samba off ${iface}`))
    }
  }
  return out
}

const parseCidrLoose = (s: string): { network: number, prefixLength: number } | null => {
  const [ip, len] = s.split('/')
  const v = parseIpv4(ip ?? '')
  const p = Number(len)
  if (v === null || !(p >= 0 && p <= 32)) return null
  return { network: (v & prefixMask(p)) >>> 0, prefixLength: p }
}

const overlapsCidr = (dst: string, own: { network: number, prefixLength: number }): boolean => {
  const c = parseCidrLoose(dst.includes('/') ? dst : `${dst}/32`)
  if (c === null) return false
  const shorter = Math.min(c.prefixLength, own.prefixLength)
  return ((c.network & prefixMask(shorter)) >>> 0) === ((own.network & prefixMask(shorter)) >>> 0)
}

const cidrOrIpCovers = (entry: string, ip: string): boolean => {
  const v = parseIpv4(ip)
  if (v === null) return false
  if (entry === ip) return true
  const c = parseCidrLoose(entry)
  return c !== null && entry.includes('/') && subnetContains(c, v)
}
