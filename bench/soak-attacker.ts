/**
 * The attacker side of `npm run soak`, in its own process so its CPU does not disturb the
 * measurements: for DURATION seconds, against the hub at URL, all at once —
 *   arp     a member sending ARP replies with a new sender IP per frame
 *   groups  a member sending IGMPv2 and MLDv1 reports for a new group per frame
 *   list    a member that stopped reading and sends `list` in a loop
 *   dir     a member flooding mDNS answers with long names and SSDP NOTIFYs with a 300-character NT
 *   tcp     connections from 127.0.0.2-127.0.0.250 that never start TLS (re-opened when cut)
 *   hello   connections pipelining wrong-token hellos
 * Every loop is bounded by the deadline; the process exits by itself and prints what it sent.
 *   tsx bench/soak-attacker.ts URL TOKEN DURATION_S
 */
import dnsPacket from 'dns-packet'
import { connect, type Socket } from 'node:net'
import WebSocket from 'ws'
import { SUBPROTOCOL, encodeBatch } from '../core/protocol.js'
import { ARP_REPLY, writeArpFrame } from '../l2/arp.js'
import { finishChecksum, sum16 } from '../l2/checksum.js'
import { icmpv6Frame, ipv4Frame, mac, udp4Frame } from '../tests/support/frames.js'
import { joinSim, sleep, type SimPeer } from './sim-peer.js'

const [url, token, seconds] = [process.argv[2]!, process.argv[3]!, Number(process.argv[4] ?? 60)]
const deadline = Date.now() + seconds * 1000
const live = (): boolean => Date.now() < deadline
const sent: Record<string, number> = { arp: 0, groups: 0, list: 0, dir: 0, tcp: 0, hello: 0 }
const HIGH_WATER = 1024 * 1024
let seq = 0

/** A member that keeps sending `make()` batches while its socket drains; rejoins when cut. */
const member = async (name: string, make: (p: SimPeer) => Buffer | string, per: number): Promise<void> => {
  while (live()) {
    let p: SimPeer
    try { p = await joinSim(url, token, 'friday', `${name}-bot`) } catch { await sleep(200); continue }
    await new Promise<void>(resolve => {
      p.ws.on('close', () => { resolve() })
      const pump = (): void => {
        if (!live() || p.ws.readyState !== WebSocket.OPEN) { p.ws.terminate(); resolve(); return }
        for (let i = 0; i < 8 && p.ws.bufferedAmount < HIGH_WATER; i++) { p.ws.send(make(p)); sent[name]! += per }
        setTimeout(pump, 1)
      }
      pump()
    })
  }
}

const arpBatch = (p: SimPeer): Buffer => encodeBatch(Array.from({ length: 64 }, () => {
  const f = Buffer.alloc(60)
  writeArpFrame(f, 0, ARP_REPLY, 0x02ffffffffff, mac(p.welcome.mac), 0x0a000000 + (++seq % 0xffffff), 0x02ffffffffff, 0x0a4d0001)
  return f
}))

const igmpReport = (p: SimPeer, g: number): Buffer => {
  const m = Buffer.alloc(8); m[0] = 0x16; m.writeUInt32BE(g, 4)
  m.writeUInt16BE(finishChecksum(sum16(m, 0, 8)), 2)
  const group = `${g >>> 24}.${(g >> 16) & 255}.${(g >> 8) & 255}.${g & 255}`
  const hex = (n: number): string => n.toString(16).padStart(2, '0')
  return ipv4Frame(`01:00:5e:${hex((g >> 16) & 0x7f)}:${hex((g >> 8) & 255)}:${hex(g & 255)}`, p.welcome.mac, p.welcome.ip, group, 2, m, { ttl: 1, options: Buffer.from([0x94, 4, 0, 0]) })
}
const mldReport = (p: SimPeer, g: number): Buffer => {
  const m = Buffer.alloc(24); m[0] = 131
  const addr = Buffer.from('ff0e0000000000000000000000000000', 'hex'); addr.writeUInt32BE(g, 12); addr.copy(m, 8)
  const hex = addr.toString('hex', 12, 16).match(/../g)!.join(':')
  return icmpv6Frame(`33:33:${hex}`, p.welcome.mac, 'fe80::1', `ff0e::${(g >>> 16).toString(16)}:${(g & 0xffff).toString(16)}`, m, { hopLimit: 1 })
}
const groupBatch = (p: SimPeer): Buffer => encodeBatch(Array.from({ length: 64 }, (_, i) => {
  const g = 0xe8000000 + (++seq % 0x7fffff)
  return i % 2 === 0 ? igmpReport(p, g) : mldReport(p, g)
}))

