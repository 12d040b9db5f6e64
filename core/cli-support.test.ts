import test from 'ava'
import { numberFlag } from './cli-support.js'

test('numberFlag: absent is undefined; blank and junk are NaN for the schema to refuse (Number(\'\') would be 0)', t => {
  t.is(numberFlag(undefined), undefined)
  t.is(numberFlag('2'), 2)
  t.is(numberFlag('0'), 0)
  t.true(Number.isNaN(numberFlag('')))
  t.true(Number.isNaN(numberFlag('  ')))
  t.true(Number.isNaN(numberFlag('two')))
})
