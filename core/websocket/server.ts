/**
 * Accepting a WebSocket on an HTTP server's 'upgrade' (RFC 6455 §4.2): the request checked,
 * the 101 written, the socket read through core/websocket/reader.ts from then on. The owner
 * has decided before whether this client may connect at all (its doors, its subprotocol).
 */
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { WsConnection, type WsHandlers } from './connection.js'
import { checkUpgradeRequest, upgradeResponse } from './handshake.js'
import { readServerSocket, type ReaderKind } from './reader.js'

export interface Accepted { conn: WsConnection, reader: ReaderKind }

/** Refuses an upgrade with an HTTP status and a one-line reason, then closes. */
export const refuseUpgrade = (socket: Socket, status: string, body: string): void => {
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}

/**
 * Answers 101 choosing `protocol` and returns the open connection; a request that is no valid
 * upgrade gets 400 with the reason, and null.
 */
export const acceptUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer, protocol: string, maxMessage: number, h: WsHandlers): Accepted | null => {
  const wrong = checkUpgradeRequest(req.method, req.headers)
  if (wrong !== null) { refuseUpgrade(socket, '400 Bad Request', `${wrong}\n`); return null }
  if (!socket.writable || socket.destroyed) { socket.destroy(); return null }
  socket.setTimeout(0)
  socket.write(upgradeResponse(req.headers['sec-websocket-key'] as string, protocol))
  const conn = new WsConnection(socket, false, maxMessage, h)
  const reader = readServerSocket(socket, conn)
  // Bytes the client sent behind its request (the HTTP parser read them): the first frames,
  // handed over once the caller has the connection (before any later read).
  if (head.length > 0) { const early = Buffer.from(head); process.nextTick(() => { conn.receive(early, 0, early.length) }) }
  return { conn, reader }
}