const NT = `urn:schemas-upnp-org:device:${'X'.repeat(300)}:1`
const dirBatch = (p: SimPeer): Buffer => encodeBatch(Array.from({ length: 16 }, (_, i) => {
  if (i === 0) {
    return udp4Frame('01:00:5e:7f:ff:fa', p.welcome.mac, p.welcome.ip, '239.255.255.250', 1900, 1900,
      Buffer.from(`NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: ${NT}-${++seq}\r\nNTS: ssdp:alive\r\nUSN: uuid:${seq}::x\r\nCACHE-CONTROL: max-age=1800\r\n\r\n`))
  }
  const answers = Array.from({ length: 6 }, (_, k) => ({ name: `${'a'.repeat(60)}.${'b'.repeat(60)}.${++seq}-${k}.local`, type: 'A' as const, ttl: 120, data: p.welcome.ip }))
  return udp4Frame('01:00:5e:00:00:fb', p.welcome.mac, p.welcome.ip, '224.0.0.251', 5353, 5353, dnsPacket.encode({ type: 'response', answers }))
}))

/** A member that stopped reading: its answers can only pile up at the hub. */
const listFlood = async (): Promise<void> => {
  while (live()) {
    let p: SimPeer
    try { p = await joinSim(url, token, 'friday', 'list-bot') } catch { await sleep(200); continue }
    ;(p.ws as unknown as { _socket: Socket })._socket.pause()
    await new Promise<void>(resolve => {
      p.ws.on('close', () => { resolve() })
      const pump = (): void => {
        if (!live() || p.ws.readyState !== WebSocket.OPEN) { p.ws.terminate(); resolve(); return }
        for (let i = 0; i < 200 && p.ws.bufferedAmount < HIGH_WATER; i++) { p.ws.send('{"type":"list"}'); sent.list!++ }
        setTimeout(pump, 1)
      }
      pump()
    })
  }
}

const { hostname, port } = new URL(url)
/** Connections that never speak TLS, from many loopback addresses, kept at about `target`. */
const tcpFlood = async (target: number): Promise<void> => {
  let open = 0
  let a = 0
  while (live()) {
    while (open < target && live()) {
      const s = connect({ host: hostname, port: Number(port), localAddress: `127.0.0.${2 + (a++ % 249)}` })
      open++
      sent.tcp!++
      s.on('error', () => {})
      s.on('close', () => { open-- })
    }
    await sleep(20)
  }
}

/** New connections, each pipelining 20 wrong-token hellos. */
const helloFlood = async (): Promise<void> => {
  let a = 0
  while (live()) {
    const ws = new WebSocket(url, SUBPROTOCOL, { rejectUnauthorized: false, perMessageDeflate: false, localAddress: `127.0.1.${1 + (a++ % 250)}` })
    ws.on('error', () => {})
    ws.on('open', () => {
      for (let i = 0; i < 20; i++) { ws.send(JSON.stringify({ type: 'hello', version: 1, room: 'friday', token: `guess-${++seq}`, identity: 'f'.repeat(32), name: 'guess' })); sent.hello!++ }
    })
    await new Promise<void>(resolve => { ws.on('close', () => { resolve() }); setTimeout(() => { ws.terminate(); resolve() }, 2000) })
  }
}

await Promise.all([member('arp', arpBatch, 64), member('groups', groupBatch, 64), member('dir', dirBatch, 16), listFlood(), tcpFlood(3000), helloFlood(), helloFlood()])
process.stdout.write(JSON.stringify(sent) + '\n')
process.exit(0)
