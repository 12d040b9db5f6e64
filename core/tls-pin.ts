/** The pin of the hub's TLS key: "sha256:" + hex of its SubjectPublicKeyInfo (what `peer --pin` checks). */
import { createHash, X509Certificate } from 'node:crypto'

export const pinOf = (cert: string | Buffer | X509Certificate): string =>
  `sha256:${createHash('sha256').update((cert instanceof X509Certificate ? cert : new X509Certificate(cert)).publicKey.export({ type: 'spki', format: 'der' })).digest('hex')}`
