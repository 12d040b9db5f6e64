#!/usr/bin/env node
// Teeworlds 0.7 LAN discovery, as the game client's server browser does it: a token
// request broadcast to 255.255.255.255 on ports 8303-8310 from a socket bound to no
// interface, then an info request ("gie3") to each server that answered with its token.
// Prints one JSON line per server: {address, port, name, map, gametype, players, maxPlayers,
// ms: time from the broadcast to the info answer}.
//   usage: teeworlds-lan.mjs [TIMEOUT_MS]
import dgram from 'node:dgram'
import { randomBytes } from 'node:crypto'

const timeout = Number(process.argv[2] ?? 3000)
const myToken = randomBytes(4)
const browseToken = 42 // fits one varint byte
const s = dgram.createSocket('udp4')
const found = new Map()
let sentAt = 0

// CVariableInt::Unpack (engine/shared/compression.cpp)
const readInt = (b, p) => {
  const sign = (b[p] >> 6) & 1
  let v = b[p] & 0x3f
  let shift = 6
  while (b[p] & 0x80) { p++; v |= (b[p] & 0x7f) << shift; shift += 7 }
  return [v ^ -sign, p + 1]
}
const readString = (b, p) => { const end = b.indexOf(0, p); return [b.toString('utf8', p, end), end + 1] }

s.on('message', (msg, rinfo) => {
  const key = `${rinfo.address}:${rinfo.port}`
  if (msg[0] === 0x04 && msg.length >= 12 && msg[7] === 5 && msg.subarray(3, 7).equals(myToken)) {
    // NET_CTRLMSG_TOKEN answer: [flags ack chunks][our token][5][server token]
    const serverToken = msg.subarray(8, 12)
    const req = Buffer.concat([Buffer.from([0x21]), serverToken, myToken, Buffer.from('ffffffff', 'hex'), Buffer.from('gie3'), Buffer.from([browseToken])])
    s.send(req, rinfo.port, rinfo.address)
    return
  }
  if (msg[0] === 0x21 && msg.subarray(9, 17).equals(Buffer.concat([Buffer.from('ffffffff', 'hex'), Buffer.from('inf3')]))) {
    let p = 17
    let token, version, name, hostname, map, gametype, flags, skill, players, maxPlayers
    ;[token, p] = readInt(msg, p)
    if (token !== browseToken) return
    ;[version, p] = readString(msg, p)
    ;[name, p] = readString(msg, p)
    ;[hostname, p] = readString(msg, p)
    ;[map, p] = readString(msg, p)
    ;[gametype, p] = readString(msg, p)
    ;[flags, p] = readInt(msg, p)
    ;[skill, p] = readInt(msg, p)
    ;[players, p] = readInt(msg, p)
    ;[maxPlayers, p] = readInt(msg, p)
    if (!found.has(key)) {
      found.set(key, true)
      process.stdout.write(JSON.stringify({ address: rinfo.address, port: rinfo.port, version, name, hostname, map, gametype, flags, skill, players, maxPlayers, ms: Math.round(performance.now() - sentAt) }) + '\n')
    }
  }
})

s.bind(0, () => {
  s.setBroadcast(true)
  const request = Buffer.alloc(7 + 1 + 512)
  Buffer.from('040000ffffffff05', 'hex').copy(request, 0)
  myToken.copy(request, 8)
  sentAt = performance.now()
  for (let port = 8303; port <= 8310; port++) s.send(request, port, '255.255.255.255')
  setTimeout(() => { s.close(); process.exit(found.size > 0 ? 0 : 1) }, timeout)
})
