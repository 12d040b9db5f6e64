/**
 * minidlna on one host, serving `mediaDir` on the overlay interface only, with its own
 * database, log and PID file.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Proc, Topology } from '../../support/netns.js'
import { ROOT } from '../../support/overlay.js'

export const MINIDLNAD = '/usr/sbin/minidlnad'
/** What a DLNA player does: M-SEARCH, description, browse, stream (see the file). */
export const DLNA_CLIENT = join(ROOT, 'tests/support/dlna-client.mjs')

/** Serves `dir`/media (indexed once at start: put files there first). */
export const startMediaServer = (topo: Topology, ns: string, dir: string, friendlyName: string): { proc: Proc, mediaDir: string } => {
  for (const d of ['media', 'db', 'log']) mkdirSync(join(dir, d), { recursive: true })
  writeFileSync(join(dir, 'minidlna.conf'), `media_dir=A,${dir}/media
db_dir=${dir}/db
log_dir=${dir}/log
network_interface=ovl0
port=8200
friendly_name=${friendlyName}
inotify=no
notify_interval=60
`)
  // -S: stay in the foreground and log to stdout, as under systemd.
  const proc = topo.start(`minidlna-${friendlyName}`, ns, MINIDLNAD, ['-S', '-f', join(dir, 'minidlna.conf'), '-P', join(dir, 'minidlna.pid'), '-r'])
  return { proc, mediaDir: join(dir, 'media') }
}

/** A valid 16-bit stereo 44.1 kHz WAV around `pcm`: media servers index files by their header. */
export const wav = (pcm: Buffer): Buffer => {
  const h = Buffer.alloc(44)
  h.write('RIFF', 0); h.writeUInt32LE(36 + pcm.length, 4); h.write('WAVE', 8)
  h.write('fmt ', 12); h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(2, 22)
  h.writeUInt32LE(44_100, 24); h.writeUInt32LE(44_100 * 4, 28); h.writeUInt16LE(4, 32); h.writeUInt16LE(16, 34)
  h.write('data', 36); h.writeUInt32LE(pcm.length, 40)
  return Buffer.concat([h, pcm])
}
