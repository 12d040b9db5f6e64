/**
 * One error type for the control plane, config and setup. Each carries a stable
 * machine-readable `code` (also sent on the wire in `error` messages) and a human sentence.
 * The hot path never throws these: malformed frames are counted drops.
 */
export type ErrorCode =
  // usage and configuration
  | 'USAGE'
  | 'CONFIG_INVALID'
  | 'CONFIG_NOT_FOUND'
  // join refusals (sent by the hub in `error`)
  | 'AUTH_FAILED'
  | 'ROOM_UNKNOWN'
  | 'ROOM_FULL'
  | 'PROTOCOL_VERSION'
  | 'ADDRESS_UNAVAILABLE'
  | 'SUBNET_EXHAUSTED'
  | 'BAD_MESSAGE'
  | 'DUPLICATE_SESSION'
  | 'RATE_LIMITED'
  | 'BANNED'
  | 'KICKED'
  | 'INVITE_INVALID'
  | 'UNAVAILABLE'
  // peer side
  | 'HUB_UNREACHABLE'
  | 'TLS_FAILED'
  | 'TAP_UNAVAILABLE'
  | 'TAP_PERMISSION'
  | 'TAP_OPEN_FAILED'
  | 'LINK_CONFIG_FAILED'
  | 'PEER_NOT_RUNNING'
  // state and TLS material
  | 'STATE_IO'
  /** The cluster's PostgreSQL store is unreachable or refused (hub --store). */
  | 'STORE_FAILED'
  | 'TLS_MATERIAL'
  | 'LISTEN_FAILED'
  | 'INTERNAL'

export class OverlanError extends Error {
  override readonly name = 'OverlanError'
  readonly code: ErrorCode

  constructor (code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }

  /** "CODE: sentence", the form printed to users and matched by tests. */
  override toString (): string {
    return `${this.code}: ${this.message}`
  }
}

export const isOverlanError = (e: unknown): e is OverlanError => e instanceof OverlanError

/** Node system-error code (ENOENT, EPERM…) of an unknown thrown value, if any. */
export const errnoCode = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string'
    ? (e as { code: string }).code
    : undefined
