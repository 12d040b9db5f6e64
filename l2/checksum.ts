/**
 * Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 */

/** One's-complement sum of buf[off, off+len) as 16-bit words, added to `initial`; not folded. */
export const sum16 = (b: Buffer, off: number, len: number, initial = 0): number => {
  let s = initial
  const end = off + (len & ~1)
  for (let i = off; i < end; i += 2) s += (b[i]! << 8) | b[i + 1]!
  if ((len & 1) !== 0) s += b[off + len - 1]! << 8
  return s
}

/** Folds a sum to 16 bits and complements it: the checksum field value. */
export const finishChecksum = (s: number): number => {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000)
  return ~s & 0xffff
}

/**
 * RFC 1624 eqn. 3: new checksum when one 16-bit word changes from `oldWord` to `newWord`:
 * HC' = ~(~HC + ~m + m').
 */
export const updateChecksum16 = (checksum: number, oldWord: number, newWord: number): number => {
  let s = (~checksum & 0xffff) + (~oldWord & 0xffff) + newWord
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
  return ~s & 0xffff
}

/** Sum of the IPv6 pseudo-header (RFC 8200 §8.1) for an upper-layer packet. */
export const ipv6PseudoSum = (b: Buffer, ipv6: number, upperLen: number, nextHeader: number): number =>
  sum16(b, ipv6 + 8, 32) + Math.floor(upperLen / 0x10000) + (upperLen & 0xffff) + nextHeader

/** Sum of the IPv4 pseudo-header (RFC 793 §3.1) for an upper-layer packet. */
export const ipv4PseudoSum = (b: Buffer, ipv4: number, upperLen: number, proto: number): number =>
  sum16(b, ipv4 + 12, 8) + upperLen + proto
