/** Shared by the `hub` and `peer` commands: flag validation and fatal-error exits. */
import { readFileSync } from 'node:fs'
import type { z } from 'zod'
import { OverlanError, isOverlanError } from './errors.js'

/** Exit codes, documented in the README. */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2
export const EXIT_REFUSED = 3
export const EXIT_UNREACHABLE = 4
export const EXIT_NO_TUN = 5
export const EXIT_PERMISSION = 6

/** Validates CLI-derived fields with the config schema; errors name the flag, not a file line. */
export const validateFlags = <S extends z.ZodType>(schema: S, values: Record<string, unknown>, flagOf: (field: string) => string): z.infer<S> => {
  const r = schema.safeParse(values)
  if (r.success) return r.data
  const lines = r.error.issues.map(i => `${flagOf(String(i.path[0] ?? ''))}: ${i.message}`)
  throw new OverlanError('USAGE', lines.join('\n'))
}

/** Kebab-case flag for a camelCase config field: tlsCert -> --tls-cert. */
/** A numeric flag's value for the schema to check: undefined when absent, NaN when blank or not a number (Number('') is 0). */
export const numberFlag = (v: string | undefined): number | undefined => v === undefined ? undefined : v.trim() === '' ? NaN : Number(v)

export const flagName = (field: string): string => `--${field.replace(/[A-Z]/g, c => '-' + c.toLowerCase())}`

export const exitCodeFor = (e: unknown): number => {
  if (!isOverlanError(e)) return EXIT_FAILURE
  switch (e.code) {
    case 'USAGE': case 'CONFIG_INVALID': case 'CONFIG_NOT_FOUND': return EXIT_USAGE
    case 'AUTH_FAILED': case 'ROOM_UNKNOWN': case 'ROOM_FULL': case 'PROTOCOL_VERSION':
    case 'ADDRESS_UNAVAILABLE': case 'SUBNET_EXHAUSTED': case 'DUPLICATE_SESSION': case 'BAD_MESSAGE': case 'RATE_LIMITED':
    case 'BANNED': case 'KICKED': case 'INVITE_INVALID': return EXIT_REFUSED
    case 'HUB_UNREACHABLE': case 'TLS_FAILED': return EXIT_UNREACHABLE
    case 'TAP_UNAVAILABLE': return EXIT_NO_TUN
    case 'TAP_PERMISSION': return EXIT_PERMISSION
    default: return EXIT_FAILURE
  }
}

/** Prints "<prog>: CODE: sentence" and exits with the code's exit status. */
export const fail = (prog: string, e: unknown): never => {
  const text = isOverlanError(e) ? e.toString() : `INTERNAL: ${(e as Error)?.stack ?? String(e)}`
  // Abstract socket names start with NUL (peer/status-socket.ts): print them as ss does, with @.
  process.stderr.write(`${prog}: ${text.replaceAll('\0', '@')}\n`)
  process.exit(exitCodeFor(e))
}

/** Edit distance (Levenshtein), for "did you mean". */
const distance = (a: string, b: string): number => {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!
    d[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return d[b.length]!
}

/** " (did you mean X?)" for the nearest candidate within 2 edits (or a prefix), else "". */
export const didYouMean = (word: string, candidates: readonly string[]): string => {
  let best: string | null = null
  let bestD = 3
  for (const c of candidates) {
    const dd = c.startsWith(word) && word.length >= 2 ? 1 : distance(word, c)
    if (dd < bestD) { best = c; bestD = dd }
  }
  return best !== null ? ` (did you mean ${best}?)` : ''
}

/** A parseArgs error as USAGE, with "did you mean --x" for an unknown flag. */
export const flagError = (e: unknown, known: readonly string[], usage: string): OverlanError => {
  const msg = (e as Error).message
  const m = /Unknown option '(--?[^']+)'/.exec(msg)
  const hint = m !== null ? didYouMean(m[1]!, known.map(k => `--${k}`)) : ''
  return new OverlanError('USAGE', `${msg}${hint}\n${usage}`)
}

/** The package version (package.json beside dist/), for --version. */
export const packageVersion = (): string => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}
