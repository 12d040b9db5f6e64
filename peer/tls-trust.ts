/**
 * How the peer trusts the hub's TLS certificate:
 *   --pin sha256:HEX   the hub's public key (SHA-256 of its SubjectPublicKeyInfo, what
 *                      invites carry and the hub prints): any certificate with that key,
 *                      whatever its name or issuer; nothing else
 *   --ca FILE          a CA certificate: verified the usual way, host name checked; a file
 *                      holding a non-CA certificate (such as the hub's self-signed one) is
 *                      pinned by its key instead
 *   --insecure         no verification (a loud warning)
 *   neither            the system CAs (a hub with a public certificate)
 * A pin is checked when the TLS session is up, before the hello leaves. Errors name the cause.
 */
import { X509Certificate } from 'node:crypto'
import { pinOf } from '../core/tls-pin.js'
import { readFileSync } from 'node:fs'
import type { TLSSocket } from 'node:tls'
import { OverlanError, errnoCode } from '../core/errors.js'

export interface TlsTrust {
  /** Options for the ws/tls client. */
  options: { ca?: string, rejectUnauthorized: boolean }
  /** A pin to check on the connected socket (null: the TLS stack verified). */
  pin: string | null
}


export const tlsTrustFor = (s: { insecure: boolean, caFile: string | undefined, pin: string | undefined }): TlsTrust => {
  if (s.insecure) return { options: { rejectUnauthorized: false }, pin: null }
  if (s.pin !== undefined) return { options: { rejectUnauthorized: false }, pin: s.pin }
  if (s.caFile === undefined) return { options: { rejectUnauthorized: true }, pin: null }
  let ca: string
  try {
    ca = readFileSync(s.caFile, 'utf8')
  } catch (e) {
    throw new OverlanError('TLS_FAILED', `cannot read --ca file ${s.caFile}: ${errnoCode(e) ?? (e as Error).message}`, { cause: e })
  }
  const pems = ca.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  if (pems.length === 0) throw new OverlanError('TLS_FAILED', `--ca file ${s.caFile} holds no PEM certificate`)
  const first = new X509Certificate(pems[0]!)
  // A hub's own certificate is pinned: a non-CA one, or a self-signed one naming hosts
  // (hubs before 0.2 marked theirs as CA). A real CA root names no hosts: it verifies by name.
  const hubOwn = !first.ca || (first.checkIssued(first) && first.subjectAltName !== undefined)
  if (pems.length === 1 && hubOwn) return { options: { rejectUnauthorized: false }, pin: pinOf(first) }
  return { options: { ca, rejectUnauthorized: true }, pin: null }
}

/** Null when the connected socket's certificate carries the pinned key; else the refusal. */
export const checkPin = (socket: TLSSocket, pin: string): OverlanError | null => {
  const raw = socket.getPeerCertificate?.(false)?.raw
  if (raw === undefined) return new OverlanError('TLS_FAILED', 'the hub presented no certificate')
  const got = pinOf(new X509Certificate(raw))
  return got === pin ? null : new OverlanError('TLS_FAILED', `pin mismatch: the hub's key is ${got}, not the pinned ${pin} (another hub, or someone in between)`)
}

/** A sentence naming why TLS verification failed, from Node's error code. */
export const tlsFailureReason = (code: string, hub: string): string => {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `name mismatch: the hub's certificate does not name the host in ${hub}`
  if (code === 'CERT_HAS_EXPIRED') return 'the hub\'s certificate has expired'
  if (code === 'CERT_NOT_YET_VALID') return 'the hub\'s certificate is not valid yet (check the clocks)'
  if (/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_UNTRUSTED/.test(code)) return `unknown CA (${code}): pass --pin from the hub's banner or an invite, or --ca with the CA certificate`
  return `TLS verification failed (${code})`
}
