/** Shared fixtures for the switch's unit tests: a three-port room and the frames they craft. */
import { ARP_REQUEST, writeArpFrame } from '../../l2/arp.js'
import { finishChecksum, sum16 } from '../../l2/checksum.js'
import { MAC_BROADCAST } from '../../l2/ethernet.js'
import { writeLinkLocalFromMac } from '../../l2/ndp.js'
import { L2Switch, type SwitchOptions } from '../../l2/switch.js'
import { ipv4, ipv4Frame, ipv6Bytes, mac } from './frames.js'

export const A = '02:00:00:00:00:0a'
export const B = '02:00:00:00:00:0b'
export const C = '02:00:00:00:00:0c'
export const IP = { A: '10.77.0.1', B: '10.77.0.2', C: '10.77.0.3' }

export const room = (o: Partial<SwitchOptions> = {}): L2Switch => {
  const sw = new L2Switch({ mtu: 1400, ...o })
  sw.addPort(1, mac(A), ipv4(IP.A))
  sw.addPort(2, mac(B), ipv4(IP.B))
  sw.addPort(3, mac(C), ipv4(IP.C))
  return sw
}
export const decide = (sw: L2Switch, f: Buffer, port: number, now = 0): number => sw.decide(f, 0, f.length, port, now)
export const arpRequest = (from: string, fromIp: string, forIp: string): Buffer => {
  const f = Buffer.alloc(60)
  writeArpFrame(f, 0, ARP_REQUEST, MAC_BROADCAST, mac(from), ipv4(fromIp), 0, ipv4(forIp))
  return f
}

export const linkLocal = (m: string): string => {
  const b = Buffer.alloc(16); writeLinkLocalFromMac(b, 0, mac(m))
  return b.toString('hex').match(/.{4}/g)!.join(':')
}
export const ndMsg = (type: number, target: string, optType: number, optMac: string, flags = 0): Buffer => {
  const m = Buffer.alloc(32)
  m[0] = type
  m[4] = flags
  ipv6Bytes(target).copy(m, 8)
  m[24] = optType; m[25] = 1; m.writeUIntBE(mac(optMac), 26, 6)
  return m
}

export const igmpV2 = (from: string, fromIp: string, type: number, group: string): Buffer => {
  const g = Buffer.alloc(8); g[0] = type; g.writeUInt32BE(ipv4(group), 4)
  g.writeUInt16BE(finishChecksum(sum16(g, 0, 8)), 2)
  return ipv4Frame('01:00:5e:00:00:16', from, fromIp, type === 0x17 ? '224.0.0.2' : group, 2, g, { ttl: 1, options: Buffer.from([0x94, 4, 0, 0]) })
}
