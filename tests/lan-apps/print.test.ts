/**
 * Printing: CUPS on alice shares a queue that cupsd publishes over DNS-SD through avahi.
 * From bob (a desktop with avahi and nss-mdns): `avahi-browse` and `ippfind` discover it by
 * mDNS, a job is printed to it by its `.local` name, and the job's bytes arrive at alice's
 * printer backend unchanged. Both hosts keep their default route on the underlay.
 */
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { waitFor } from '../support/wait.js'
import { startDesktop } from './apps/avahi.js'
import { startPrintServer } from './apps/cups.js'
import { scenario, timed } from './scenario.js'

// The peers' own mDNS names differ from avahi's host names, so nothing conflicts while the
// peers notice avahi and step aside.
const { o, serial, ns, ip } = scenario('print', {
  needs: ['cupsd', 'lpadmin', 'lp', 'ippfind', 'avahi-daemon', 'avahi-browse', 'dbus-daemon', 'unshare', 'nsenter'],
  peers: { alice: 'friday', bob: 'friday' },
  peerArgs: { alice: ['--name', 'alice-pc'], bob: ['--name', 'bob-pc'] }
})

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

serial('CUPS on alice: bob finds the printer by mDNS and prints to office@alice.local', async t => {
  t.timeout(120_000)
  const srvDir = join(o.topo.dir, 'cups-alice')
  const cliDir = join(o.topo.dir, 'desktop-bob')
  mkdirSync(cliDir, { recursive: true })
  const server = await timed(() => startPrintServer(o.topo, ns('alice'), srvDir, { address: ip.alice!, hostName: 'alice', queue: 'office', description: 'Office Laser' }))
  const bob = await startDesktop(o.topo, ns('bob'), cliDir, 'bob')

  const browse = await timed(() => waitFor('avahi-browse to resolve the printer', async () => {
    const r = await o.topo.runInside(bob, 'avahi-browse', ['-rtpk', '_ipp._tcp'], 15_000)
    // -p output escapes bytes as \DDD (decimal); cupsd names a shared queue "Description @ host".
    const lines = r.stdout.split('\n').map(l => l.replace(/\\(\d{3})/g, (_, d: string) => String.fromCharCode(Number(d))))
    return lines.find(l => l.startsWith('=;ovl0;IPv4;Office Laser @ alice;_ipp._tcp;')) ?? null
  }, 30_000, 500))
  const [, iface, , name, , , host, address, port, txt] = browse.value.split(';')
  t.like({ iface, name, host, address, port }, { iface: 'ovl0', name: 'Office Laser @ alice', host: 'alice.local', address: ip.alice, port: '631' })
  t.true(txt!.includes('"rp=printers/office"'), txt)

  const find = await o.topo.runInside(bob, 'ippfind', ['_ipp._tcp', '-T', '5', '--name', 'Office Laser'], 20_000)
  t.is(find.stdout.trim(), 'ipp://alice.local:631/printers/office', find.stderr)

  const job = randomBytes(256 * 1024)
  writeFileSync(join(cliDir, 'job.bin'), job)
  const lp = await timed(() => o.topo.runInside(bob, 'lp', ['-h', 'alice.local:631', '-d', 'office', '-o', 'raw', join(cliDir, 'job.bin')]))
  t.regex(lp.value.stdout, /request id is office-\d+/, lp.value.stderr)
  const out = join(server.value.jobsDir, `job-${/office-(\d+)/.exec(lp.value.stdout)?.[1] ?? '?'}.prn`)
  const print = await timed(() => waitFor('the job at the backend', () => existsSync(out) ? readFileSync(out) : null, 20_000))
  t.is(sha(print.value), sha(job), 'the backend received the job byte for byte')
  t.log(`cupsd + avahi up in ${server.ms.toFixed(0)} ms; avahi-browse resolved 'Office Laser @ alice' at alice.local (${ip.alice!}:631) after ${browse.ms.toFixed(0)} ms; ` +
    `ippfind -> ${find.stdout.trim()}; lp took ${lp.ms.toFixed(0)} ms, the 256 KiB job was at the backend ${print.ms.toFixed(0)} ms later`)
})
