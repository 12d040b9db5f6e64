/**
 * The hub's front door: the HTTP(S) server (TLS material, timeouts, the doors' admission of
 * every TCP connection); its upgrades go to hub.ts, which accepts them (core/websocket/server.ts).
 */
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { OverlanError, errnoCode } from '../core/errors.js'
import { limitTcpQueues } from '../core/tcp-queues.js'
import type { HubSettings } from './config.js'
import { loadTlsMaterial, type TlsMaterial } from './self-signed-cert.js'

export interface Listener { server: Server, tls: TlsMaterial | null }

export interface ListenerHooks {
  /** Every accepted TCP connection: false destroys it at once. */
  admit: (socket: Socket) => boolean
  /** An HTTP upgrade, its TCP queues already limited. */
  upgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void
}

/** HTTP, or HTTPS (TLS 1.2 or newer) with `tls`, whose handshake, headers and request each have a deadline. */
export const httpServer = (tls: TlsMaterial | null, t: { handshakeMs: number, headersMs: number, requestMs: number }, handle?: RequestListener): Server => {
  const server = tls !== null
    ? createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', handshakeTimeout: t.handshakeMs }, handle)
    : createHttpServer(handle)
  server.headersTimeout = t.headersMs
  server.requestTimeout = t.requestMs
  return server
}

export const createListener = (s: HubSettings, handle: RequestListener, hooks: ListenerHooks): Listener => {
  const tls = s.tls !== null ? loadTlsMaterial({ ...s.tls, stateDir: s.stateDir, names: ['localhost', '127.0.0.1', '::1'], now: new Date() }) : null
  const server = httpServer(tls, { handshakeMs: s.doors.tlsHandshakeTimeoutMs, headersMs: 10_000, requestMs: 15_000 }, handle)
  if (tls !== null) server.on('tlsClientError', (_e, socket: Duplex) => { socket.destroy() })
  server.on('connection', (socket: Socket) => { if (!hooks.admit(socket)) socket.destroy() })
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    limitTcpQueues(socket)
    hooks.upgrade(req, socket as Socket, head)
  })
  server.on('clientError', (_err, socket: Duplex) => { socket.destroy() })
  return { server, tls }
}

/** Listens; the bound port. LISTEN_FAILED with the reason (EACCES: a port below 1024 without the capability). */
export const listenOn = async (server: Server, host: string, port: number): Promise<number> => await new Promise<number>((resolve, reject) => {
  server.once('error', (e) => {
    reject(new OverlanError('LISTEN_FAILED', `cannot listen on ${host}:${port}: ${errnoCode(e) ?? e.message}${errnoCode(e) === 'EACCES' ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : ''}`, { cause: e }))
  })
  server.listen(port, host, () => {
    const a = server.address()
    resolve(typeof a === 'object' && a !== null ? a.port : port)
  })
})
