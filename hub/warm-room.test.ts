import test from 'ava'
import { decodeBatch } from '../core/protocol.js'
import type { WsConnection } from '../core/websocket/connection.js'
import { resolveHubSettings } from './config.js'
import { warmRoom } from './warm-room.js'

test('the keep-warm message is switched through the scratch room back to the connection it came on', t => {
  const sent: Buffer[] = []
  const conn = { readyState: 1, bufferedAmount: 0, sendBinary: (b: Buffer, off: number, len: number) => { sent.push(Buffer.from(b.subarray(off, off + len))); return true } } as unknown as WsConnection
  const w = warmRoom(resolveHubSettings({}, { token: 't' }).autoRoom, () => 1000)
  for (let i = 0; i < 3; i++) w.echo(conn, w.message, 0, w.message.length)
  t.is(sent.length, 3, 'unicast to the other scratch member: no drop, no flood')
  t.deepEqual(decodeBatch(sent[0]!), decodeBatch(w.message))
})

test('the auto-room template\'s impairment does not reach the scratch room: a lossy template still echoes every message', t => {
  const sent: Buffer[] = []
  const conn = { readyState: 1, bufferedAmount: 0, sendBinary: (b: Buffer, off: number, len: number) => { sent.push(Buffer.from(b.subarray(off, off + len))); return true } } as unknown as WsConnection
  const template = resolveHubSettings({ impairment: { lossPercent: 100, delayMs: 50 } }, { token: 't' }).autoRoom
  t.is(template.impairment.room.lossPercent, 100)
  const w = warmRoom(template, () => 1000)
  for (let i = 0; i < 3; i++) w.echo(conn, w.message, 0, w.message.length)
  t.is(sent.length, 3, 'none dropped, none delayed')
})
