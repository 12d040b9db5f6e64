/**
 * SSDP / UPnP presence: the peer shows up in network browsers as a UPnP basic device
 * (urn:schemas-upnp-org:device:Basic:1) with its name and overlay address. Sends NOTIFY
 * ssdp:alive at start and every max-age/3, answers M-SEARCH, serves its device
 * description over HTTP on the overlay address only, says ssdp:byebye on stop.
 */
import type { Socket, RemoteInfo } from 'node:dgram'
import { createServer, type Server } from 'node:http'
import type { Logger } from '../core/log.js'
import { SSDP_GROUP, SSDP_PORT, formatSsdp, parseSsdp } from './ssdp-message.js'

export const DEVICE_TYPE = 'urn:schemas-upnp-org:device:Basic:1'
const SERVER = 'Linux UPnP/1.1 overlan/0.1'

export interface SsdpOptions {
  name: string
  ipv4: string
  /** Stable UUID of this peer (from its identity). */
  uuid: string
  maxAgeS?: number
}

export interface SsdpDeps {
  socket: Socket
  log: Logger
}

const xml = (s: string): string => s.replace(/[<>&'"]/g, c => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!)

export class SsdpAdvertiser {
  private readonly options: SsdpOptions
  private readonly deps: SsdpDeps
  private http: Server | null = null
  private location = ''
  private timer: NodeJS.Timeout | null = null
  private running = false
  answered = 0

  constructor (options: SsdpOptions, deps: SsdpDeps) {
    this.options = options
    this.deps = deps
    deps.socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => { this.onMessage(msg, rinfo) })
  }

  private get maxAge (): number { return this.options.maxAgeS ?? 1800 }

  /** (NT or ST, USN) pairs this device answers for. */
  private targets (): Array<[string, string]> {
    const u = `uuid:${this.options.uuid}`
    return [['upnp:rootdevice', `${u}::upnp:rootdevice`], [u, u], [DEVICE_TYPE, `${u}::${DEVICE_TYPE}`]]
  }

  description (): string {
    return `<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
  <specVersion><major>1</major><minor>1</minor></specVersion>
  <device>
    <deviceType>${DEVICE_TYPE}</deviceType>
    <friendlyName>${xml(this.options.name)} (overlan)</friendlyName>
    <manufacturer>overlan</manufacturer>
    <modelName>overlan peer</modelName>
    <modelDescription>A computer in an overlan room</modelDescription>
    <UDN>uuid:${this.options.uuid}</UDN>
    <presentationURL>http://${this.options.ipv4}/</presentationURL>
  </device>
</root>
`
  }

  async start (): Promise<void> {
    const http = createServer((req, res) => {
      if (req.url === '/overlan/device.xml') {
        res.writeHead(200, { 'content-type': 'text/xml; charset="utf-8"' })
        res.end(this.description())
      } else {
        res.writeHead(404).end()
      }
    })
    await new Promise<void>((resolve, reject) => { http.once('error', reject); http.listen(0, this.options.ipv4, () => { resolve() }) })
    http.unref()
    this.http = http
    const a = http.address()
    this.location = `http://${this.options.ipv4}:${typeof a === 'object' && a !== null ? a.port : 0}/overlan/device.xml`
    this.running = true
    this.notify('ssdp:alive')
    this.timer = setInterval(() => { this.notify('ssdp:alive') }, this.maxAge * 1000 / 3)
    this.timer.unref()
    this.deps.log.info('ssdp.advertising', { location: this.location })
  }

  /** Sends the alive NOTIFYs again (the hub restarted and forgot the room's directory). */
  reannounce (): void {
    if (this.running) this.notify('ssdp:alive')
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    if (this.timer !== null) clearInterval(this.timer)
    this.notify('ssdp:byebye')
    this.http?.close()
  }

  private notify (nts: 'ssdp:alive' | 'ssdp:byebye'): void {
    for (const [nt, usn] of this.targets()) {
      const headers: Array<[string, string]> = [['HOST', `${SSDP_GROUP}:${SSDP_PORT}`]]
      if (nts === 'ssdp:alive') headers.push(['CACHE-CONTROL', `max-age=${this.maxAge}`], ['LOCATION', this.location], ['SERVER', SERVER])
      headers.push(['NT', nt], ['NTS', nts], ['USN', usn])
      this.deps.socket.send(formatSsdp('NOTIFY * HTTP/1.1', headers), SSDP_PORT, SSDP_GROUP)
    }
  }

  private onMessage (msg: Buffer, rinfo: RemoteInfo): void {
    if (!this.running || rinfo.address === this.options.ipv4) return
    const m = parseSsdp(msg)
    if (m === null || m.kind !== 'M-SEARCH' || m.headers.man?.replaceAll('"', '') !== 'ssdp:discover') return
    const st = m.headers.st ?? ''
    const matches = this.targets().filter(([t]) => st === 'ssdp:all' || st === t)
    if (matches.length === 0) return
    // Spread answers over the first part of MX (UDA §1.3.3), at most 500 ms here.
    const mx = Math.max(0, Math.min(5, Number(m.headers.mx ?? '1') || 0))
    setTimeout(() => {
      if (!this.running) return
      for (const [t, usn] of matches) {
        this.deps.socket.send(formatSsdp('HTTP/1.1 200 OK', [
          ['CACHE-CONTROL', `max-age=${this.maxAge}`], ['EXT', ''], ['LOCATION', this.location], ['SERVER', SERVER], ['ST', t], ['USN', usn]
        ]), rinfo.port, rinfo.address)
      }
      this.answered++
    }, Math.random() * Math.min(500, mx * 1000)).unref()
  }
}
