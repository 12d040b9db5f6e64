/**
 * A WebSocket connection to ourselves over loopback, both ends in this process: what a
 * keep-warm loop (core/websocket/warm-loop.ts) sends its scratch messages round, through the
 * same TCP, TLS and frame code a relayed batch takes. No HTTP handshake: nothing but our own
 * client ever speaks to it. The listener takes the one connection whose far end is our client
 * (any other is destroyed) and stops listening at once.
 */
import { createServer as createNetServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import { WsConnection, type WsHandlers } from './connection.js'
import { onreadOption, readServerSocket, setSink } from './reader.js'

/** Our own client connects at once; anything slower is no client of ours. */
const OPEN_TIMEOUT_MS = 5000

export interface LoopbackPair { client: WsConnection, server: WsConnection, close: () => void }

export interface LoopbackOptions {
  /** TLS with this pair, or plain TCP. */
  tls: { cert: string, key: string } | null
  host: string
  maxMessage: number
  client: WsHandlers
  /** The server end's handlers; `conn` is the server end itself (an echo answers on it). */
  server: (conn: () => WsConnection | null) => WsHandlers
}

/** Opens the pair; rejects (listen failure, timeout, `cancel` called) with the reason. */
export const openLoopback = async (o: LoopbackOptions, cancel: { onCancel?: () => void } = {}): Promise<LoopbackPair> => await new Promise((resolve, reject) => {
  let serverEnd: WsConnection | null = null
  let clientEnd: WsConnection | null = null
  let clientSocket: Socket | null = null
  let clientUp = false
  let settled = false
  const listener: Server = o.tls !== null
    ? createTlsServer({ cert: o.tls.cert, key: o.tls.key, minVersion: 'TLSv1.2' })
    : createNetServer()
  const close = (): void => {
    listener.close()
    clientEnd?.terminate()
    serverEnd?.terminate()
    clientSocket?.destroy()
  }
  const done = (e: Error | null): void => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    if (e !== null) { close(); reject(e); return }
    resolve({ client: clientEnd!, server: serverEnd!, close })
  }
  const timer = setTimeout(() => { done(new Error(`the loopback WebSocket did not open within ${OPEN_TIMEOUT_MS} ms`)) }, OPEN_TIMEOUT_MS)
  timer.unref()
  cancel.onCancel = () => { done(new Error('closed while opening')) }

  const accept = (socket: Socket): void => {
    // Only our client: its local port is the far end's port of this connection.
    if (serverEnd !== null || settled || clientSocket === null || socket.remotePort !== clientSocket.localPort) { socket.destroy(); return }
    listener.close()
    serverEnd = new WsConnection(socket, false, o.maxMessage, o.server(() => serverEnd))
    readServerSocket(socket, serverEnd)
    if (clientUp) done(null)
  }
  listener.on(o.tls !== null ? 'secureConnection' : 'connection', accept)
  listener.on('tlsClientError', (_e: Error, socket: Socket) => { socket.destroy() })
  listener.once('error', (e) => { done(e) })
  listener.listen(0, o.host, () => {
    if (settled) { listener.close(); return }
    listener.unref()
    const port = (listener.address() as AddressInfo).port
    const onread = onreadOption()
    const socket: Socket = o.tls !== null
      ? tlsConnect({ host: o.host, port, rejectUnauthorized: false, onread } as ConnectionOptions)
      : netConnect({ host: o.host, port, onread } as Parameters<typeof netConnect>[0] & object)
    clientSocket = socket
    clientEnd = new WsConnection(socket, true, o.maxMessage, o.client)
    setSink(socket, clientEnd)
    socket.once('error', (e) => { done(e) })
    socket.once(o.tls !== null ? 'secureConnect' : 'connect', () => {
      clientUp = true
      if (serverEnd !== null) done(null)
    })
  })
})
