/**
 * SMB: Samba (smbd + nmbd) on alice shares a folder as NetBIOS name ALICE, bound to the
 * overlay interface only (its own config and state directories, nothing of the host's).
 * From bob: `nmblookup ALICE` resolves by broadcast, `smbclient -L ALICE` lists the share,
 * a 50 MiB file is downloaded and another uploaded by name with equal SHA-256 both ways.
 * Then once more over 40 ms ± 10 ms and 1 % loss (5 MiB each way: at that loss rate TCP
 * moves ~1–2 Mbit/s, so 50 MiB would take minutes).
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { waitFor } from '../support/wait.js'
import { clientConf, startSamba } from './apps/samba.js'
import { impair, scenario, timed, type Ctx } from './scenario.js'

// alice's peer is named alice-pc, so its own NetBIOS responder answers ALICE-PC and only
// Samba's nmbd answers ALICE.
const { o, serial, ns, ip } = scenario('smb', { needs: ['smbd', 'nmbd', 'smbclient', 'nmblookup'], peers: { alice: 'friday', bob: 'friday' }, peerArgs: { alice: ['--name', 'alice-pc'] } })

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const MiB = 1024 * 1024

const transfer = async (t: Ctx, label: string, bytes: number, shareDir: string, cli: string, cconf: string): Promise<string> => {
  const down = randomBytes(bytes)
  writeFileSync(join(shareDir, `down-${label}.bin`), down)
  const got = join(cli, `got-${label}.bin`)
  const get = await timed(() => o.topo.run(ns('bob'), 'smbclient', ['-s', cconf, '//ALICE/share', '-N', '-c', `get down-${label}.bin ${got}`], 600_000))
  t.is(get.value.code, 0, get.value.stdout + get.value.stderr)
  t.is(sha(readFileSync(got)), sha(down), `${label}: downloaded file intact`)
  const up = randomBytes(bytes)
  const upFile = join(cli, `up-${label}.bin`)
  writeFileSync(upFile, up)
  const put = await timed(() => o.topo.run(ns('bob'), 'smbclient', ['-s', cconf, '//ALICE/share', '-N', '-c', `put ${upFile} up-${label}.bin`], 600_000))
  t.is(put.value.code, 0, put.value.stdout + put.value.stderr)
  t.is(sha(readFileSync(join(shareDir, `up-${label}.bin`))), sha(up), `${label}: uploaded file intact`)
  const mbit = (ms: number): string => (bytes * 8 / 1e6 / (ms / 1000)).toFixed(1)
  return `${label}: ${bytes / MiB} MiB down in ${(get.ms / 1000).toFixed(2)} s (${mbit(get.ms)} Mbit/s), up in ${(put.ms / 1000).toFixed(2)} s (${mbit(put.ms)} Mbit/s)`
}

serial('Samba on alice: NetBIOS name by broadcast, share list, 50 MiB both ways, then over a bad link', async t => {
  t.timeout(240_000)
  const cli = join(o.topo.dir, 'samba-bob')
  const cconf = clientConf(cli)
  const { smbd, nmbd, shareDir } = startSamba(o.topo, ns('alice'), join(o.topo.dir, 'samba-alice'), 'ALICE')

  const lookup = await timed(() => waitFor('nmblookup ALICE', async () => {
    const r = await o.topo.run(ns('bob'), 'nmblookup', ['-s', cconf, 'ALICE'])
    return new RegExp(`^${ip.alice!.replaceAll('.', '\\.')} ALICE<00>`, 'm').test(r.stdout) ? r.stdout : null
  }, 30_000, 250))
  // The first listing makes smbd start samba-dcerpcd on demand: about 20 s here.
  const list = await waitFor('smbclient -L ALICE', async () => {
    const r = await o.topo.run(ns('bob'), 'smbclient', ['-s', cconf, '-L', 'ALICE', '-N'], 60_000)
    if (nmbd.exitCode !== null || smbd.exitCode !== null) throw new Error(`samba exited: ${nmbd.output.slice(-300)} ${smbd.output.slice(-300)}`)
    return /^\s*share\s+Disk/m.test(r.stdout) ? r.stdout : null
  }, 90_000, 250)
  t.regex(list, /share\s+Disk/)
  t.log(`nmblookup ALICE -> ${ip.alice!} after ${lookup.ms.toFixed(0)} ms (Samba start-up included)`)

  t.log(await transfer(t, 'clean', 50 * MiB, shareDir, cli, cconf))
  await impair(o, 'friday', { delayMs: 40, jitterMs: 10, lossPercent: 1 })
  t.log(await transfer(t, '40ms±10ms-1%loss', 5 * MiB, shareDir, cli, cconf))
  await impair(o, 'friday', {})
  await smbd.stop()
  await nmbd.stop()
})
