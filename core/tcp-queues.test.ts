import test from 'ava'
import { spawnSync } from 'node:child_process'
import { createConnection, createServer, type Socket } from 'node:net'
import { RCVBUF_BYTES, limitTcpQueues } from './tcp-queues.js'

test('caps the receive buffer of a real TCP connection (seen by ss); anything else is a no-op', async t => {
  t.false(limitTcpQueues({}), 'no handle')
  t.false(limitTcpQueues(null))
  const server = createServer(() => {})
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const client: Socket = await new Promise(resolve => { const c = createConnection(port, '127.0.0.1', () => resolve(c)) })
  try {
    if (process.platform !== 'linux') { t.false(limitTcpQueues(client)); return }
    t.true(limitTcpQueues(client))
    const ss = spawnSync('ss', ['-tmnH', 'dst', `127.0.0.1:${port}`], { encoding: 'utf8' })
    if (ss.status !== 0) { t.log('ss not available: checked the return value only'); return }
    // skmem:(r0,rbN,...): the kernel doubles what was set (socket(7)).
    t.regex(ss.stdout, new RegExp(`rb${RCVBUF_BYTES * 2}\\b`), ss.stdout)
  } finally {
    client.destroy()
    server.close()
  }
})
