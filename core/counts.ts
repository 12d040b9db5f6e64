/** Zeroed counters for every reason of an `as const` list: a missing label cannot exist. */
export const zeroCounts = <R extends string>(reasons: readonly R[]): Record<R, number> =>
  Object.fromEntries(reasons.map(r => [r, 0])) as Record<R, number>
