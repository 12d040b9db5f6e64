/**
 * This host's own addresses as direct-path candidates ("ip:port" with the direct socket's
 * port): every IPv4 address of an interface that is up and not loopback, except the overlay's
 * own TAP (a path through the overlay would carry the overlay). A peer and a member on one
 * LAN then reach each other without the NAT's hairpin.
 */
import { networkInterfaces } from 'node:os'

export const localCandidates = (tapName: string, port: number): string[] => {
  const out: string[] = []
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (name === tapName) continue
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal) out.push(`${a.address}:${port}`)
    }
  }
  return out
}
