#!/usr/bin/env node
// Resolves NAME.local the way an mDNS resolver does (RFC 6762 §5.2): a QM query from port
// 5353 to 224.0.0.251 on the interface of IFACE_IP, answers read from the multicast group.
//   usage: mdns-resolve.mjs IFACE_IP NAME.local [TIMEOUT_MS]   → prints the A records found
import dgram from 'node:dgram'
import dnsPacket from 'dns-packet'

const [ifaceIp, name, ms = '3000'] = process.argv.slice(2)
const s = dgram.createSocket({ type: 'udp4', reuseAddr: true })
const found = new Set()
s.on('message', (msg) => {
  let p
  try { p = dnsPacket.decode(msg) } catch { return }
  if (p.type !== 'response') return
  for (const a of [...(p.answers ?? []), ...(p.additionals ?? [])]) {
    if (a.type === 'A' && a.name.toLowerCase() === name.toLowerCase() && !found.has(a.data)) { found.add(a.data); process.stdout.write(`${a.data}\n`) }
  }
})
s.bind(5353, '0.0.0.0', () => {
  s.addMembership('224.0.0.251', ifaceIp)
  s.setMulticastInterface(ifaceIp)
  s.setMulticastTTL(255)
  const q = dnsPacket.encode({ type: 'query', id: 0, questions: [{ name, type: 'A' }] })
  s.send(q, 5353, '224.0.0.251')
  setTimeout(() => { s.close(); process.exit(found.size > 0 ? 0 : 1) }, Number(ms))
})
