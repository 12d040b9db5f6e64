import test from 'ava'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { OverlanError } from './errors.js'
import { generateKeyPair, keyFingerprint, loadOrCreateKeyPair, newNonce, parsePublicKey, proveJoin, verifyJoin } from './keys.js'

test('the proof of possession verifies for the key holder only, for this nonce and this hub only', t => {
  const hub = generateKeyPair()
  const peer = generateKeyPair()
  const other = generateKeyPair()
  const nonce = newNonce()
  const proof = proveJoin(peer, hub.publicKey, nonce)
  t.true(verifyJoin(hub, peer.publicKey, nonce, proof))
  t.false(verifyJoin(hub, other.publicKey, nonce, proof), 'another key with the same proof')
  t.false(verifyJoin(hub, peer.publicKey, newNonce(), proof), 'a replay against a new nonce')
  t.false(verifyJoin(generateKeyPair(), peer.publicKey, nonce, proof), 'another hub')
  t.false(verifyJoin(hub, peer.publicKey, nonce, proveJoin(other, hub.publicKey, nonce)), 'someone else\'s proof for this key')
  for (const bad of ['', 'x', 'A'.repeat(43), '!'.repeat(43), proof.slice(1)]) t.false(verifyJoin(hub, peer.publicKey, nonce, bad), `malformed proof ${bad.slice(0, 8)}`)
  t.false(verifyJoin(hub, 'not-a-key', nonce, proof))
  t.is(parsePublicKey('A'.repeat(44)), null)
  t.throws(() => proveJoin(peer, 'bad', nonce), { instanceOf: OverlanError })
})

test('the key pair is kept in the state directory (0600) and fingerprints are stable', t => {
  const dir = mkdtempSync(join(tmpdir(), 'overlan-keys-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const a = loadOrCreateKeyPair(dir)
  const b = loadOrCreateKeyPair(dir)
  t.is(a.publicKey, b.publicKey)
  t.is(statSync(join(dir, 'key.json')).mode & 0o777, 0o600)
  t.regex(keyFingerprint(a.publicKey), /^sha256:[0-9a-f]{32}$/)
  t.is(keyFingerprint(a.publicKey), keyFingerprint(b.publicKey))
  writeFileSync(join(dir, 'key.json'), '{"x25519":"bm9wZQ=="}')
  t.is(t.throws(() => loadOrCreateKeyPair(dir), { instanceOf: OverlanError })?.code, 'STATE_IO')
})

test('low-order and non-canonical public keys are refused without a throw', t => {
  const hub = generateKeyPair()
  t.false(verifyJoin(hub, 'A'.repeat(43), newNonce(), 'A'.repeat(43)), 'the all-zero point')
  const k = generateKeyPair().publicKey
  const last = k[42]!
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const other = alphabet[(alphabet.indexOf(last) & ~3) | ((alphabet.indexOf(last) + 1) & 3)]!
  t.is(parsePublicKey(k.slice(0, 42) + other), null, 'a second spelling of the same 32 bytes')
  t.truthy(parsePublicKey(k))
})
