#!/usr/bin/env node
// Attacks on a peer's direct-path socket, run inside a namespace that can reach it:
//   direct-attack.mjs PCAP HOST PORT PEER_STATE_DIR
// From the capture (tcpdump -w, Ethernet) it takes the last DATA packet (type 4) and sends it
// again (a replay) and altered (a forgery); then a handshake from a key that is no member
// (with the target's real public key, read from its state directory) and junk. Prints "sent N".
import { readFileSync } from 'node:fs'
import { createSocket } from 'node:dgram'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const [pcap, host, port, stateDir] = process.argv.slice(2)
const root = join(fileURLToPath(import.meta.url), '../../..')
const { generateKeyPair, loadOrCreateKeyPair } = await import(join(root, 'dist/core/keys.js'))
const { Initiator, timestamp } = await import(join(root, 'dist/core/direct/noise.js'))
const { encodeInit, initPayload } = await import(join(root, 'dist/core/direct/wire.js'))

const udpPayloads = (file) => {
  const b = readFileSync(file)
  const out = []
  let off = 24
  while (off + 16 <= b.length) {
    const len = b.readUInt32LE(off + 8)
    const f = b.subarray(off + 16, off + 16 + len)
    off += 16 + len
    if (f.length < 42 || f.readUInt16BE(12) !== 0x0800 || f[23] !== 17) continue
    const ihl = (f[14] & 0x0f) * 4
    out.push(f.subarray(14 + ihl + 8))
  }
  return out
}

// A sender's UDP GSO buffer is captured whole (several DATA datagrams of one size back to
// back, counters consecutive, as peer/os/linux-udp.ts sends them): take its last datagram.
const lastDatagram = (p) => {
  for (let size = 29; size <= p.length / 2; size++) {
    if (p.length % size !== 0) continue
    let k = 1
    for (; k < p.length / size; k++) {
      const o = k * size
      if (p[o] !== 4 || p.readUInt32LE(o + 1) !== p.readUInt32LE(1) || p.readBigUInt64LE(o + 5) !== p.readBigUInt64LE(5) + BigInt(k)) break
    }
    if (k === p.length / size) return p.subarray(p.length - size)
  }
  return p
}
const data = udpPayloads(pcap).filter(p => p[0] === 4)
if (data.length === 0) { console.error('no DATA packet in the capture'); process.exit(1) }
const replay = Buffer.from(lastDatagram(data.at(-1)))
const forged = Buffer.from(replay)
forged.writeBigUInt64LE(forged.readBigUInt64LE(5) + 100000n, 5)
forged[forged.length - 1] ^= 0x55
const target = loadOrCreateKeyPair(stateDir).publicKey
const stranger = new Initiator(generateKeyPair(), target, Buffer.from('overlan.direct.1'))
const init = encodeInit(stranger.writeMessage1(initPayload(timestamp(Date.now()), 1234)))
const packets = [replay, forged, init, Buffer.from('junk that is no overlan packet')]
const s = createSocket('udp4')
let n = 0
for (const p of packets) await new Promise((resolve, reject) => s.send(p, Number(port), host, (e) => { if (e) reject(e); else { n++; resolve() } }))
s.close()
process.stdout.write(`sent ${n}\n`)
