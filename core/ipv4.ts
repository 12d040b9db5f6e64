/** IPv4 addresses as unsigned 32-bit integers, and CIDR subnets (RFC 4632). */

export interface Subnet {
  /** Network address as u32. */
  network: number
  prefixLength: number
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

/** Dotted quad -> u32, or null when malformed. */
export const parseIpv4 = (s: string): number | null => {
  const parts = s.split('.')
  if (parts.length !== 4) return null
  let v = 0
  for (const p of parts) {
    if (!OCTET.test(p)) return null
    v = v * 256 + Number(p)
  }
  return v
}

export const formatIpv4 = (v: number): string =>
  `${(v >>> 24) & 0xff}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`

export const prefixMask = (prefixLength: number): number =>
  prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0

/** "10.77.0.0/24" -> Subnet; host bits must be zero. Null when malformed. */
export const parseCidr = (s: string): Subnet | null => {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s)
  if (m === null) return null
  const ip = parseIpv4(m[1]!)
  const prefixLength = Number(m[2])
  if (ip === null || prefixLength > 32) return null
  if ((ip & ~prefixMask(prefixLength)) !== 0) return null
  return { network: ip, prefixLength }
}

/** Why `s` is not a CIDR with zero host bits, as a sentence; null when it is one. */
export const cidrProblem = (s: string): string | null => {
  const m = /^([\d.]+)\/(\d{1,3})$/.exec(s)
  if (m === null) return 'expected ADDRESS/PREFIX, like 10.77.0.0/24'
  if (parseIpv4(m[1]!) === null) return `${m[1]!} is not an IPv4 address (four numbers 0-255)`
  if (Number(m[2]) > 32) return `/${m[2]!} is not a prefix length (0-32)`
  if (parseCidr(s) === null) return `${s} has host bits set: the network is ${formatIpv4((parseIpv4(m[1]!)! & prefixMask(Number(m[2]))) >>> 0)}/${m[2]!}`
  return null
}

export const formatCidr = (s: Subnet): string => `${formatIpv4(s.network)}/${s.prefixLength}`

export const subnetContains = (s: Subnet, ip: number): boolean =>
  ((ip & prefixMask(s.prefixLength)) >>> 0) === s.network

/** Usable host addresses: network+1 .. broadcast-1 (RFC 3021 /31 and /32 have none here). */
export const hostRange = (s: Subnet): { first: number, last: number } => {
  const size = 2 ** (32 - s.prefixLength)
  return { first: s.network + 1, last: s.network + size - 2 }
}
