/**
 * Local control of a running peer over an abstract Unix socket named after the interface
 * ("\0overlan-peer/ovl0"). Abstract sockets belong to the network namespace, so `peer
 * status` finds the peer of this host (or namespace), and leave no file behind.
 * The client writes one command line ("status" or "list"); the server answers with one
 * JSON document and closes.
 */
import { createConnection, createServer, type Server } from 'node:net'
import { OverlanError } from '../core/errors.js'

export const statusSocketPath = (iface: string): string => `\0overlan-peer/${iface}`

export type LocalCommand = 'status' | 'list' | 'test' | 'ping'
/** Each command's handler gets the words after it ("ping alice 4" -> ["alice", "4"]). */
export type LocalHandlers = Record<LocalCommand, (args: string[]) => unknown>

export const serveStatus = async (iface: string, handlers: LocalHandlers): Promise<Server> => {
  const server = createServer(c => {
    c.on('error', () => {})
    c.setTimeout(2000, () => c.destroy())
    let line = ''
    c.on('data', (d: Buffer) => {
      line += d.toString('utf8')
      if (!line.includes('\n')) { if (line.length > 160) c.destroy(); return }
      const [cmd = '', ...args] = line.split('\n')[0]!.trim().split(/\s+/)
      const handler = Object.prototype.hasOwnProperty.call(handlers, cmd) ? (handlers as Record<string, (args: string[]) => unknown>)[cmd] : undefined
      if (handler === undefined) { c.end(JSON.stringify({ error: `unknown command "${cmd.slice(0, 32)}"` }) + '\n'); return }
      c.setTimeout(60_000) // a test runs for seconds; the command is in, the client waits
      Promise.resolve(args).then(handler).then(
        (v) => { c.end(JSON.stringify(v) + '\n') },
        (e: unknown) => { c.end(JSON.stringify({ error: e instanceof OverlanError ? e.toString() : String(e) }) + '\n') }
      )
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => { reject(new OverlanError('TAP_OPEN_FAILED', `another peer already runs on ${iface} here: ${(e as Error).message.replaceAll('\0', '@')}`, { cause: e })) })
    server.listen(statusSocketPath(iface), () => { resolve() })
  })
  server.unref()
  return server
}

export const queryPeer = (iface: string, command: LocalCommand | `${LocalCommand} ${string}`, timeoutMs = 5000): Promise<unknown> => new Promise((resolve, reject) => {
  const c = createConnection(statusSocketPath(iface))
  const chunks: Buffer[] = []
  const timer = setTimeout(() => { c.destroy(); reject(new OverlanError('PEER_NOT_RUNNING', `peer on ${iface} did not answer within ${timeoutMs} ms`)) }, timeoutMs)
  c.on('connect', () => { c.write(`${command}\n`) })
  c.on('data', (d: Buffer) => chunks.push(d))
  c.on('error', (e) => {
    clearTimeout(timer)
    reject(new OverlanError('PEER_NOT_RUNNING', `no peer is running on ${iface} here (start one with \`peer join --room ROOM\`)`, { cause: e }))
  })
  c.on('end', () => {
    clearTimeout(timer)
    let v: unknown
    try { v = JSON.parse(Buffer.concat(chunks).toString('utf8')) } catch (e) { reject(new OverlanError('INTERNAL', `bad answer from peer on ${iface}`, { cause: e })); return }
    const err = (v as { error?: unknown }).error
    if (typeof err === 'string') { reject(new OverlanError('HUB_UNREACHABLE', err.replace(/^[A-Z_]+: /, ''))); return }
    resolve(v)
  })
})
