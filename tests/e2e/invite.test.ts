/**
 * Inviting a friend and removing one, as a hub owner does it, with the real `hub` and
 * `peer` commands in namespaces: `hub invite` on the hub's machine prints a link; the friend
 * runs `peer join LINK` (no token, no certificate file) and pings; `hub ban` ends the friend's
 * peer with BANNED (exit 3), and a later `peer join --room friday` from the same key is refused.
 */
import test from 'ava'
import { join } from 'node:path'
import { netnsUnavailable, waitForOutput } from '../support/netns.js'
import { HUB, Overlay, PEER } from '../support/overlay.js'
import { waitFor } from '../support/wait.js'
import { skipWithReason } from '../support/skip.js'

const skip = netnsUnavailable(['ip', 'ping'])
const serial = skip === null ? test.serial : test.serial.skip
if (skip !== null) skipWithReason('e2e invite tests', skip)

const o = new Overlay('inv')
const ns = (name: string): string => o.topo.host(name).ns

if (skip === null) {
  test.before(async () => {
    await o.init(['alice', 'bob'])
    await o.startHub()
    await o.startPeer('alice', 'friday')
  })
  test.after.always(async () => { await o.cleanup() })
}

serial('hub invite -> peer join INVITE -> ping; hub ban -> the friend\'s peer exits 3 with BANNED, and stays out', async t => {
  const hubState = join(o.topo.dir, 'hub')
  const made = await o.topo.run(o.topo.hubNs, 'node', [HUB, 'invite', '--room', 'friday', '--name', 'bob', '--state', hubState])
  t.is(made.code, 0, made.stderr)
  const invite = made.stdout.trim().split('\n').pop()!
  t.regex(invite, /^overlan:\/\/[^/]+\/friday\?pin=sha256%3A[0-9a-f]{64}&invite=/, made.stdout)
  const bobState = join(o.topo.dir, 'bob')
  const bob = o.topo.start('bob', ns('bob'), 'node', [PEER, 'join', invite, '--state', bobState, '--config', join(o.topo.dir, 'peer.yaml')])
  await waitForOutput(bob, /joined room friday as bob/)
  const alice = (await o.status('alice')).address.split('/')[0]!
  const ping = await o.topo.run(ns('bob'), 'ping', ['-c', '2', '-W', '2', alice])
  t.is(ping.code, 0, ping.stdout)
  const listed = await o.topo.run(o.topo.hubNs, 'node', [HUB, 'peers', '--room', 'friday', '--state', hubState])
  t.regex(listed.stdout, /^bob\s+10\.77\.0\.\d+\s+02(:[0-9a-f]{2}){5}\s+online .*sha256:[0-9a-f]{32}/m, listed.stdout)
  const used = await o.topo.run(o.topo.hubNs, 'node', [HUB, 'invites', '--room', 'friday', '--state', hubState])
  t.regex(used.stdout, /no open invites/, 'the one-use invite is spent')

  const banned = await o.topo.run(o.topo.hubNs, 'node', [HUB, 'ban', '--room', 'friday', 'bob', '--state', hubState])
  t.is(banned.code, 0, banned.stderr)
  t.is(await bob.exited, 3)
  t.regex(bob.output, /peer: BANNED: banned from room friday/)
  // The remembered room, the same key: refused.
  const again = o.topo.start('bob-again', ns('bob'), 'node', [PEER, 'join', '--room', 'friday', '--state', bobState, '--config', join(o.topo.dir, 'peer.yaml')])
  t.is(await again.exited, 3)
  t.regex(again.output, /BANNED/)
  await waitFor('bob gone from the hub', async () => !(await o.topo.run(o.topo.hubNs, 'node', [HUB, 'peers', '--room', 'friday', '--state', hubState])).stdout.includes('bob'), 5000)
})
