/**
 * The hub's lifecycle in process: a stop() that arrives while start() is still on its awaits,
 * or a start() that fails half way, leaves nothing behind — no listener, no control socket, no
 * warm loop.
 */
import test from 'ava'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../core/log.js'
import { resolveHubSettings } from '../../hub/config.js'
import { CONTROL_SOCKET } from '../../hub/control-socket.js'
import { Hub } from '../../hub/hub.js'
import { TOKEN } from '../support/hub-fixture.js'

/** Resolves with the error code of a connection attempt, or 'connected'. */
const tryConnect = async (o: { port: number, host: string } | { path: string }): Promise<string> => await new Promise(resolve => {
  const s = connect(o as never)
  s.once('connect', () => { s.destroy(); resolve('connected') })
  s.once('error', (e: NodeJS.ErrnoException) => { resolve(e.code ?? e.message) })
})

test('stop() during start() waits for it and then closes all it opened', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'overlan-it-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const hub = new Hub(resolveHubSettings({}, { listen: '127.0.0.1:0', state: dir, token: TOKEN, keepWarmMs: 2 }), { log: silentLogger })
  const started = hub.start()
  const stopped = hub.stop() // before start() got past its first await
  const port = await started
  await stopped
  t.true(port > 0)
  t.is(await tryConnect({ port, host: '127.0.0.1' }), 'ECONNREFUSED', 'the listener is closed')
  t.not(await tryConnect({ path: join(dir, CONTROL_SOCKET) }), 'connected', 'the control socket is closed')
  t.false(hub.status().keepWarm?.connected ?? false, 'the warm loop is closed')
})

test('a start() that fails half way (its PostgreSQL store never answers) closes its listener, with or without a stop() meanwhile', async t => {
  // Accepts TCP and never speaks: the store's connect times out (3 s) after the listener is up.
  const held: Socket[] = []
  const blackhole = createServer(s => { held.push(s) })
  await new Promise<void>(resolve => { blackhole.listen(0, '127.0.0.1', resolve) })
  t.teardown(() => { for (const s of held) s.destroy(); blackhole.close() })
  const store = `postgres://overlan@127.0.0.1:${(blackhole.address() as AddressInfo).port}/overlan`
  for (const stopMeanwhile of [false, true]) {
    const dir = mkdtempSync(join(tmpdir(), 'overlan-it-'))
    t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
    const hub = new Hub(resolveHubSettings({}, { listen: '127.0.0.1:0', state: dir, token: TOKEN, keepWarmMs: 0, store }), { log: silentLogger })
    const started = hub.start()
    const stopped = stopMeanwhile ? hub.stop() : Promise.resolve()
    const error = await t.throwsAsync(started)
    await stopped
    t.regex(String(error), /timeout|terminated|connect/i, `stop() meanwhile: ${stopMeanwhile}`)
    // The listener was up before the store was asked (listen, then the cluster): it is closed again.
    const listener = (hub as unknown as { server: { address: () => AddressInfo | string | null } | null }).server
    t.truthy(listener, 'start() got as far as listening')
    t.is(listener!.address(), null, `nothing listens once start() failed (stop() meanwhile: ${stopMeanwhile})`)
  }
})
