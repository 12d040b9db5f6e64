#!/usr/bin/env node
// Run inside a network namespace: opens a TAP through the real OS boundary, whose batch
// handler throws on the first batch, then sends broadcasts out of it (no ARP needed) one at
// a time. Prints {"calls":N,"handlerErrors":N,"readFrames":N} once 3 batches came, or after 5 s.
import { createSocket } from 'node:dgram'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(fileURLToPath(import.meta.url), '../../..')
const { linuxHostOs } = await import(join(root, 'dist/peer/os/linux.js'))
const tap = linuxHostOs.openTap('ovlguard')
await linuxHostOs.configureLink(tap.name, { mac: '02:00:00:00:99:01', mtu: 1400, address: '10.99.0.1', prefixLength: 24 })
let calls = 0
tap.start(() => { calls++; if (calls === 1) throw new Error('a bug in the first batch') })
const s = createSocket('udp4')
await new Promise(resolve => s.bind(0, '10.99.0.1', resolve))
s.setBroadcast(true)
const deadline = Date.now() + 5000
const done = async () => {
  process.stdout.write(JSON.stringify({ calls, handlerErrors: tap.counters.handlerErrors, readFrames: tap.counters.readFrames }) + '\n')
  s.close()
  await tap.close()
}
const next = () => {
  if (calls >= 3 || Date.now() > deadline) { void done(); return }
  s.send('x', 9999, '10.99.0.255')
  setTimeout(next, 50)
}
next()
