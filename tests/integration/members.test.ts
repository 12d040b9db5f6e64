/**
 * Friends, not a shared password: keys proven at join, invites, kick, ban, the control
 * socket and how the peer trusts the hub's certificate — over real wss on loopback.
 */
import test from 'ava'
import { execFileSync, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { OverlanError } from '../../core/errors.js'
import { decodeInvite } from '../../core/invite.js'
import { generateKeyPair } from '../../core/keys.js'
import { callControl } from '../../hub/control-socket.js'
import { TOKEN, helloFor, makePeer, marked, opened, raw, received, startHub, startPeer, type Fixture } from '../support/hub-fixture.js'
import { waitFor } from '../support/wait.js'
import { skipWithReason } from '../support/skip.js'

const refusal = async (p: Promise<unknown>): Promise<OverlanError | undefined> => {
  try { await p } catch (e) { return e as OverlanError }
  return undefined
}
/** A new invite's "<id>.<secret>", checking that the invite string carries the hub's pin. */
const invite = async (t: { is: (a: unknown, b: unknown) => void }, f: Fixture, room: string, o: { uses?: number, expiresInMs?: number, name?: string } = {}): Promise<string> => {
  const r = await f.hub.admin!.invite(room, { name: o.name ?? null, uses: o.uses ?? 1, expiresInMs: o.expiresInMs ?? 3_600_000 }, 'test')
  const i = decodeInvite(r.invite)
  t.is(i.pin, f.hub.pin)
  return `${i.id}.${i.secret}`
}

test('a key is enrolled by the token; later joins need no token; the identity string alone is refused', async t => {
  const f = await startHub(t)
  const key = generateKeyPair()
  const identity = 'a1'.repeat(16)
  const first = await startPeer(t, f, 'alice', 'friday', {}, { identity, key })
  t.is(f.hub.admin!.peers('friday')[0]!.key?.startsWith('sha256:'), true)
  await first.peer.stop()
  // Someone who learnt alice's identity string, with the right token but no key:
  const thief = raw(f); await opened(thief)
  thief.ws.send(JSON.stringify({ type: 'hello', version: 1, room: 'friday', token: TOKEN, identity, name: 'alice' }))
  t.is(await thief.closed, 4001)
  t.regex(thief.messages[0]!, /enrolled in room friday with a key/)
  // … or with another key:
  const other = makePeer(f, 'alice', 'friday', {}, { identity, key: generateKeyPair() })
  t.is((await refusal(other.peer.start()))?.code, 'AUTH_FAILED')
  // alice herself, without any token:
  const again = await startPeer(t, f, 'alice', 'friday', { token: '' }, { identity, key })
  t.is(again.ip, first.ip, 'same lease')
})

test('invites: one use joins and enrols, the second use and an expired invite are INVITE_INVALID', async t => {
  const f = await startHub(t, { autoCreateRooms: false, rooms: { friday: { token: 'friday-secret-token' } } })
  const once = await invite(t, f, 'friday', { name: 'bob' })
  const bob = await startPeer(t, f, 'bobs-laptop', 'friday', { token: '', invite: once }, { key: generateKeyPair() })
  t.is(bob.peer.status().name, 'bob', 'the invite named the member')
  const eve = makePeer(f, 'eve', 'friday', { token: '', invite: once }, { key: generateKeyPair() })
  t.is((await refusal(eve.peer.start()))?.code, 'INVITE_INVALID')
  const short = await invite(t, f, 'friday', { expiresInMs: 1 })
  await new Promise(resolve => setTimeout(resolve, 5)) // the invite's own expiry, not a sync point
  const late = makePeer(f, 'late', 'friday', { token: '', invite: short }, { key: generateKeyPair() })
  t.is((await refusal(late.peer.start()))?.code, 'INVITE_INVALID')
  t.is(f.hub.admin!.invites('friday').length, 0, 'used and expired invites are gone')
})

test('ban: the session ends within 1 s, the key is refused with BANNED, the lease freed; unban lets it in again', async t => {
  const f = await startHub(t)
  const key = generateKeyPair()
  const alice = await startPeer(t, f, 'alice', 'friday')
  const bob = await startPeer(t, f, 'bob', 'friday', {}, { key })
  const start = Date.now()
  f.hub.admin!.ban('friday', 'bob', 'test')
  const e = await refusal(bob.peer.done)
  t.is(e?.code, 'BANNED')
  t.true(Date.now() - start < 1000, `ended after ${Date.now() - start} ms`)
  t.false(f.hub.admin!.peers('friday').some(p => p.name === 'bob'), 'lease freed')
  const rejoin = makePeer(f, 'bob', 'friday', {}, { key })
  t.is((await refusal(rejoin.peer.start()))?.code, 'BANNED')
  f.hub.admin!.unban('friday', 'bob', 'test')
  const back = await startPeer(t, f, 'bob', 'friday', {}, { key })
  alice.tap.inject(marked(back.mac, alice.mac, 7))
  await waitFor('unicast to bob again', () => received(back, 7) === 1)
})

test('kick: the session ends with KICKED and the peer may join again', async t => {
  const f = await startHub(t)
  const key = generateKeyPair()
  const bob = await startPeer(t, f, 'bob', 'friday', {}, { key })
  f.hub.admin!.kick('friday', 'bob', 'test')
  t.is((await refusal(bob.peer.done))?.code, 'KICKED')
  const again = await startPeer(t, f, 'bob', 'friday', { token: '' }, { key })
  t.is(again.ip, bob.ip)
})

test('the control socket: hub invite / peers / kick over <state>/control.sock', async t => {
  const f = await startHub(t)
  await startPeer(t, f, 'alice', 'friday', {}, { key: generateKeyPair() })
  const dir = f.hub.settings.stateDir
  const r = await callControl(dir, { cmd: 'invite', room: 'friday', uses: '2', expires: '1h' }) as { invite: string }
  t.regex(r.invite, /^overlan:\/\/127\.0\.0\.1:\d+\/friday\?pin=sha256%3A[0-9a-f]{64}&invite=/)
  t.is((await callControl(dir, { cmd: 'invites', room: 'friday' }) as unknown[]).length, 1)
  const peers = await callControl(dir, { cmd: 'peers', room: 'friday' }) as Array<{ name: string, online: boolean }>
  t.like(peers[0], { name: 'alice', online: true })
  const e = await t.throwsAsync(callControl(dir, { cmd: 'kick', room: 'friday', name: 'nobody' }), { instanceOf: OverlanError })
  t.is(e?.code, 'USAGE')
  await t.throwsAsync(callControl(join(dir, 'nowhere'), { cmd: 'peers', room: 'friday' }), { message: /no hub runs/ })
})

test('--pin: the hub\'s key pin is accepted whatever the name; another pin is refused as a pin mismatch', async t => {
  const f = await startHub(t)
  const ok = await startPeer(t, f, 'alice', 'friday', { caFile: undefined, pin: f.hub.pin! })
  t.is(ok.peer.state, 'connected')
  const wrong = makePeer(f, 'eve', 'friday', { caFile: undefined, pin: `sha256:${'0'.repeat(64)}` })
  const e = await refusal(wrong.peer.start())
  t.is(e?.code, 'TLS_FAILED')
  t.regex(e?.message ?? '', /pin mismatch/)
})

const openssl = spawnSync('sh', ['-c', 'command -v openssl']).status === 0
const withOpenssl = openssl ? test : test.skip
if (!openssl) skipWithReason('CA-signed hub test', 'openssl is not installed (apt-get install openssl)')

withOpenssl('--ca with a private CA root verifies by name; a name mismatch says so', async t => {
  const f0 = await startHub(t) // for a temp dir only
  const dir = f0.dir
  const o = (...a: string[]): void => { execFileSync('openssl', a, { stdio: 'ignore' }) }
  o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem'), '-days', '2', '-subj', '/CN=test-ca')
  const leaf = (name: string, san: string): void => {
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`)
    o('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.csr`), '-subj', `/CN=${name}`)
    o('x509', '-req', '-in', join(dir, `${name}.csr`), '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', join(dir, `${name}.pem`), '-days', '2', '-extfile', join(dir, `${name}.ext`))
  }
  leaf('good', 'IP:127.0.0.1')
  leaf('other', 'DNS:other.example')
  const good = await startHub(t, { tlsCert: join(dir, 'good.pem'), tlsKey: join(dir, 'good.key') })
  const p = await startPeer(t, good, 'alice', 'friday', { caFile: join(dir, 'ca.pem') })
  t.is(p.peer.state, 'connected')
  const bad = await startHub(t, { tlsCert: join(dir, 'other.pem'), tlsKey: join(dir, 'other.key') })
  const e = await refusal(makePeer(bad, 'eve', 'friday', { caFile: join(dir, 'ca.pem') }).peer.start())
  t.is(e?.code, 'TLS_FAILED')
  t.regex(e?.message ?? '', /name mismatch/)
})

