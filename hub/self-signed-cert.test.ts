import test from 'ava'
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSelfSignedCert, derInteger } from '../core/self-signed-cert.js'
import { loadTlsMaterial } from './self-signed-cert.js'

test('generated certificate is valid X.509 v3, self-signed, with SANs', t => {
  const now = new Date('2026-11-23T00:00:00Z')
  const { certPem, keyPem } = createSelfSignedCert({ commonName: 'overlan hub', names: ['localhost', '127.0.0.1', '::1', 'hub.example'], validDays: 3650, now })
  const x = new X509Certificate(certPem)
  t.is(x.subject, 'CN=overlan hub')
  t.is(x.issuer, 'CN=overlan hub')
  t.true(x.verify(x.publicKey), 'self-signature verifies')
  t.true(x.checkIssued(x))
  t.is(x.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:hub.example')
  t.true(x.checkHost('hub.example') !== undefined)
  t.true(x.checkIP('127.0.0.1') !== undefined)
  t.is(new Date(x.validTo).getUTCFullYear(), 2036)
  t.true(new Date(x.validFrom) < now)
  t.deepEqual(createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' }), x.publicKey.export({ type: 'spki', format: 'der' }))
})

test('the hub keeps its generated certificate across restarts', t => {
  const dir = mkdtempSync(join(tmpdir(), 'overlan-tls-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const first = loadTlsMaterial({ stateDir: dir, names: ['localhost'], now: new Date() })
  const second = loadTlsMaterial({ stateDir: dir, names: ['localhost'], now: new Date() })
  t.true(first.generated)
  t.false(second.generated)
  t.is(first.fingerprint256, second.fingerprint256)
  t.regex(first.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
  t.is(statSync(join(dir, 'tls', 'hub-key.pem')).mode & 0o777, 0o600, 'private key is private')
})

test('unreadable TLS files are TLS_MATERIAL errors', t => {
  const e = t.throws(() => loadTlsMaterial({ certFile: '/nonexistent.pem', keyFile: '/nonexistent.key', stateDir: '/tmp', names: [], now: new Date() }))
  t.is((e as { code?: string }).code, 'TLS_MATERIAL')
})

test('DER integers are minimal: a random serial starting with 0x00 made an invalid certificate 1 time in 256', t => {
  const hex = (b: number[]): string => derInteger(Buffer.from(b)).toString('hex')
  t.is(hex([0x00, 0x05]), '020105', 'redundant leading zero dropped')
  t.is(hex([0x00, 0x00, 0x7f]), '02017f')
  t.is(hex([0x00, 0x80]), '02020080', 'the zero before a high bit stays')
  t.is(hex([0x80]), '02020080', 'a zero is added before a high bit')
  t.is(hex([0x00, 0x00]), '020100')
  t.is(hex([0x02]), '020102')
})
