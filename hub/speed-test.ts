/**
 * One throughput phase of `peer test` at the hub: up — the session's binary data is counted
 * and dropped (hub.ts checks `s.test`); down — filler batches go out as fast as its send queue
 * takes them (waiting, not spinning, while it is full). Each way at most once per
 * TEST_EVERY_MS per session, counted from the end: a member cannot make the hub a traffic
 * generator for long.
 */
import { OPEN } from '../core/websocket/connection.js'
import { TEST_EVERY_MS, encodeBatch, encodeControl } from '../core/protocol.js'
import { parseMac } from '../l2/ethernet.js'
import type { Session } from './session.js'

export const speedTestPhase = (s: Session, direction: 'up' | 'down', ms: number, sendQueueBytes: number): void => {
  const now = performance.now()
  if (s.test !== null || now - s.lastTestAt[direction] < TEST_EVERY_MS) { s.counters.drops.test_rate++; return }
  s.lastTestAt[direction] = now
  const test = s.test = { direction, until: now + ms, bytes: 0, start: now }
  const finish = (): void => {
    if (s.test !== test) return
    s.test = null
    s.lastTestAt[direction] = performance.now()
    s.sendControl(encodeControl({ type: 'test_result', direction, bytes: test.bytes, ms: Math.round(performance.now() - test.start) }))
  }
  if (direction === 'up') { setTimeout(finish, ms).unref(); return }
  const filler = fillerBatch(s.info!.mac)
  const pump = (): void => {
    if (s.test !== test || s.ws.readyState !== OPEN) return
    if (performance.now() >= test.until) { finish(); return }
    let sent = 0
    for (; sent < 16 && s.ws.bufferedAmount < sendQueueBytes; sent++) { s.ws.sendBinary(filler, 0, filler.length); test.bytes += filler.length }
    if (sent === 0) setTimeout(pump, 1)
    else setImmediate(pump)
  }
  pump()
}

/** 32 full-size frames to the peer itself (it discards them during a test), EtherType 0x88b5 (local experimental). */
const fillerBatch = (mac: string): Buffer => {
  const frame = Buffer.alloc(1414)
  frame.writeUIntBE(parseMac(mac)!, 0, 6)
  frame.writeUIntBE(0x060000000001, 6, 6)
  frame.writeUInt16BE(0x88b5, 12)
  return encodeBatch(Array.from({ length: 32 }, () => frame))
}
