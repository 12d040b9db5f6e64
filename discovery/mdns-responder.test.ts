import test from 'ava'
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:dgram'
import { createLogger } from '../core/log.js'
import { MdnsResponder } from './mdns-responder.js'

/** A socket that throws after close, as node:dgram does (ERR_SOCKET_DGRAM_NOT_RUNNING). */
class ClosingSocket extends EventEmitter {
  sent = 0
  closed = false
  send (): void {
    if (this.closed) throw Object.assign(new Error('Not running'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' })
    this.sent++
  }
}

test('stopped while a probe waits on its timer, then the socket closed: nothing more is sent, nothing throws', async t => {
  const socket = new ClosingSocket()
  let wake = (): void => {}
  const sleep = async (): Promise<void> => await new Promise<void>(resolve => { wake = resolve })
  const r = new MdnsResponder({ name: 'alice', ipv4: '10.77.0.1' }, { socket: socket as unknown as Socket, log: createLogger('test', { level: 'error' }), sleep })
  const started = r.start()
  t.is(socket.sent, 1, 'the first probe')
  r.stop()
  socket.closed = true // the presence closes the socket right after stop()
  wake()
  await t.notThrowsAsync(started)
  t.is(socket.sent, 1)
})
