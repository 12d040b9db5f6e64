/**
 * Room isolation and presence: alice runs everything at once (Samba, a CUPS printer published
 * by avahi, minidlna and a Teeworlds server) in room friday. bob, in the same room, finds each
 * of them with the applications' own discovery, and `peer list` shows all four from the hub's
 * room directory. carol, in room saturday on the same hub, finds none of them by any of the
 * same means, and her `peer list` shows neither alice nor her services.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { PEER } from '../support/overlay.js'
import { waitFor } from '../support/wait.js'
import { startDesktop } from './apps/avahi.js'
import { startPrintServer } from './apps/cups.js'
import { DLNA_CLIENT, MINIDLNAD, startMediaServer } from './apps/minidlna.js'
import { clientConf, startSamba } from './apps/samba.js'
import { lanDiscovery, startTeeworlds, TEEWORLDS } from './apps/teeworlds.js'
import { scenario } from './scenario.js'

const { o, serial, ns, ip } = scenario('isolation', {
  needs: ['smbd', 'nmbd', 'nmblookup', 'cupsd', 'lpadmin', 'avahi-daemon', 'avahi-browse', 'dbus-daemon', 'unshare', 'nsenter', MINIDLNAD, TEEWORLDS],
  peers: { alice: 'friday', bob: 'friday', carol: 'saturday' },
  peerArgs: { alice: ['--name', 'alice-pc'], bob: ['--name', 'bob-pc'], carol: ['--name', 'carol-pc'] }
})

const dir = (name: string): string => { const d = join(o.topo.dir, name); mkdirSync(d, { recursive: true }); return d }

/** What a host's own applications find in the room, each by its own discovery. */
const look = async (host: string, desktop: Awaited<ReturnType<typeof startDesktop>>, smbConf: string, hostIp: string): Promise<Record<string, boolean>> => {
  const [nmb, printers, media, game] = await Promise.all([
    o.topo.run(ns(host), 'nmblookup', ['-s', smbConf, 'ALICE']),
    o.topo.runInside(desktop, 'avahi-browse', ['-rtpk', '_ipp._tcp'], 15_000),
    o.topo.run(ns(host), 'node', [DLNA_CLIENT, hostIp, 'none', '2000']),
    lanDiscovery(o.topo, ns(host))
  ])
  return {
    smb: /ALICE<00>/.test(nmb.stdout),
    printer: /^=;ovl0;IPv4;Office\\032Laser/m.test(printers.stdout),
    media: !/no urn:schemas-upnp-org:device:MediaServer:1 answered/.test(media.stderr),
    game: game !== null
  }
}

serial('bob sees alice\'s share, printer, media server and game; carol, in another room, sees none', async t => {
  t.timeout(180_000)
  const samba = startSamba(o.topo, ns('alice'), dir('samba-alice'), 'ALICE')
  await startPrintServer(o.topo, ns('alice'), dir('cups-alice'), { address: ip.alice!, hostName: 'alice', queue: 'office', description: 'Office Laser' })
  const media = startMediaServer(o.topo, ns('alice'), dir('minidlna-alice'), 'Alice Media')
  const game = startTeeworlds(o.topo, ns('alice'), 'Friday DM', 'ctf2')
  const desktops = { bob: await startDesktop(o.topo, ns('bob'), dir('desktop-bob'), 'bob'), carol: await startDesktop(o.topo, ns('carol'), dir('desktop-carol'), 'carol') }
  const smbConf = { bob: clientConf(dir('smb-bob')), carol: clientConf(dir('smb-carol')) }

  // bob, in alice's room: every application finds alice's (Teeworlds answers ~10 s after start).
  const seen = await waitFor('bob to find all four of alice\'s services', async () => {
    for (const p of [samba.smbd, samba.nmbd, media.proc, game]) if (p.exitCode !== null) throw new Error(`${p.name} exited: ${p.output.slice(-400)}`)
    const s = await look('bob', desktops.bob, smbConf.bob, ip.bob!)
    return Object.values(s).every(Boolean) ? s : null
  }, 60_000, 500)
  t.deepEqual(seen, { smb: true, printer: true, media: true, game: true })

  let last = ''
  const list = await waitFor('peer list on bob to show all four', async () => {
    const r = await o.topo.run(ns('bob'), 'node', [PEER, 'list'])
    last = r.stdout
    const line = r.stdout.split('\n').find(l => l.trim().startsWith('alice-pc')) ?? ''
    return /SMB ALICE/.test(line) && /printer 'Office Laser @ alice' \(ipp, ipps, lpd\)/.test(line) && /UPnP MediaServer/.test(line) && /Teeworlds server 'Friday DM' :8303/.test(line) ? r.stdout : null
  }, 30_000, 500).catch((e: Error) => { throw new Error(`${e.message}; last:\n${last}`) })
  t.log(`bob: peer list\n${list}`)

  // carol, in room saturday on the same hub: the same applications find nothing.
  const carol = await look('carol', desktops.carol, smbConf.carol, ip.carol!)
  t.deepEqual(carol, { smb: false, printer: false, media: false, game: false })
  const carolList = (await o.topo.run(ns('carol'), 'node', [PEER, 'list'])).stdout
  t.regex(carolList, /^room saturday: 1 peer\(s\)/)
  t.notRegex(carolList, /alice|ALICE|Office|MediaServer|Teeworlds/)
  t.log(`carol: peer list\n${carolList}`)
})