test('protocol: a proof without a challenge, or that does not verify, is refused', async t => {
  const f = await startHub(t)
  const c = raw(f); await opened(c)
  c.ws.send('{"type":"proof","proof":"x"}')
  t.is(await c.closed, 4000)
  const d = raw(f); await opened(d)
  d.ws.send(helloFor('mallory', { key: generateKeyPair().publicKey }))
  await waitFor('challenge', () => d.messages.some(m => m.includes('"challenge"')))
  d.ws.send(JSON.stringify({ type: 'proof', proof: 'A'.repeat(43) }))
  t.is(await d.closed, 4001)
  t.regex(d.messages.at(-1)!, /did not verify/)
})

test('token rotation: the old token works until its grace ends; enrolled peers need no token at all; invite-only rooms refuse tokens', async t => {
  const soon = new Date(Date.now() + 3_600_000).toISOString()
  const past = new Date(Date.now() - 1000).toISOString()
  const f = await startHub(t, {
    autoCreateRooms: false,
    rooms: {
      friday: { token: 'new-token-123', oldTokens: [{ token: TOKEN, until: soon }, { token: 'ancient-token', until: past }] },
      saturday: { join: 'invite' }
    }
  })
  t.is((await startPeer(t, f, 'alice', 'friday', { token: TOKEN })).peer.state, 'connected', 'the old token during its grace')
  t.is((await refusal(makePeer(f, 'bob', 'friday', { token: 'ancient-token' }).peer.start()))?.code, 'AUTH_FAILED', 'an expired old token')
  const key = generateKeyPair()
  await startPeer(t, f, 'carol', 'friday', { token: 'new-token-123' }, { key })
  t.is((await startPeer(t, f, 'carol', 'friday', { token: 'whatever' }, { key })).peer.state, 'connected', 'an enrolled key needs no (current) token')
  const e = await refusal(makePeer(f, 'dave', 'saturday', { token: TOKEN }, { key: generateKeyPair() }).peer.start())
  t.is(e?.code, 'AUTH_FAILED')
  t.is(e?.message, 'wrong join token, or no room saturday on this hub', 'without auto-creation the same answer as for a room that does not exist')
  const inv = await invite(t, f, 'saturday')
  t.is((await startPeer(t, f, 'dave', 'saturday', { token: '', invite: inv }, { key: generateKeyPair() })).peer.state, 'connected')
})

