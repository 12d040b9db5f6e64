import test from 'ava'
import { hashSecret, verifySecret } from './secrets.js'

test('scrypt hashes: the secret verifies, others and malformed hashes do not; salts differ', async t => {
  const h = await hashSecret('s3cret-invite')
  t.regex(h, /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/)
  t.not(h, await hashSecret('s3cret-invite'), 'a fresh salt each time')
  t.true(await verifySecret('s3cret-invite', h))
  t.false(await verifySecret('s3cret-invitE', h))
  t.false(await verifySecret('s3cret-invite', 'plain-text'))
  t.false(await verifySecret('x', 'scrypt$99999999$8$1$AA$AA'), 'absurd cost refused')
  const all = await Promise.all(Array.from({ length: 6 }, (_, i) => verifySecret(i === 3 ? 's3cret-invite' : 'no', h)))
  t.deepEqual(all, [false, false, false, true, false, false], 'checks queue, none lost')
})
