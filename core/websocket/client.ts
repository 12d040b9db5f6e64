/**
 * Opening a WebSocket as a client (RFC 6455 §4.1) over TCP or TLS, read through `onread`
 * (core/websocket/reader.ts) from the first byte: the HTTP answer is parsed here, then the
 * same callback feeds the connection's frames.
 *
 *   connecting ─TCP/TLS up─► request sent ─101, checked─► open (WsConnection)
 *        │                        └─ another status ─► refused (status, headers, a bit of body)
 *        └─ error, timeout, bad answer ─► failed
 *
 * Exactly one of opened / refused / failed is called; then the connection's own handlers.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import { OPEN as CONN_OPEN, WsConnection, type WsHandlers } from './connection.js'
import { checkUpgradeResponse, MAX_HEAD_BYTES, newKey, parseResponseHead, upgradeRequest, type HttpHead } from './handshake.js'
import { onreadOption, setSink } from './reader.js'

/** Body bytes of a refusal kept for the message (our hub explains itself in a line). */
const REFUSAL_BODY_BYTES = 512
/** A refusal's body is waited for this long after its head. */
const REFUSAL_BODY_MS = 500

export interface WsClientOptions {
  url: string
  protocol: string
  maxMessage: number
  /** Whole opening handshake: TCP, TLS and the upgrade. */
  timeoutMs: number
  /** For wss: CA, verification, anything tls.connect takes. */
  tls?: ConnectionOptions
}

export interface WsClientEvents extends WsHandlers {
  opened: (conn: WsConnection) => void
  /** The server answered with something other than 101 (`body`: its first bytes, as text). */
  refused: (status: number, headers: Map<string, string>, body: string) => void
  /** Before open: the error (a TLS one carries Node's code). */
  failed: (e: Error) => void
}

export interface WsClientAttempt {
  /** The socket, for checks before open (the TLS certificate). */
  readonly socket: Socket
  /** Ends the attempt: before open nothing more is called but failed(), after it the connection closes. */
  abort: (why: string) => void
}

const CONNECTING = 0
const ANSWERED = 1
const OPEN = 2
const DONE = 3

export const connectWs = (o: WsClientOptions, ev: WsClientEvents): WsClientAttempt => {
  const url = new URL(o.url)
  const secure = url.protocol === 'wss:'
  if (!secure && url.protocol !== 'ws:') throw new Error(`not a WebSocket URL: ${o.url}`)
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  const port = Number(url.port !== '' ? url.port : secure ? 443 : 80)
  const key = newKey()
  let state = CONNECTING
  let head = Buffer.alloc(0)
  let answer: HttpHead | null = null
  let body = ''
  let conn: WsConnection | null = null

  const fail = (e: Error): void => {
    if (state >= OPEN) return
    state = DONE
    clearTimeout(timer)
    socket.destroy()
    ev.failed(e)
  }
  const refuse = (): void => {
    if (state !== ANSWERED) return
    state = DONE
    clearTimeout(timer)
    socket.destroy()
    ev.refused(answer!.status, answer!.headers, body)
  }

  const onBytes = (buf: Buffer, off: number, len: number): void => {
    if (state === ANSWERED) {
      body += buf.toString('utf8', off, off + Math.min(len, REFUSAL_BODY_BYTES - body.length))
      if (body.length >= REFUSAL_BODY_BYTES || body.length >= Number(answer!.headers.get('content-length') ?? Infinity)) refuse()
      return
    }
    if (state !== CONNECTING) return
    // The head is short: gathered in a buffer of its own (the read buffer is shared), at most
    // MAX_HEAD_BYTES of it; what follows the head in this read is taken from the read itself.
    const before = head.length
    head = Buffer.concat([head, buf.subarray(off, off + Math.min(len, MAX_HEAD_BYTES - before))])
    let h: HttpHead | null
    try { h = parseResponseHead(head, head.length) } catch (e) { fail(new Error(`bad answer to the WebSocket upgrade: ${(e as Error).message}`)); return }
    if (h === null) return
    // Copied once: the read buffer is reused by the next read.
    const rest = Buffer.from(buf.subarray(off + h.length - before, off + len))
    if (h.status !== 101) {
      answer = h
      state = ANSWERED
      setTimeout(refuse, REFUSAL_BODY_MS).unref()
      if (rest.length > 0) onBytes(rest, 0, rest.length)
      else if (h.headers.get('content-length') === '0') refuse()
      return
    }
    const wrong = checkUpgradeResponse(h, key, o.protocol)
    if (wrong !== null) { fail(new Error(wrong)); return }
    state = OPEN
    clearTimeout(timer)
    conn = new WsConnection(socket, true, o.maxMessage, ev)
    setSink(socket, conn) // from now on reads go straight to the connection
    ev.opened(conn)
    // Frames the server sent right behind its answer.
    if (rest.length > 0 && conn.readyState === CONN_OPEN) conn.receive(rest, 0, rest.length)
  }

  const onread = onreadOption()
  const socket: Socket = secure
    ? tlsConnect({ ...o.tls, host, port, servername: isIP(host) === 0 ? host : undefined, ALPNProtocols: ['http/1.1'], onread } as ConnectionOptions)
    : netConnect({ host, port, onread } as Parameters<typeof netConnect>[0] & object)
  setSink(socket, { receive: onBytes })
  const timer = setTimeout(() => { fail(new Error(`WebSocket handshake timed out after ${o.timeoutMs} ms`)) }, o.timeoutMs)
  timer.unref()

  socket.once(secure ? 'secureConnect' : 'connect', () => {
    if (state !== CONNECTING) return
    socket.setNoDelay(true)
    const hostHeader = url.port !== '' ? `${url.hostname}:${url.port}` : url.hostname
    socket.write(upgradeRequest({ host: hostHeader, path: `${url.pathname}${url.search}`, key, protocol: o.protocol }))
  })
  // Before open these are the attempt's; the connection adds its own.
  socket.on('error', (e) => { fail(e) })
  socket.on('close', () => {
    if (state === ANSWERED) refuse()
    else fail(new Error('the connection closed during the WebSocket handshake'))
  })

  return {
    socket,
    abort: (why) => {
      if (state >= OPEN) { conn?.terminate(); return }
      fail(new Error(why))
    }
  }
}
