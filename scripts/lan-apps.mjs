#!/usr/bin/env node
// `npm run lan-apps [-- NAME…]`: runs the scenarios in tests/lan-apps (all, or those named,
// e.g. `npm run lan-apps -- smb game`) and closes with "N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'

const all = readdirSync('tests/lan-apps').filter(f => f.endsWith('.test.ts')).map(f => f.replace(/\.test\.ts$/, ''))
const names = process.argv.slice(2)
const unknown = names.filter(n => !existsSync(`tests/lan-apps/${n}.test.ts`))
if (unknown.length > 0) { console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${all.join(', ')}`); process.exit(2) }
const files = (names.length > 0 ? names : all).map(n => `tests/lan-apps/${n}.test.ts`)
const r = spawnSync('bash', ['-c', `set -o pipefail; npx ava --verbose --tap ${files.join(' ')} | node scripts/tap-summary.mjs`], { stdio: 'inherit' })
process.exit(r.status ?? 1)
