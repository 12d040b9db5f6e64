/**
 * core/websocket against the `ws` package (an independent RFC 6455 implementation) and
 * against itself, over real TCP and TLS on loopback: both directions of the handshake,
 * messages of every length form, pings, closes, refusals, timeouts, protocol errors, and
 * both ways a server socket can be read (onread and the 'data' fallback).
 */
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { createServer as createHttp, type IncomingMessage, type Server } from 'node:http'
import { createServer as createHttps } from 'node:https'
import { connect as netConnect, createServer as netServer, type AddressInfo, type Socket } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import { connectWs } from '../../core/websocket/client.js'
import { PONG_BACKLOG_MAX, WsConnection, type WsHandlers } from '../../core/websocket/connection.js'
import { MAX_HEADER } from '../../core/websocket/frame.js'
import { upgradeResponse } from '../../core/websocket/handshake.js'
import { readServerSocket, useServerOnread } from '../../core/websocket/reader.js'
import { acceptUpgrade, refuseUpgrade } from '../../core/websocket/server.js'
import { createSelfSignedCert } from '../../core/self-signed-cert.js'
import { helloFor, opened, raw, startHub } from '../support/hub-fixture.js'
import { waitFor } from '../support/wait.js'

const PROTOCOL = 'overlan.1'
const MAX = 256 * 1024
const cert = createSelfSignedCert({ commonName: 'test', names: ['127.0.0.1'], validDays: 1, now: new Date() })

const listen = async (server: Server): Promise<number> => await new Promise(resolve => {
  server.listen(0, '127.0.0.1', () => { resolve((server.address() as AddressInfo).port) })
})

interface Events { binary: Buffer[], text: string[], pongs: number, pings: number, closed: Array<[number, string]> }
const recorder = (): Events & { h: WsHandlers } => {
  const e: Events = { binary: [], text: [], pongs: 0, pings: 0, closed: [] }
  return {
    ...e,
    get binary () { return e.binary },
    get text () { return e.text },
    get pongs () { return e.pongs },
    get pings () { return e.pings },
    get closed () { return e.closed },
    h: {
      binary: (b, o, l) => { e.binary.push(Buffer.from(b.subarray(o, o + l))) },
      text: (s) => { e.text.push(s) },
      pong: () => { e.pongs++ },
      ping: () => { e.pings++ },
      closed: (code, reason) => { e.closed.push([code, reason]) }
    }
  }
}

/** Opens our client at `url`; resolves with the connection, rejects on refusal or failure. */
const openClient = async (url: string, h: WsHandlers, timeoutMs = 5000): Promise<WsConnection> => await new Promise((resolve, reject) => {
  connectWs({ url, protocol: PROTOCOL, maxMessage: MAX, timeoutMs, tls: { rejectUnauthorized: false } }, {
    ...h,
    opened: resolve,
    refused: (status, _h, body) => { reject(new Error(`refused ${status}: ${body}`)) },
    failed: reject
  })
})

/** Our server on an HTTP(S) server: every accepted connection echoes what it gets. */
const ourEchoServer = async (tls: boolean): Promise<{ port: number, server: Server, readers: string[], conns: WsConnection[] }> => {
  const server = tls ? createHttps({ cert: cert.certPem, key: cert.keyPem }) : createHttp()
  const readers: string[] = []
  const conns: WsConnection[] = []
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (req.url === '/refuse') { refuseUpgrade(socket, '429 Too Many Requests', 'too many connections from this address\n'); return }
    let conn: WsConnection | null = null
    const a = acceptUpgrade(req, socket, head, PROTOCOL, MAX, {
      binary: (b, o, l) => { conn!.sendBinary(b, o, l) },
      text: (s) => { if (s === 'close-me') conn!.close(4011, 'kicked'); else conn!.sendText(s) },
      pong: () => {},
      closed: () => {}
    })
    if (a !== null) { conn = a.conn; readers.push(a.reader); conns.push(a.conn) }
  })
  return { port: await listen(server), server, readers, conns }
}

