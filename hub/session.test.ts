import test from 'ava'
import type { WsConnection } from '../core/websocket/connection.js'
import { MAX_HEADER } from '../core/websocket/frame.js'
import { LIST_BURST, LIST_PER_S, countFrames, decodeBatch, encodeBatch } from '../core/protocol.js'
import { IMPAIRMENT_HOLD_BYTES, Session } from './session.js'
import { Impairment } from './impairment.js'
import { waitFor } from '../tests/support/wait.js'

/** A connection that records what it was given to send, as the real one would frame it (copied, or framed in place). */
const fakeWs = (bufferedAmount = 0): { ws: WsConnection, sent: Buffer[], framed: number[], state: { bufferedAmount: number, readyState: number } } => {
  const sent: Buffer[] = []
  const framed: number[] = []
  const state = { bufferedAmount, readyState: 1 }
  const ws = {
    get bufferedAmount () { return state.bufferedAmount },
    get readyState () { return state.readyState },
    sendBinary: (b: Buffer, off: number, len: number) => { sent.push(Buffer.from(b.subarray(off, off + len))); return true },
    sendFramed: (b: Buffer, off: number, len: number) => { framed.push(off); sent.push(b.subarray(off, off + len)); return true },
    sendText: (text: string) => { sent.push(Buffer.from(text)); return true }
  }
  return { ws: ws as unknown as WsConnection, sent, framed, state }
}

test('batches are sent while the socket queue is below the limit, dropped and counted above it', t => {
  const { ws, sent, state } = fakeWs()
  const s = new Session(1, ws, 'test', 0, 1000)
  const batch = encodeBatch([Buffer.alloc(60), Buffer.alloc(60)])
  s.sendBatch(batch, 2)
  t.is(sent.length, 1)
  t.true(sent[0]!.equals(batch))
  state.bufferedAmount = 1001
  s.sendBatch(batch, 2)
  t.is(sent.length, 1)
  t.is(s.counters.drops.queue_full, 2)
  state.bufferedAmount = 0
  state.readyState = 2 // closing
  s.sendBatch(batch, 2)
  t.is(s.counters.drops.queue_full, 4)
  t.like(s.counters, { txFrames: 2, txBytes: batch.length })
})

test('appended frames are copied into one batch per flush, framed in place behind room for the header', t => {
  const { ws, sent, framed } = fakeWs()
  const s = new Session(1, ws, 'test', 0, 1 << 20)
  const src = encodeBatch([Buffer.alloc(60, 1), Buffer.alloc(100, 2), Buffer.alloc(70, 3)])
  s.append(src, 0, 62)
  s.append(src, 62 + 102, 72)
  s.flush()
  s.flush() // nothing pending: no empty message
  t.is(sent.length, 1)
  t.is(countFrames(sent[0]!), 2)
  t.deepEqual(decodeBatch(sent[0]!), [Buffer.alloc(60, 1), Buffer.alloc(70, 3)])
  src.fill(9) // the sent batch is a copy, independent of the received buffer
  t.deepEqual(decodeBatch(sent[0]!)?.[0], Buffer.alloc(60, 1))
  t.true(framed[0]! >= MAX_HEADER, 'the header fits before the batch')
  s.append(src, 0, 62)
  s.flush()
  t.true(framed[1]! - framed[0]! >= 134 + MAX_HEADER, 'the next batch leaves room for its header after the last one')
})

test('a large run of appends is flushed in bounded messages', t => {
  const { ws, sent } = fakeWs()
  const s = new Session(1, ws, 'test', 0, 1 << 30)
  const one = encodeBatch([Buffer.alloc(1414)])
  for (let i = 0; i < 500; i++) s.append(one, 0, one.length)
  s.flush()
  t.true(sent.every(b => b.length <= 64 * 1024 + one.length))
  t.is(sent.reduce((n, b) => n + countFrames(b), 0), 500)
})

test('impairment: each frame may be lost (counted), the rest is held back by the delay', async t => {
  const { ws, sent } = fakeWs()
  const s = new Session(1, ws, 'test', 0, 1 << 20)
  let n = 0
  s.impairment = new Impairment({ delayMs: 30, jitterMs: 0, lossPercent: 50 }, () => (n++ % 2 === 0 ? 0.1 : 0.9))
  const batch = encodeBatch([Buffer.alloc(60, 1), Buffer.alloc(60, 2), Buffer.alloc(60, 3), Buffer.alloc(60, 4)])
  const start = Date.now()
  s.sendBatch(batch, 4)
  t.is(sent.length, 0, 'nothing leaves before the delay')
  t.is(s.counters.drops.impaired_loss, 2)
  await waitFor('the delayed batch', () => sent.length === 1, 2000, 5)
  t.true(Date.now() - start >= 29)
  t.deepEqual(decodeBatch(sent[0]!), [Buffer.alloc(60, 2), Buffer.alloc(60, 4)])
})

test('impairment: the delayed bytes are bounded (IMPAIRMENT_HOLD_BYTES)', t => {
  const { ws, sent } = fakeWs()
  const s = new Session(1, ws, 'test', 0, 1000)
  s.impairment = new Impairment({ delayMs: 10_000, jitterMs: 0, lossPercent: 0 })
  const batch = encodeBatch([Buffer.alloc(60_000)])
  const fit = Math.floor(IMPAIRMENT_HOLD_BYTES / batch.length)
  for (let i = 0; i <= fit; i++) s.sendBatch(batch, 1)
  t.is(s.counters.drops.queue_full, 1, `only ${fit} batches fit in the hold-back limit`)
  t.is(sent.length, 0)
})

test('flooded frames get half of the send queue, unicast all of it; control messages share the bound', t => {
  const { ws, sent, state } = fakeWs()
  const s = new Session(1, ws, 'test', 0, 1000)
  const batch = encodeBatch([Buffer.alloc(60)])
  state.bufferedAmount = 600
  s.sendBatch(batch, 1, true)
  t.is(s.counters.drops.queue_full, 1, 'a flood over half the queue is dropped')
  s.sendBatch(batch, 1)
  t.is(sent.length, 1, 'unicast still fits')
  s.append(batch, 0, batch.length, true)
  s.flush()
  t.is(s.counters.drops.queue_full, 2, 'a pending batch of flooded frames is a flood too')
  s.append(batch, 0, batch.length, true)
  s.append(batch, 0, batch.length)
  s.flush()
  t.is(sent.length, 2, 'a mixed batch counts as unicast')
  t.true(s.sendControl('{"type":"room"}'))
  state.bufferedAmount = 1001
  t.false(s.sendControl('{"type":"room"}'), 'a control message over the bound is dropped')
  t.is(s.counters.drops.queue_full, 3)
})

test('list is answered at most LIST_PER_S times a second after a burst of LIST_BURST', t => {
  const { ws } = fakeWs()
  const s = new Session(1, ws, 'test', 0, 1000)
  let allowed = 0
  for (let i = 0; i < 100; i++) if (s.allowList(0)) allowed++
  t.is(allowed, LIST_BURST)
  t.true(s.allowList(1000 / LIST_PER_S))
  t.false(s.allowList(1000 / LIST_PER_S))
  t.is(s.counters.drops.list_rate, 100 - LIST_BURST + 1)
})
