/** The direct path's crypto: Noise IK handshake, transport packets, the replay window. */
import test from 'ava'
import { createCipheriv } from 'node:crypto'
import { generateKeyPair } from '../keys.js'
import { Initiator, MSG1_LEN, MSG1_PAYLOAD_LEN, MSG2_LEN, Responder, aeadDecrypt, aeadEncrypt, hkdf, timestamp } from './noise.js'
import { ReplayWindow, WINDOW } from './replay.js'
import { TransportSession, TYPE_DATA, receiverOf } from './transport.js'

const scratch = Buffer.alloc(2048)
/** The plaintext of a packet as a string, or null. */
const opened = (s: TransportSession, p: Buffer): string | null => { const n = s.open(p, scratch); return n < 0 ? null : scratch.toString('utf8', 0, n) }

const prologue = Buffer.from('overlan-direct-1 friday')

const handshake = (): { i: ReturnType<Initiator['readMessage2']> & object, r: ReturnType<Responder['writeMessage2']>, alice: ReturnType<typeof generateKeyPair>, bob: ReturnType<typeof generateKeyPair>, responder: Responder } => {
  const alice = generateKeyPair()
  const bob = generateKeyPair()
  const init = new Initiator(alice, bob.publicKey, prologue)
  const m1 = init.writeMessage1(Buffer.concat([timestamp(Date.now()), Buffer.from([1, 2, 3, 4])]))
  const responder = new Responder(bob, prologue)
  const p1 = responder.readMessage1(m1)
  if (p1 === null) throw new Error('message 1 did not verify')
  const r = responder.writeMessage2(Buffer.from([9, 9, 9, 9]))
  const i = init.readMessage2(r.msg)
  if (i === null) throw new Error('message 2 did not verify')
  return { i, r, alice, bob, responder }
}

test('Noise IK: both sides get the same handshake hash and crossed keys; the responder learns the initiator\'s key', t => {
  const { i, r, alice, responder } = handshake()
  t.true(i.keys.h.equals(r.keys.h))
  t.true(i.keys.send.equals(r.keys.receive))
  t.true(i.keys.receive.equals(r.keys.send))
  t.false(i.keys.send.equals(i.keys.receive))
  t.is(responder.remoteStatic, alice.publicKey)
  t.deepEqual([...i.payload], [9, 9, 9, 9])
})

test('Noise IK: a message 1 for another responder, with another prologue, or altered, does not verify', t => {
  const alice = generateKeyPair()
  const bob = generateKeyPair()
  const eve = generateKeyPair()
  const m1 = new Initiator(alice, bob.publicKey, prologue).writeMessage1(Buffer.alloc(MSG1_PAYLOAD_LEN))
  t.is(m1.length, MSG1_LEN)
  t.is(new Responder(eve, prologue).readMessage1(m1), null, 'another responder')
  t.is(new Responder(bob, Buffer.from('overlan-direct-1 saturday')).readMessage1(m1), null, 'another room')
  for (const at of [0, 40, MSG1_LEN - 1]) {
    const bad = Buffer.from(m1); bad[at] = bad[at]! ^ 1
    t.is(new Responder(bob, prologue).readMessage1(bad), null, `a bit flipped at ${at}`)
  }
  t.is(new Responder(bob, prologue).readMessage1(m1.subarray(1)), null, 'short')
  const r = new Responder(bob, prologue)
  t.truthy(r.readMessage1(m1))
  const m2 = r.writeMessage2(Buffer.alloc(4)).msg
  t.is(m2.length, MSG2_LEN)
  const other = new Initiator(alice, bob.publicKey, prologue)
  other.writeMessage1(Buffer.alloc(MSG1_PAYLOAD_LEN))
  t.is(other.readMessage2(m2), null, 'a message 2 answers one message 1 only')
})

test('Noise primitives: HKDF is HMAC-based with distinct outputs; the AEAD refuses a wrong tag, nonce or AD', t => {
  const [a, b, c] = hkdf(Buffer.alloc(32, 1), Buffer.from('ikm'), 3)
  t.is(new Set([a!.toString('hex'), b!.toString('hex'), c!.toString('hex')]).size, 3)
  const key = Buffer.alloc(32, 7)
  const ct = aeadEncrypt(key, 5n, Buffer.from('ad'), Buffer.from('frame'))
  t.is(aeadDecrypt(key, 5n, Buffer.from('ad'), ct)?.toString(), 'frame')
  t.is(aeadDecrypt(key, 6n, Buffer.from('ad'), ct), null)
  t.is(aeadDecrypt(key, 5n, Buffer.from('da'), ct), null)
  t.is(aeadDecrypt(key, 5n, Buffer.from('ad'), ct.subarray(0, 3)), null)
})