const sizes = [0, 1, 125, 126, 1400, 65535, 65536, 200_000]

for (const tls of [false, true]) {
  const scheme = tls ? 'wss' : 'ws'

  test.serial(`${scheme}: our client and the ws package's server exchange every length form, text, pings and a close code`, async t => {
    const server = tls ? createHttps({ cert: cert.certPem, key: cert.keyPem }) : createHttp()
    const wss = new WebSocketServer({ server, perMessageDeflate: false, handleProtocols: () => PROTOCOL })
    const serverGot: Buffer[] = []
    let serverSide: WebSocket | null = null
    wss.on('connection', (ws) => {
      serverSide = ws
      ws.on('message', (d: Buffer, binary) => { if (binary) { serverGot.push(d); ws.send(d) } else ws.send(d.toString()) })
    })
    const port = await listen(server)
    t.teardown(() => { wss.close(); server.close() })
    const r = recorder()
    const conn = await openClient(`${scheme}://127.0.0.1:${port}/`, r.h)
    const payloads = sizes.map(n => randomBytes(n))
    for (const p of payloads) conn.sendBinary(p, 0, p.length)
    conn.sendText('{"type":"hello","name":"ü"}')
    await waitFor('echoes', () => r.binary.length === sizes.length && r.text.length === 1)
    payloads.forEach((p, i) => { t.true(serverGot[i]!.equals(p), `ws got ${p.length} bytes intact (masked by us)`); t.true(r.binary[i]!.equals(p)) })
    t.is(r.text[0], '{"type":"hello","name":"ü"}')
    serverSide!.ping()
    await waitFor('our pong answered ws', () => r.pings === 1)
    conn.ping()
    await waitFor('ws answered our ping', () => r.pongs === 1)
    serverSide!.close(4010, 'banned')
    await waitFor('closed', () => r.closed.length === 1)
    t.deepEqual(r.closed[0], [4010, 'banned'])
  })

  test.serial(`${scheme}: the ws package's client and our server, read by onread and by 'data' events`, async t => {
    t.teardown(() => { useServerOnread(true) })
    for (const fallback of [false, true]) {
      useServerOnread(!fallback)
      const s = await ourEchoServer(tls)
      t.teardown(() => { s.server.close() })
      const ws = new WebSocket(`${scheme}://127.0.0.1:${s.port}/`, PROTOCOL, { rejectUnauthorized: false, perMessageDeflate: false })
      const got: Buffer[] = []
      const texts: string[] = []
      ws.on('message', (d: Buffer, binary) => { if (binary) got.push(d); else texts.push(d.toString()) })
      await new Promise(resolve => ws.once('open', resolve))
      t.is(ws.protocol, PROTOCOL)
      const payloads = sizes.map(n => randomBytes(n))
      for (const p of payloads) ws.send(p)
      ws.send('text')
      await waitFor('echoes', () => got.length === sizes.length && texts.length === 1)
      payloads.forEach((p, i) => { t.true(got[i]!.equals(p)) })
      t.deepEqual(s.readers, [fallback ? 'stream' : 'onread'])
      let pong = false
      ws.on('pong', () => { pong = true })
      ws.ping()
      await waitFor('our server answered the ping', () => pong)
      const closed = new Promise<[number, string]>(resolve => ws.once('close', (code, reason) => { resolve([code, reason.toString()]) }))
      ws.send('close-me')
      t.deepEqual(await closed, [4011, 'kicked'])
    }
  })
}

