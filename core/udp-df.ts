/**
 * Don't fragment on the direct path's UDP socket (Linux; a no-op elsewhere): IP_MTU_DISCOVER
 * = IP_PMTUDISC_DO, so a datagram larger than the path MTU is never fragmented (ip(7)). With
 * Linux's default (IP_PMTUDISC_WANT) the kernel fragments once an ICMP "fragmentation
 * needed" taught it a smaller path MTU, and a full-size probe would pass in pieces; here it
 * fails instead, the probe's pong never comes, and the path stays relayed (core/direct/path.ts).
 */
import { libc } from './libc.js'
import { dgramFd } from './socket-fd.js'

const IPPROTO_IP = 0
const IP_MTU_DISCOVER = 10
const IP_PMTUDISC_DO = 2

/** True when set; false when the platform or socket does not allow it (the path then relies on the full-size probe alone). */
export const setDontFragment = (socket: object): boolean => {
  const fd = dgramFd(socket)
  return fd !== null && setDontFragmentFd(fd)
}

/** The same on a socket's descriptor. */
export const setDontFragmentFd = (fd: number): boolean => {
  const c = libc()
  if (c === null) return false
  const v = Buffer.alloc(4)
  v.writeInt32LE(IP_PMTUDISC_DO)
  return c.setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, v, 4) === 0
}
