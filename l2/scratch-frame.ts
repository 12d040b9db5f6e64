/**
 * A 100-byte IPv4 UDP unicast frame between two locally administered MACs (02:00:00:00:00:01
 * to …:02), as a game sends one: the scratch data keep-warm runs a pass on (the peer's
 * peer/warm-pass.ts, the hub's hub/warm-room.ts). `ips` are the sender's and receiver's
 * addresses (4 bytes each); the ports are ones no discovery rule looks at unless given.
 */
import { ETHERTYPE_IPV4, ETH_HEADER_LEN, ETH_TYPE } from './ethernet.js'
import { IPV4_MIN_HEADER_LEN, IPV4_PROTO, IPV4_SRC, IPV4_TOTAL_LEN, IPV4_TTL, IPV4_VER_IHL, PROTO_UDP, UDP_DST, UDP_LEN, UDP_SRC } from './packet.js'

export const scratchUdpFrame = (ips: readonly number[], ports: { src: number, dst: number } = { src: 45000, dst: 45001 }): Buffer => {
  const f = Buffer.alloc(100)
  f.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1])
  f.writeUInt16BE(ETHERTYPE_IPV4, ETH_TYPE)
  const ip = ETH_HEADER_LEN
  const udp = ip + IPV4_MIN_HEADER_LEN
  f[ip + IPV4_VER_IHL] = 0x45
  f.writeUInt16BE(f.length - ip, ip + IPV4_TOTAL_LEN)
  f[ip + IPV4_TTL] = 64
  f[ip + IPV4_PROTO] = PROTO_UDP
  f.set(ips, ip + IPV4_SRC)
  f.writeUInt16BE(ports.src, udp + UDP_SRC)
  f.writeUInt16BE(ports.dst, udp + UDP_DST)
  f.writeUInt16BE(f.length - udp, udp + UDP_LEN)
  return f
}
