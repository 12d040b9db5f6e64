/**
 * The eight 16-bit words of a textual IPv6 address (RFC 4291 §2.2: "::" expanded, a dotted
 * IPv4 tail allowed), or null when it is none. Pure: core/ takes no node:net.
 */
import { parseIpv4 } from './ipv4.js'

const WORD = /^[0-9a-f]{1,4}$/i

export const ipv6Words = (a: string): number[] | null => {
  const halves = a.split('::')
  if (halves.length > 2) return null
  const parts = (s: string): string[] | null => s === '' ? [] : s.split(':')
  const head = parts(halves[0]!)
  const tail = halves.length === 2 ? parts(halves[1]!) : []
  if (head === null || tail === null) return null
  const words: number[] = []
  const all = [...head, ...(halves.length === 2 ? ['::'] : []), ...tail]
  for (let i = 0; i < all.length; i++) {
    const p = all[i]!
    if (p === '::') { words.push(-1); continue }
    if (i === all.length - 1 && p.includes('.')) {
      const v4 = parseIpv4(p)
      if (v4 === null) return null
      words.push(v4 >>> 16, v4 & 0xffff)
      continue
    }
    if (!WORD.test(p)) return null
    words.push(parseInt(p, 16))
  }
  const gap = words.indexOf(-1)
  if (gap === -1) return words.length === 8 ? words : null
  if (words.length > 8) return null
  words.splice(gap, 1, ...Array<number>(9 - words.length).fill(0))
  return words
}
