/**
 * Printing: CUPS on alice shares a queue that cupsd publishes over DNS-SD through avahi.
 * From bob (a desktop with avahi and nss-mdns): `avahi-browse` and `ippfind` discover it by
 * mDNS, a job is printed to it by its `.local` name, and the job's bytes arrive at alice's
 * printer backend unchanged. Both hosts keep their default route on the underlay.
 * On any failure the test prints cupsd's state, queue and error log, so it explains itself.
 */
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { waitFor } from '../support/wait.js'
import { startDesktop } from './apps/avahi.js'
import { printServerReport, startPrintServer, type PrintServer } from './apps/cups.js'
import { scenario, timed } from './scenario.js'

// The peers' own mDNS names differ from avahi's host names, so nothing conflicts while the
// peers notice avahi and step aside.
const { o, serial, ns, ip } = scenario('print', {
  needs: ['cupsd', 'lpadmin', 'lp', 'lpstat', 'ippfind', 'avahi-daemon', 'avahi-browse', 'dbus-daemon', 'unshare', 'nsenter'],
  peers: { alice: 'friday', bob: 'friday' },
  peerArgs: { alice: ['--name', 'alice-pc'], bob: ['--name', 'bob-pc'] }
})

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

serial('CUPS on alice: bob finds the printer by mDNS and prints to office@alice.local', async t => {
  t.timeout(120_000)
  const srvDir = join(o.topo.dir, 'cups-alice')
  const cliDir = join(o.topo.dir, 'desktop-bob')
  mkdirSync(cliDir, { recursive: true })
  let server: PrintServer | null = null
  try {
    const started = await timed(() => startPrintServer(o.topo, ns('alice'), srvDir, { address: ip.alice!, hostName: 'alice', queue: 'office', description: 'Office Laser' }))
    server = started.value
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
    t.is(lp.value.code, 0, `lp exited ${lp.value.code}: ${lp.value.stderr}`)
    t.is(lp.value.stderr.trim(), '', 'lp printed no error')
    const id = /request id is office-(\d+)/.exec(lp.value.stdout)?.[1]
    if (id === undefined) throw new Error(`lp printed no request id: ${lp.value.stdout}`)
    const out = join(server.jobsDir, `job-${id}.prn`)
    const print = await timed(() => waitFor('the job at the backend', () => {
      if (server!.proc.exitCode !== null) throw new Error(`cupsd ended (${server!.proc.signal ?? `exit ${server!.proc.exitCode}`})`)
      return existsSync(out) ? readFileSync(out) : null
    }, 20_000))
    t.is(sha(print.value), sha(job), 'the backend received the job byte for byte')
    t.is(server.proc.exitCode, null, 'cupsd still runs after the job')
    t.log(`cupsd + avahi up in ${started.ms.toFixed(0)} ms; avahi-browse resolved 'Office Laser @ alice' at alice.local (${ip.alice!}:631) after ${browse.ms.toFixed(0)} ms; ` +
      `ippfind -> ${find.stdout.trim()}; lp took ${lp.ms.toFixed(0)} ms, the 256 KiB job was at the backend ${print.ms.toFixed(0)} ms later`)
  } catch (e) {
    if (server !== null) t.log(await printServerReport(o.topo, server))
    throw e
  }
})
