import test from 'ava'
import { floorTable, runFloor } from './floor.js'

test('the floor echo runs both modes in a child process and reports each round trip', async t => {
  const tcp = await runFloor('tcp', 3)
  const tls = await runFloor('tls', 3)
  for (const r of [tcp, tls]) {
    t.is(r.samples, 3)
    t.true(r.medianUs > 0 && r.p90Us >= r.medianUs, JSON.stringify(r))
  }
  t.regex(floorTable([{ tcp, tls }]), /\| tls \| \d+ \|/)
})
