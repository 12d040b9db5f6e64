/**
 * Media: minidlna on alice serves a music folder on the overlay. From bob, as a DLNA player
 * does: SSDP M-SEARCH finds the MediaServer, its device description is fetched, the
 * ContentDirectory is browsed to the track, and the track is streamed with matching SHA-256.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { waitFor } from '../support/wait.js'
import { DLNA_CLIENT, MINIDLNAD, startMediaServer, wav } from './apps/minidlna.js'
import { scenario, timed } from './scenario.js'

const { o, serial, ns, ip } = scenario('media', { needs: [MINIDLNAD], peers: { alice: 'friday', bob: 'friday' } })

interface Streamed { server: string, location: string, searchMs: number, title: string, bytes: number, sha256: string, streamMs: number }

serial('minidlna on alice: bob finds it by M-SEARCH, browses to a track and streams it intact', async t => {
  t.timeout(120_000)
  // The track is in place before minidlnad starts: without inotify it indexes only at start.
  const dir = join(o.topo.dir, 'minidlna-alice')
  mkdirSync(join(dir, 'media'), { recursive: true })
  const track = wav(randomBytes(20 * 1024 * 1024))
  writeFileSync(join(dir, 'media', 'Friday Mix.wav'), track)
  const { proc } = startMediaServer(o.topo, ns('alice'), dir, 'Alice Media')
  let last = ''
  const found = await timed(() => waitFor('bob to stream the track', async () => {
    if (proc.exitCode !== null) throw new Error(`minidlnad exited: ${proc.output.slice(-600)}`)
    const r = await o.topo.run(ns('bob'), 'node', [DLNA_CLIENT, ip.bob!, 'Friday Mix', '2000'], 70_000)
    last = r.stderr
    return r.code === 0 ? JSON.parse(r.stdout) as Streamed : null
  }, 60_000, 500).catch((e: Error) => { throw new Error(`${e.message}; last attempt: ${last}`) }))
  const s = found.value
  t.like(s, { server: 'Alice Media', title: 'Friday Mix', bytes: track.length })
  t.true(s.location.startsWith(`http://${ip.alice!}:8200/`), s.location)
  t.is(s.sha256, createHash('sha256').update(track).digest('hex'))
  t.log(`found '${s.server}' at ${s.location} (M-SEARCH answered in ${s.searchMs} ms; ${found.ms.toFixed(0)} ms after start incl. indexing); ` +
    `streamed ${(s.bytes / 1048576).toFixed(1)} MiB in ${s.streamMs} ms (${(s.bytes * 8 / 1e6 / (s.streamMs / 1000)).toFixed(0)} Mbit/s), SHA-256 equal`)
  await proc.stop()
})