test.serial('our client and server: a burst of small messages, sends in place, a close handshake and terminate', async t => {
  const s = await ourEchoServer(true)
  t.teardown(() => { s.server.close() })
  const r = recorder()
  const conn = await openClient(`wss://127.0.0.1:${s.port}/`, r.h)
  for (let i = 0; i < 2000; i++) { const b = Buffer.from(`m${i}`); conn.sendBinary(b, 0, b.length) }
  await waitFor('2000 echoes in order', () => r.binary.length === 2000)
  t.true(r.binary.every((b, i) => b.toString() === `m${i}`))
  // In place: the payload behind MAX_HEADER bytes of room, no copy.
  const slab = Buffer.alloc(MAX_HEADER + 5)
  slab.write('inpla', MAX_HEADER)
  conn.sendFramed(slab, MAX_HEADER, 5)
  await waitFor('framed echo', () => r.binary.length === 2001)
  t.is(r.binary[2000]!.toString(), 'inpla')
  conn.close(1000, 'done')
  await waitFor('closed', () => r.closed.length === 1)
  t.deepEqual(r.closed[0], [1000, ''], 'the code the server answered with')
  const r2 = recorder()
  const c2 = await openClient(`wss://127.0.0.1:${s.port}/`, r2.h)
  c2.terminate()
  await waitFor('terminated', () => r2.closed.length === 1)
  t.is(r2.closed[0]![0], 1006)
})