test('the same member operations over the HTTP admin API (Bearer adminToken)', async t => {
  const f = await startHub(t, { adminToken: 'admin-token-123' })
  const key = generateKeyPair()
  const bob = await startPeer(t, f, 'bob', 'friday', {}, { key })
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => {
    const { request } = await import('node:https')
    return await new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: f.port, path, method, ca: f.hub.tls!.cert, headers: { authorization: 'Bearer admin-token-123' } }, res => {
        let s = ''
        res.on('data', (d: Buffer) => { s += d.toString() })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: JSON.parse(s) }) })
      })
      req.on('error', reject)
      req.end(body === undefined ? undefined : JSON.stringify(body))
    })
  }
  const peers = await call('GET', '/admin/rooms/friday/peers')
  t.is(peers.status, 200)
  t.like(peers.body.result[0], { name: 'bob', online: true })
  const inv = await call('POST', '/admin/rooms/friday/invites', { uses: 3, expires: '1h' })
  t.regex(inv.body.result.invite, /^overlan:\/\//)
  t.is((await call('GET', '/admin/rooms/friday/invites')).body.result.length, 1)
  t.is((await call('DELETE', `/admin/invites/${inv.body.result.id as string}`)).status, 200)
  t.is((await call('POST', '/admin/rooms/friday/kick', { name: 'nobody' })).status, 400)
  t.is((await call('POST', '/admin/rooms/friday/ban', { name: 'bob' })).status, 200)
  t.is((await refusal(bob.peer.done))?.code, 'BANNED')
})

test('an invite is not spent on a join the full room refuses', async t => {
  const f = await startHub(t, { autoCreateRooms: false, rooms: { friday: { token: 'friday-secret-token', maxPeers: 1 } } })
  await startPeer(t, f, 'alice', 'friday', { token: 'friday-secret-token' })
  const inv = await invite(t, f, 'friday')
  t.is((await refusal(makePeer(f, 'bob', 'friday', { token: '', invite: inv }, { key: generateKeyPair() }).peer.start()))?.code, 'ROOM_FULL')
  t.is(f.hub.admin!.invites('friday')[0]?.usesLeft, 1, 'the use is still there')
})
