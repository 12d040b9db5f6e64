/**
 * The Linux TAP through the real OS boundary (peer/os/linux.ts) in a namespace of its own:
 * a batch handler that throws is counted, and the TAP is read on (inside koffi's callback a
 * throw would vanish and leave the device unread).
 */
import test from 'ava'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Topology, netnsUnavailable } from '../support/netns.js'
import { skipWithReason } from '../support/skip.js'

const skip = netnsUnavailable(['ip'])
if (skip !== null) skipWithReason('e2e TAP tests', skip)
const GUARD = join(fileURLToPath(import.meta.url), '../../support/tap-guard.mjs')

if (skip === null) {
  const topo = new Topology('tap')
  test.after.always(async () => { await topo.cleanup() })

  test('a TAP batch handler that throws is counted and reading goes on', async t => {
    await topo.init()
    const r = await topo.run(topo.hubNs, 'node', [GUARD], 20_000)
    t.is(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout) as { calls: number, handlerErrors: number, readFrames: number }
    t.true(out.calls >= 3, `the handler was called ${out.calls} time(s): reading stopped after the throw`)
    t.is(out.handlerErrors, 1)
  })
}
