#!/usr/bin/env node
// UDP helper for network tests, run inside a namespace.
//   listen PORT [GROUP IFACE_IP]          print "<from-ip> <text>" per datagram until killed;
//                                         with GROUP, join it on the interface of IFACE_IP
//   send BIND_IP DEST PORT TEXT [COUNT] [GAP_MS] [SRC_PORT]
//                                         send COUNT datagrams (broadcast or multicast allowed)
//   flood BIND_IP DEST PORT SECONDS       send as fast as possible for SECONDS, print the count
//   msearch BIND_IP ST [MS]               SSDP M-SEARCH, print the responses for MS milliseconds
//   answer PORT TEXT                      print "<from-ip> <text>" per datagram and answer TEXT to its sender
//   query DEST PORT TEXT MS               send TEXT from a socket bound to no interface, print "<from-ip> <reply>" for MS
import dgram from 'node:dgram'

const [mode, ...args] = process.argv.slice(2)
const isMulticast = (ip) => { const first = Number(ip.split('.')[0]); return first >= 224 && first <= 239 }

const sender = (bindIp, dest, srcPort, ready) => {
  const s = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  s.bind(srcPort, bindIp, () => {
    s.setBroadcast(true)
    if (isMulticast(dest)) { if (bindIp !== '0.0.0.0') s.setMulticastInterface(bindIp); s.setMulticastTTL(1) }
    ready(s)
  })
}

if (mode === 'listen') {
  const [port, group, ifaceIp] = args
  const s = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  s.on('message', (msg, rinfo) => { process.stdout.write(`${rinfo.address} ${msg.toString()}\n`) })
  s.bind(Number(port), '0.0.0.0', () => {
    // Without IFACE_IP the kernel picks the interface from the route to the group, as games do.
    if (group !== undefined) s.addMembership(group, ifaceIp === undefined || ifaceIp === 'any' ? undefined : ifaceIp)
    process.stdout.write('listening\n')
  })
} else if (mode === 'send') {
  const [bindIp, dest, port, text, count = '1', gap = '0', srcPort = '0'] = args
  sender(bindIp, dest, Number(srcPort), (s) => {
    let left = Number(count)
    const next = () => {
      if (left-- <= 0) { s.close(); return }
      s.send(text, Number(port), dest, (err) => {
        if (err) { console.error(err.message); process.exit(1) }
        if (Number(gap) > 0) setTimeout(next, Number(gap)); else next()
      })
    }
    next()
  })
} else if (mode === 'flood') {
  const [bindIp, dest, port, seconds] = args
  sender(bindIp, dest, 0, (s) => {
    const until = Date.now() + Number(seconds) * 1000
    const junk = Buffer.alloc(64, 0x55)
    let sent = 0
    const burst = () => {
      if (Date.now() >= until) { process.stdout.write(`flooded ${sent}\n`); s.close(); return }
      let pending = 64
      for (let i = 0; i < 64; i++) s.send(junk, Number(port), dest, () => { sent++; if (--pending === 0) setImmediate(burst) })
    }
    burst()
  })
} else if (mode === 'answer') {
  const [port, text] = args
  const s = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  s.on('message', (msg, rinfo) => {
    process.stdout.write(`${rinfo.address} ${msg.toString()}\n`)
    s.send(text, rinfo.port, rinfo.address)
  })
  s.bind(Number(port), '0.0.0.0', () => { process.stdout.write('listening\n') })
} else if (mode === 'query') {
  const [dest, port, text, ms] = args
  const s = dgram.createSocket({ type: 'udp4' })
  s.on('message', (msg, rinfo) => { process.stdout.write(`${rinfo.address} ${msg.toString()}\n`) })
  s.bind(0, '0.0.0.0', () => {
    s.setBroadcast(true)
    s.send(text, Number(port), dest, (err) => { if (err) { console.error(err.message); process.exit(1) } })
    setTimeout(() => { s.close() }, Number(ms))
  })
} else if (mode === 'msearch') {
  // SSDP M-SEARCH from BIND_IP; prints each unicast response's ST, USN and LOCATION.
  const [bindIp, st, ms = '2000'] = args
  sender(bindIp, '239.255.255.250', 0, (s) => {
    s.on('message', (msg, rinfo) => {
      const h = Object.fromEntries(msg.toString().split('\r\n').slice(1).map(l => l.split(/:\s*/)).filter(kv => kv.length >= 2).map(([k, ...v]) => [k.toLowerCase(), v.join(':')]))
      process.stdout.write(`${rinfo.address} ST=${h.st} USN=${h.usn} LOCATION=${h.location}\n`)
    })
    const req = `M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: ${st}\r\n\r\n`
    s.send(req, 1900, '239.255.255.250')
    setTimeout(() => s.close(), Number(ms))
  })
} else {
  console.error('usage: udp-tool.mjs listen PORT [GROUP IFACE_IP] | send BIND_IP DEST PORT TEXT [COUNT] [GAP_MS] [SRC_PORT] | flood BIND_IP DEST PORT SECONDS')
  process.exit(2)
}