test('transport: sealed frames open on the other side; forged, replayed and altered packets are dropped and counted', t => {
  const { i, r } = handshake()
  const a = new TransportSession(0x11, i.keys.send, i.keys.receive, 0)
  const b = new TransportSession(0x22, r.keys.send, r.keys.receive, 0)
  const p = a.seal(Buffer.from('hello bob'))
  t.is(p[0], TYPE_DATA)
  t.is(receiverOf(p), 0x11)
  t.is(opened(b, p), 'hello bob')
  t.is(opened(b, p), null, 'a replay')
  t.is(b.rejectedReplay, 1)
  const forged = Buffer.from(a.seal(Buffer.from('x'))); forged[forged.length - 1] = forged[forged.length - 1]! ^ 1
  t.is(opened(b, forged), null)
  const header = Buffer.from(a.seal(Buffer.from('y'))); header.writeUInt32LE(0x99, 1)
  t.is(opened(b, header), null, 'the header is authenticated')
  t.is(b.rejectedAuth, 2)
  t.is(opened(a, b.seal(Buffer.from('hi alice'))), 'hi alice', 'and the other way')
  t.false(a.needsRekey(60_000))
  t.true(a.needsRekey(120_000))
  t.true(a.expired(180_000))
})

test('replay window: in order, out of order within the window, repeats, too old, far jumps, out of range', t => {
  const w = new ReplayWindow()
  t.true(w.accept(0))
  t.false(w.accept(0), 'repeat')
  t.true(w.accept(5))
  t.true(w.accept(3), 'late but in the window')
  t.false(w.accept(3))
  t.false(w.accept(5), 'a repeat of the top one')
  t.true(w.accept(6), 'the next one in the same word keeps the older bits')
  t.false(w.accept(5))
  t.true(w.accept(WINDOW + 100))
  t.false(w.accept(10), 'behind the window')
  t.true(w.accept(WINDOW + 100 - (WINDOW - 64)), 'well inside the window')
  t.true(w.accept(1_000_000), 'a far jump clears everything')
  t.false(w.accept(1_000_000))
  t.true(w.accept(999_999))
  for (const bad of [-1, 1.5, 2 ** 48, NaN]) t.false(w.accept(bad), String(bad))
})

/** The reference: node:crypto's ChaCha20-Poly1305 with the same nonce layout. */
const nodeSeal = (key: Buffer, counter: number, ad: Buffer, plain: Buffer): Buffer => {
  const nonce = Buffer.alloc(12)
  nonce.writeBigUInt64LE(BigInt(counter), 4)
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
  c.setAAD(ad, { plaintextLength: plain.length })
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()])
}

test('data AEAD (libsodium when it loads) gives the bytes node:crypto gives: in place, any counter, tag checked', async t => {
  const { AEAD_IMPLEMENTATION, openInto, sealInPlace } = await import('./aead.js')
  t.log(AEAD_IMPLEMENTATION)
  const key = Buffer.alloc(32, 7)
  const ad = Buffer.from('header-13-byt')
  for (const counter of [0, 1, 2 ** 32 + 5, 2 ** 47]) {
    const plain = Buffer.from(`frame at ${counter}`.repeat(20))
    const buf = Buffer.alloc(plain.length + 16 + 3)
    plain.copy(buf, 3)
    sealInPlace(key, counter, ad, buf, 3, plain.length)
    t.true(buf.subarray(3).equals(nodeSeal(key, counter, ad, plain)), `counter ${counter}`)
    const out = Buffer.alloc(plain.length)
    t.is(openInto(key, counter, ad, buf, 3, plain.length + 16, out), plain.length)
    t.true(out.equals(plain))
    buf[5]! ^= 1
    t.is(openInto(key, counter, ad, buf, 3, plain.length + 16, out), -1, 'altered')
  }
})
