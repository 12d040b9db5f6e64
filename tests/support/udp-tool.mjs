#!/usr/bin/env node
// UDP helper for network tests, run inside a namespace.
//   listen PORT            print "<from-ip> <text>" per datagram, until killed
//   send BIND_IP DEST PORT TEXT [COUNT]   send COUNT datagrams (broadcast allowed) from BIND_IP
import dgram from 'node:dgram'

const [mode, ...args] = process.argv.slice(2)
if (mode === 'listen') {
  const s = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  s.on('message', (msg, rinfo) => { process.stdout.write(`${rinfo.address} ${msg.toString()}\n`) })
  s.bind(Number(args[0]), '0.0.0.0', () => { process.stdout.write('listening\n') })
} else if (mode === 'send') {
  const [bindIp, dest, port, text, count = '1'] = args
  const s = dgram.createSocket('udp4')
  s.bind(0, bindIp, () => {
    s.setBroadcast(true)
    let left = Number(count)
    const next = () => {
      if (left-- <= 0) { s.close(); return }
      s.send(text, Number(port), dest, (err) => { if (err) { console.error(err.message); process.exit(1) } next() })
    }
    next()
  })
} else {
  console.error('usage: udp-tool.mjs listen PORT | send BIND_IP DEST PORT TEXT [COUNT]')
  process.exit(2)
}
