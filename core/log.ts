/**
 * Structured logger: one line per event, `ts level scope event key=value…`.
 * Injected everywhere; hot paths use `RateLimitedLog` so a flood cannot flood the log.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export type LogFields = Record<string, string | number | boolean | undefined | null>

export interface Logger {
  debug: (event: string, fields?: LogFields) => void
  info: (event: string, fields?: LogFields) => void
  warn: (event: string, fields?: LogFields) => void
  error: (event: string, fields?: LogFields) => void
  isDebug: () => boolean
  child: (scope: string) => Logger
}

export interface LoggerOptions {
  level?: LogLevel
  /** Where lines go; default stderr. */
  write?: (line: string) => void
  /** Wall clock for the timestamp; injected in tests. */
  now?: () => Date
}

const quote = (v: string): string => (/^[^\s"=]+$/.test(v) ? v : JSON.stringify(v))

export const formatFields = (fields: LogFields | undefined): string => {
  if (fields === undefined) return ''
  let out = ''
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue
    out += ` ${k}=${quote(String(v))}`
  }
  return out
}

export const createLogger = (scope: string, options: LoggerOptions = {}): Logger => {
  const min = LEVEL_RANK[options.level ?? 'info']
  const write = options.write ?? ((line: string) => { process.stderr.write(line + '\n') })
  const now = options.now ?? (() => new Date())
  const emit = (level: LogLevel) => (event: string, fields?: LogFields): void => {
    if (LEVEL_RANK[level] < min) return
    write(`${now().toISOString()} ${level} ${scope} ${event}${formatFields(fields)}`)
  }
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    isDebug: () => min <= LEVEL_RANK.debug,
    child: (sub: string) => createLogger(`${scope}.${sub}`, options)
  }
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  isDebug: () => false,
  child: () => silentLogger
}

/**
 * At most `burst` lines per `intervalMs` per key; the next line that passes reports
 * how many were suppressed. Time is passed in.
 */
export class RateLimitedLog {
  private windowStart = -Infinity
  private emitted = 0
  private suppressed = 0

  constructor (private readonly intervalMs: number, private readonly burst: number) {}

  /** Returns the number of suppressed lines to report (>= 0) when this line may be logged, or -1. */
  allow (now: number): number {
    if (now - this.windowStart >= this.intervalMs) {
      this.windowStart = now
      this.emitted = 0
    }
    if (this.emitted >= this.burst) {
      this.suppressed++
      return -1
    }
    this.emitted++
    const s = this.suppressed
    this.suppressed = 0
    return s
  }
}
