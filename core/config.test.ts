import test from 'ava'
import { didYouMean } from './cli-support.js'
import { z } from 'zod'
import { parseConfig, loadConfigFile } from './config.js'
import { OverlanError } from './errors.js'

const Schema = z.strictObject({
  listen: z.string().optional(),
  rooms: z.record(z.string(), z.strictObject({ token: z.string().min(8), mtu: z.number().int().optional() })).optional()
})

const errorOf = (text: string): string => {
  try {
    parseConfig(text, 'hub.yaml', Schema)
  } catch (e) {
    if (e instanceof OverlanError) { return `${e.code} ${e.message}` }
    throw e
  }
  throw new Error('expected an error')
}

test('valid config parses', t => {
  t.deepEqual(parseConfig('listen: 0.0.0.0:443\nrooms:\n  friday:\n    token: abcdefgh\n', 'hub.yaml', Schema),
    { listen: '0.0.0.0:443', rooms: { friday: { token: 'abcdefgh' } } })
  t.deepEqual(parseConfig('', 'empty.yaml', Schema), {})
})

test('schema errors name file, line, column and field', t => {
  t.is(errorOf('rooms:\n  friday:\n    token: abcdefgh\n    mtu: big\n'),
    'CONFIG_INVALID hub.yaml:4:10 rooms.friday.mtu: Invalid input: expected number, received string')
  t.regex(errorOf('rooms:\n  friday:\n    token: short\n'), /^CONFIG_INVALID hub.yaml:3:12 rooms\.friday\.token: Too small/)
})

test('unknown fields point at the key itself', t => {
  t.is(errorOf('listen: x\nlisten_port: 5\n'), 'CONFIG_INVALID hub.yaml:2:1 listen_port: unknown field')
  t.is(errorOf('rooms:\n  friday:\n    token: abcdefgh\n    tokn: x\n'), 'CONFIG_INVALID hub.yaml:4:5 rooms.friday.tokn: unknown field (did you mean token?)')
})

test('a missing required field is reported at its parent', t => {
  t.regex(errorOf('rooms:\n  friday:\n    mtu: 1400\n'), /^CONFIG_INVALID hub.yaml:3:5 rooms\.friday\.token: /)
})

test('YAML syntax errors and duplicate keys carry positions', t => {
  t.regex(errorOf('listen: a\nlisten: b\n'), /^CONFIG_INVALID hub.yaml:2:1 \(top level\): Map keys must be unique/)
  t.regex(errorOf('rooms:\n  friday: [\n'), /^CONFIG_INVALID hub.yaml:\d+:\d+ /)
})

test('a missing file is CONFIG_NOT_FOUND', t => {
  const e = t.throws(() => loadConfigFile('/nonexistent/overlan.yaml', Schema), { instanceOf: OverlanError })
  t.is(e?.code, 'CONFIG_NOT_FOUND')
  t.regex(e?.message ?? '', /\/nonexistent\/overlan.yaml: ENOENT/)
})

test('did you mean: the nearest command or flag within two edits, or a prefix; nothing when far', t => {
  t.is(didYouMean('jion', ['join', 'status', 'list']), ' (did you mean join?)')
  t.is(didYouMean('--hbu', ['--hub', '--name']), ' (did you mean --hub?)')
  t.is(didYouMean('stat', ['join', 'status']), ' (did you mean status?)')
  t.is(didYouMean('xyzzy', ['join', 'status']), '')
})
