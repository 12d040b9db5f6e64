#!/usr/bin/env node
// TCP helper for network tests, run inside a namespace.
//   serve BIND_IP PORT        print "listening", then "received <bytes> <sha256>" per connection
//   send HOST PORT BYTES      send BYTES deterministic bytes, print "sent <bytes> <sha256> <ms>"
//   stream HOST PORT MS       one connection sending 16 KiB every 50 ms for MS ms (paced, as an
//                             application would), then "sent <bytes> <sha256> <ms>"
import net from 'node:net'
import { createHash } from 'node:crypto'

const [mode, ...args] = process.argv.slice(2)
if (mode === 'serve') {
  const [bindIp, port] = args
  net.createServer((c) => {
    const h = createHash('sha256')
    let n = 0
    c.on('data', (d) => { h.update(d); n += d.length })
    c.on('end', () => { process.stdout.write(`received ${n} ${h.digest('hex')}\n`); c.end() })
    c.on('error', (e) => { process.stdout.write(`error ${e.message}\n`) })
  }).listen(Number(port), bindIp, () => { process.stdout.write('listening\n') })
} else if (mode === 'send') {
  const [host, port, bytes] = args
  const total = Number(bytes)
  const chunk = Buffer.alloc(64 * 1024)
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + 7) & 0xff
  const h = createHash('sha256')
  const start = Date.now()
  const c = net.connect(Number(port), host, () => {
    let sent = 0
    const pump = () => {
      while (sent < total) {
        const part = chunk.subarray(0, Math.min(chunk.length, total - sent))
        h.update(part)
        sent += part.length
        if (!c.write(part)) { c.once('drain', pump); return }
      }
      c.end()
    }
    pump()
  })
  c.on('close', () => { process.stdout.write(`sent ${total} ${h.digest('hex')} ${Date.now() - start}\n`) })
  c.on('error', (e) => { console.error(e.message); process.exit(1) })
} else if (mode === 'stream') {
  const [host, port, ms] = args
  const chunk = Buffer.alloc(16 * 1024)
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 13 + 5) & 0xff
  const h = createHash('sha256')
  const start = Date.now()
  let sent = 0
  const c = net.connect(Number(port), host, () => {
    const timer = setInterval(() => {
      if (Date.now() - start >= Number(ms)) { clearInterval(timer); c.end(); return }
      h.update(chunk)
      sent += chunk.length
      c.write(chunk)
    }, 50)
  })
  c.on('close', () => { process.stdout.write(`sent ${sent} ${h.digest('hex')} ${Date.now() - start}\n`) })
  c.on('error', (e) => { console.error(e.message); process.exit(1) })
} else {
  console.error('usage: tcp-tool.mjs serve BIND_IP PORT | send HOST PORT BYTES | stream HOST PORT MS')
  process.exit(2)
}
