import test from 'ava'
import { acceptFor, checkUpgradeRequest, checkUpgradeResponse, MAX_HEAD_BYTES, parseResponseHead, upgradeRequest, upgradeResponse } from './handshake.js'

test('the accept key is the one RFC 6455 §1.3 shows', t => {
  t.is(acceptFor('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=')
})

test('a response head parses once its blank line is in; repeated headers are joined', t => {
  const text = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-A: 1\r\nx-a: 2\r\n\r\n\x81\x00'
  const b = Buffer.from(text, 'latin1')
  t.is(parseResponseHead(b, 40), null)
  const h = parseResponseHead(b, b.length)!
  t.is(h.status, 101)
  t.is(h.headers.get('x-a'), '1, 2')
  t.is(h.length, b.length - 2, 'the frame behind the head is not part of it')
})

test('a malformed or endless head is an error, not a wait', t => {
  t.throws(() => parseResponseHead(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n'), 19), { message: /not an HTTP response/ })
  t.throws(() => parseResponseHead(Buffer.from('HTTP/1.1 200 OK\r\nno colon\r\n\r\n'), 29), { message: /malformed/ })
  const endless = Buffer.alloc(MAX_HEAD_BYTES + 10, 'a')
  t.throws(() => parseResponseHead(endless, endless.length), { message: /over/ })
})

test('the server answer is checked: accept key, subprotocol, no extension', t => {
  const key = 'dGhlIHNhbXBsZSBub25jZQ=='
  const ok = parseResponseHead(Buffer.from(upgradeResponse(key, 'overlan.1')), 1000)!
  t.is(checkUpgradeResponse(ok, key, 'overlan.1'), null)
  t.regex(checkUpgradeResponse(ok, 'AAAAAAAAAAAAAAAAAAAAAA==', 'overlan.1')!, /Accept/)
  t.regex(checkUpgradeResponse(ok, key, 'overlan.2')!, /subprotocol/)
  ok.headers.set('sec-websocket-extensions', 'permessage-deflate')
  t.regex(checkUpgradeResponse(ok, key, 'overlan.1')!, /extension/)
})

test('upgrade requests are checked as §4.2.1 asks', t => {
  const good = { upgrade: 'websocket', connection: 'keep-alive, Upgrade', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' }
  t.is(checkUpgradeRequest('GET', good), null)
  t.regex(checkUpgradeRequest('POST', good)!, /GET/)
  t.regex(checkUpgradeRequest('GET', { ...good, 'sec-websocket-version': '8' })!, /Version/)
  t.regex(checkUpgradeRequest('GET', { ...good, 'sec-websocket-key': 'short' })!, /Key/)
  t.regex(checkUpgradeRequest('GET', { ...good, connection: 'close' })!, /Connection/)
  t.true(upgradeRequest({ host: 'h:1', path: '/x', key: 'k', protocol: 'p' }).endsWith('\r\n\r\n'))
})
