/**
 * The hub's TLS material: the pair it was given, or a self-signed one (core/self-signed-cert.ts)
 * kept in its state directory, made on first start.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { join } from 'node:path'
import { existsSync, readFileSync } from 'node:fs'
import { OverlanError, errnoCode } from '../core/errors.js'
import { createSelfSignedCert } from '../core/self-signed-cert.js'
import { ensureDir, writeFileAtomic } from '../core/state-file.js'

export interface TlsMaterial {
  cert: string
  key: string
  certFile: string
  fingerprint256: string
  generated: boolean
}

const readPair = (certFile: string, keyFile: string): { cert: string, key: string } => {
  try {
    const cert = readFileSync(certFile, 'utf8')
    const key = readFileSync(keyFile, 'utf8')
    createPrivateKey(key) // fail early, with a clear error, on an unreadable key
    return { cert, key }
  } catch (e) {
    throw new OverlanError('TLS_MATERIAL', `cannot load TLS certificate ${certFile} / key ${keyFile}: ${errnoCode(e) ?? (e as Error).message}`, { cause: e })
  }
}

const fingerprintOf = (certFile: string, pem: string): string => {
  try {
    return new X509Certificate(pem).fingerprint256
  } catch (e) {
    throw new OverlanError('TLS_MATERIAL', `${certFile} is not a PEM certificate: ${(e as Error).message}`, { cause: e })
  }
}

/** Loads the given pair, or the one kept in `stateDir/tls`, generating it on first start. */
export const loadTlsMaterial = (opts: { certFile?: string, keyFile?: string, stateDir: string, names: string[], now: Date }): TlsMaterial => {
  if (opts.certFile !== undefined && opts.keyFile !== undefined) {
    const { cert, key } = readPair(opts.certFile, opts.keyFile)
    return { cert, key, certFile: opts.certFile, fingerprint256: fingerprintOf(opts.certFile, cert), generated: false }
  }
  const dir = join(opts.stateDir, 'tls')
  const certFile = join(dir, 'hub-cert.pem')
  const keyFile = join(dir, 'hub-key.pem')
  let generated = false
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    ensureDir(dir)
    const { certPem, keyPem } = createSelfSignedCert({ commonName: 'overlan hub', names: opts.names, validDays: 3650, now: opts.now })
    writeFileAtomic(keyFile, keyPem, 0o600)
    writeFileAtomic(certFile, certPem, 0o644)
    generated = true
  }
  const { cert, key } = readPair(certFile, keyFile)
  return { cert, key, certFile, fingerprint256: fingerprintOf(certFile, cert), generated }
}
