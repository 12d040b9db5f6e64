import test from 'ava'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AutoToken, JOIN_TOKEN_FILE } from './auto-token.js'

test('the generated join token is shown once and kept only as a scrypt hash; an old clear-text file is converted', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'overlan-token-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const first = await AutoToken.load(dir)
  t.truthy(first.plain)
  const stored = readFileSync(join(dir, JOIN_TOKEN_FILE), 'utf8')
  t.false(stored.includes(first.plain!), 'the token is not on disk')
  t.regex(stored, /"scrypt":"scrypt\$/)
  const again = await AutoToken.load(dir)
  t.is(again.plain, null, 'not known after a restart')
  t.true(await again.matches(first.plain!))
  t.true(await again.matches(first.plain!), 'remembered: no second scrypt needed')
  t.false(await again.matches('wrong-token'))
  writeFileSync(join(dir, JOIN_TOKEN_FILE), JSON.stringify({ token: 'legacy-clear-token' }))
  const legacy = await AutoToken.load(dir)
  t.is(legacy.plain, 'legacy-clear-token', 'shown one last time')
  t.false(readFileSync(join(dir, JOIN_TOKEN_FILE), 'utf8').includes('legacy-clear-token'))
  t.true(await (await AutoToken.load(dir)).matches('legacy-clear-token'))
})
