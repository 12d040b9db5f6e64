/** The URL peers reach this hub at: --public-url, else a guess from the listen address. */
import { networkInterfaces } from 'node:os'
import type { HubSettings } from './config.js'

/** The listen host, or this machine's first external IPv4 for 0.0.0.0 / ::. */
export const publicHost = (listenHost: string): string => {
  if (listenHost !== '0.0.0.0' && listenHost !== '::') return listenHost.includes(':') ? `[${listenHost}]` : listenHost
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}

export const publicUrlOf = (s: HubSettings, port: number): string => {
  if (s.publicUrl !== undefined) return s.publicUrl.replace(/\/+$/, '')
  const scheme = s.tls === null ? 'ws' : 'wss'
  return `${scheme}://${publicHost(s.listenHost)}${port === 443 && s.tls !== null ? '' : `:${port}`}`
}
