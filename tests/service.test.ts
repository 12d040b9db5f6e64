/**
 * Running overlan as a service: the systemd units in configs/ pass `systemd-analyze verify`
 * (with ExecStart pointed at this checkout), and `npm install -g` puts `hub` and `peer` on PATH.
 */
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './support/overlay.js'
import { skipWithReason } from './support/skip.js'

const analyze = spawnSync('sh', ['-c', 'command -v systemd-analyze']).status === 0
const withAnalyze = analyze ? test : test.skip
if (!analyze) skipWithReason('unit verification', 'systemd-analyze is not installed (apt-get install systemd)')

withAnalyze('configs/overlan-hub.service and overlan-peer@.service verify cleanly and keep their hardening', t => {
  const dir = mkdtempSync(join(tmpdir(), 'overlan-units-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  for (const [unit, as] of [['overlan-hub.service', 'overlan-hub.service'], ['overlan-peer@.service', 'overlan-peer@friday.service']] as const) {
    const text = readFileSync(join(ROOT, 'configs', unit), 'utf8')
    for (const line of ['CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'Restart=on-failure']) t.true(text.includes(line), `${unit}: ${line}`)
    t.regex(text, /^StateDirectory=overlan\//m)
    writeFileSync(join(dir, as), text.replace(/ExecStart=\/usr\/bin\/(hub|peer) /, (_, cmd: string) => `ExecStart=${process.execPath} ${join(ROOT, 'dist', cmd, 'cli.js')} `))
  }
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, 'overlan-hub.service'), join(dir, 'overlan-peer@friday.service')], { encoding: 'utf8', timeout: 30_000 })
  const ours = `${r.stdout}${r.stderr}`.split('\n').filter(l => l.includes('overlan-'))
  t.is(r.status, 0, r.stderr)
  t.deepEqual(ours, [], 'no warning about our units')
})

test('npm install -g puts hub and peer on PATH', t => {
  const prefix = mkdtempSync(join(tmpdir(), 'overlan-global-'))
  t.teardown(() => { rmSync(prefix, { recursive: true, force: true }) })
  // --ignore-scripts: `prepare` would rebuild dist/ under the e2e tests running beside this one
  // (a peer starting mid-build loads half-written modules); `npm test` built it already.
  const i = spawnSync('npm', ['install', '-g', '--prefix', prefix, ROOT, '--no-audit', '--no-fund', '--ignore-scripts'], { encoding: 'utf8', timeout: 120_000 })
  t.is(i.status, 0, i.stderr)
  for (const cmd of ['hub', 'peer']) {
    const v = spawnSync(join(prefix, 'bin', cmd), ['--version'], { encoding: 'utf8' })
    t.is(v.stdout.trim(), `overlan ${cmd} ${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}`, v.stderr)
  }
})