test.serial('a refusal arrives with its status and reason; a silent server times out; a bad answer fails', async t => {
  const s = await ourEchoServer(false)
  const silent = createHttp()
  silent.on('upgrade', () => {}) // takes the request, never answers
  const bad = createHttp()
  bad.on('upgrade', (_req, socket: Socket) => { socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: nope\r\n\r\n') })
  const [silentPort, badPort] = [await listen(silent), await listen(bad)]
  t.teardown(() => { s.server.close(); silent.close(); silent.closeAllConnections(); bad.close(); bad.closeAllConnections() })
  const refusal = await new Promise<[number, string, string]>((resolve, reject) => {
    connectWs({ url: `ws://127.0.0.1:${s.port}/refuse`, protocol: PROTOCOL, maxMessage: MAX, timeoutMs: 5000 }, {
      ...recorder().h, opened: () => { reject(new Error('opened')) }, failed: reject,
      refused: (status, headers, body) => { resolve([status, headers.get('content-type') ?? '', body]) }
    })
  })
  t.deepEqual(refusal, [429, 'text/plain', 'too many connections from this address\n'])
  const started = Date.now()
  await t.throwsAsync(openClient(`ws://127.0.0.1:${silentPort}/`, recorder().h, 300), { message: /timed out after 300 ms/ })
  t.true(Date.now() - started < 3000)
  await t.throwsAsync(openClient(`ws://127.0.0.1:${badPort}/`, recorder().h), { message: /Accept/ })
})

test.serial('a client that breaks the protocol is failed with 1002 and the server reports it', async t => {
  const server = createHttp()
  const closed: Array<[number, string]> = []
  server.on('upgrade', (req, socket: Socket, head) => {
    acceptUpgrade(req, socket, head, PROTOCOL, MAX, { ...recorder().h, closed: (c, r) => { closed.push([c, r]) } })
  })
  const port = await listen(server)
  t.teardown(() => { server.close() })
  const raw = netConnect(port, '127.0.0.1')
  let answer = Buffer.alloc(0)
  raw.on('data', (d: Buffer) => { answer = Buffer.concat([answer, d]) })
  raw.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: overlan.1\r\n\r\n')
  raw.write(Buffer.from([0x82, 0x01, 0x41])) // unmasked: §5.1 forbids it from a client
  await waitFor('server closed', () => closed.length === 1)
  t.is(closed[0]![0], 1002)
  await waitFor('close frame', () => answer.includes(Buffer.from([0x88])))
  const close = answer.subarray(answer.indexOf('\r\n\r\n') + 4)
  t.is(close.readUInt16BE(2), 1002, 'the close frame carries 1002')
  raw.destroy()
})

test.serial('the hub reads its peers through onread, and a peer of the ws package joins it as before', async t => {
  const f = await startHub(t)
  const c = raw(f)
  await opened(c)
  c.ws.send(helloFor('wspkg'))
  await waitFor('welcome', () => c.messages.some(m => m.includes('"welcome"')))
  t.is(f.hub.status().wsReader, 'onread')
  c.ws.close()
})

test.serial('frames right behind the 101 are not delivered once opened() terminated (a failed pin check)', async t => {
  const server = createHttp()
  server.on('upgrade', (req, socket: Socket) => {
    const key = String(req.headers['sec-websocket-key'])
    const text = Buffer.from('{"type":"redirect","url":"wss://evil.example/"}')
    // The answer and a text frame in one write: they arrive in one read.
    socket.write(Buffer.concat([
      Buffer.from(upgradeResponse(key, PROTOCOL)),
      Buffer.from([0x81, text.length]), text
    ]))
  })
  const port = await listen(server)
  t.teardown(() => { server.close(); server.closeAllConnections() })
  const r = recorder()
  let terminated = false
  connectWs({ url: `ws://127.0.0.1:${port}/`, protocol: PROTOCOL, maxMessage: MAX, timeoutMs: 5000 }, {
    ...r.h, opened: (c) => { c.terminate(); terminated = true }, failed: () => {}, refused: () => {}
  })
  await waitFor('closed', () => r.closed.length === 1)
  t.true(terminated)
  t.deepEqual(r.text, [], 'nothing after terminate() reaches the handlers')
})

test.serial('a first read longer than MAX_HEAD_BYTES (the 101 and a big message behind it) loses no byte of the message', async t => {
  const server = createHttp()
  const big = Buffer.alloc(30_000)
  for (let i = 0; i < big.length; i++) big[i] = i % 251
  server.on('upgrade', (req, socket: Socket) => {
    const key = String(req.headers['sec-websocket-key'])
    const frameHead = Buffer.from([0x82, 126, 0, 0]); frameHead.writeUInt16BE(big.length, 2)
    socket.write(Buffer.concat([
      Buffer.from(upgradeResponse(key, PROTOCOL)),
      frameHead, big
    ]))
  })
  const port = await listen(server)
  t.teardown(() => { server.close(); server.closeAllConnections() })
  const r = recorder()
  let conn: WsConnection | null = null
  connectWs({ url: `ws://127.0.0.1:${port}/`, protocol: PROTOCOL, maxMessage: 65536, timeoutMs: 5000 }, {
    ...r.h, opened: (c) => { conn = c }, failed: (e) => { t.fail(e.message) }, refused: () => {}
  })
  await waitFor('the message', () => r.binary.length === 1 || r.closed.length > 0)
  t.deepEqual(r.closed, [])
  t.true(r.binary[0]!.equals(big))
  conn!.terminate()
})

test.serial('a ping flood from a far end that never reads cannot grow the send queue past PONG_BACKLOG_MAX', async t => {
  const r = recorder()
  let conn: WsConnection | null = null
  const server = netServer(socket => {
    conn = new WsConnection(socket, false, 65536, r.h)
    readServerSocket(socket, conn)
  })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(() => { conn?.terminate(); server.close() })
  const flooder = netConnect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1' })
  flooder.pause() // reads nothing: the pongs pile up in the kernel, then in the server's queue
  t.teardown(() => { flooder.destroy() })
  await new Promise<void>(resolve => { flooder.once('connect', resolve) })
  // 200 000 masked pings of 125 bytes (26 MB): far more pongs than the kernel's buffers hold.
  const one = Buffer.alloc(2 + 4 + 125)
  one[0] = 0x89; one[1] = 0x80 | 125
  const batch = Buffer.concat(new Array(1000).fill(one))
  const PINGS = 200_000
  for (let i = 0; i < PINGS / 1000; i++) {
    if (!flooder.write(batch)) await new Promise<void>(resolve => { flooder.once('drain', resolve) })
  }
  await waitFor('every ping read', () => r.pings === PINGS, 30_000)
  const queued = conn!.bufferedAmount
  t.log(`${r.pings} pings read; ${queued} bytes queued to send`)
  t.true(queued > 0, 'the far end really read nothing')
  t.true(queued <= PONG_BACKLOG_MAX + 127, `queued ${queued} bytes`)
})
