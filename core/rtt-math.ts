/** Order statistics of a list of samples (ms); NaN for none. */
export const quantileOf = (xs: readonly number[], q: number): number => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}

export const median = (xs: readonly number[]): number => quantileOf(xs, 0.5)
