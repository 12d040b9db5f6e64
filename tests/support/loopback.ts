/** Loopback helpers for tests and benchmarks: a free TCP port, and a hub's JSON over https. */
import { request } from 'node:https'
import { createServer } from 'node:net'

/** A TCP port free on 127.0.0.1 now (bind 0, close; the caller binds it next). */
export const freePort = (): Promise<number> => new Promise((resolve, reject) => {
  const s = createServer()
  s.once('error', reject)
  s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => { resolve(p) }) })
})

/** GET `path` of a hub on 127.0.0.1:`port` (its self-signed certificate accepted), parsed. */
export const getJson = (port: number, path: string, timeoutMs = 10_000): Promise<any> => new Promise((resolve, reject) => {
  request({ host: '127.0.0.1', port, path, rejectUnauthorized: false, timeout: timeoutMs }, res => {
    let s = ''
    res.on('data', (d: Buffer) => { s += d.toString() })
    res.on('end', () => { try { resolve(JSON.parse(s)) } catch (e) { reject(e) } })
  }).on('error', reject).end()
})
