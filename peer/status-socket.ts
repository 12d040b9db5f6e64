/**
 * Local status of a running peer over an abstract Unix socket named after the interface
 * ("\0overlan-peer/ovl0"). Abstract sockets belong to the network namespace, so
 * `peer status` finds the peer of this host (or namespace), and leave no file behind.
 * The server writes one JSON document and closes; it accepts no input.
 */
import { createConnection, createServer, type Server } from 'node:net'
import { OverlanError } from '../core/errors.js'

export const statusSocketPath = (iface: string): string => `\0overlan-peer/${iface}`

export const serveStatus = async (iface: string, snapshot: () => unknown): Promise<Server> => {
  const server = createServer(c => {
    c.on('error', () => {})
    c.end(JSON.stringify(snapshot()) + '\n')
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => { reject(new OverlanError('TAP_OPEN_FAILED', `another peer already serves status for ${iface}: ${(e as Error).message}`, { cause: e })) })
    server.listen(statusSocketPath(iface), () => { resolve() })
  })
  server.unref()
  return server
}

export const fetchStatus = (iface: string, timeoutMs = 3000): Promise<unknown> => new Promise((resolve, reject) => {
  const c = createConnection(statusSocketPath(iface))
  const chunks: Buffer[] = []
  const timer = setTimeout(() => { c.destroy(); reject(new OverlanError('PEER_NOT_RUNNING', `peer on ${iface} did not answer within ${timeoutMs} ms`)) }, timeoutMs)
  c.on('data', (d: Buffer) => chunks.push(d))
  c.on('error', (e) => {
    clearTimeout(timer)
    reject(new OverlanError('PEER_NOT_RUNNING', `no peer is running on ${iface} here (start one with \`peer join --room ROOM\`)`, { cause: e }))
  })
  c.on('end', () => {
    clearTimeout(timer)
    try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))) } catch (e) { reject(new OverlanError('INTERNAL', `bad status from peer on ${iface}`, { cause: e })) }
  })
})
