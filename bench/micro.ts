/**
 * Micro-benchmarks of the hub's forwarding path, in process: Room.forward() with sessions
 * whose WebSocket only counts (no I/O), so what is measured is parsing the batch, the
 * switch decision, counters and the hand-off to each destination.
 *   unicast       one full-size frame (MTU 1400) per message to a learned MAC (worst case per frame)
 *   unicast×32    a batch of 32 such frames in one message (a TAP wake-up under load)
 *   broadcast/N   one ARP-sized broadcast to N ports (N = 8, 32, 128)
 * and, on the peer, what a limited broadcast the kernel copied into the TAP costs in the
 * frame path (inspection, source rewrite with both checksums, duplicate check).
 */
import type { WsConnection } from '../core/websocket/connection.js'
import { encodeBatch } from '../core/protocol.js'
import { resolveHubSettings } from '../hub/config.js'
import { Room } from '../hub/room.js'
import { Session } from '../hub/session.js'
import { FramePath } from '../peer/frame-path.js'
import { BROADCAST, ethFrame, udp4Frame } from '../tests/support/frames.js'

export interface MicroResult { name: string, nsPerFrame: number, framesPerS: number }

const macOf = (i: number): string => `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`

/** A counting stand-in for the connection: always open, never backed up. */
class NullSocket { readyState = 1; bufferedAmount = 0; sent = 0; sendBinary (): boolean { this.sent++; return true } sendFramed (): boolean { this.sent++; return true } }

const room = (ports: number): { room: Room, sessions: Session[] } => {
  const settings = resolveHubSettings({}, { token: 'bench-token', maxPeers: 4096, storm: { broadcastPps: 10_000_000, multicastPps: 10_000_000, unknownUnicastPps: 10_000_000, discoveryPps: 10_000_000 } })
  const r = new Room({ ...settings.autoRoom, name: 'bench', token: 'bench-token' }, 0)
  const sessions: Session[] = []
  for (let i = 1; i <= ports; i++) {
    const s = new Session(i, new NullSocket() as unknown as WsConnection, 'bench', 0, 1 << 20)
    s.info = { room: 'bench', identity: `id${i}`, name: `p${i}`, mac: macOf(i), ip: `10.77.${i >> 8}.${i & 255}` }
    r.join(s, 0)
    sessions.push(s)
  }
  return { room: r, sessions }
}

/** A UDP frame of `len` bytes on the wire from port `src` to port `dst` (14 + 20 + 8 header bytes). */
const frame = (dst: number, src: number, len: number): Buffer =>
  udp4Frame(macOf(dst), macOf(src), `10.77.0.${src}`, `10.77.0.${dst}`, 40000, 5001, Buffer.alloc(Math.max(0, len - 42)))

/** A benchmark that forwards nothing (a drop rule firing) would measure the wrong thing. */
const mustHaveSent = (s: Session, what: string): void => {
  if (s.counters.txFrames === 0 || s.counters.drops.queue_full > 0) throw new Error(`${what}: nothing was forwarded (${JSON.stringify(s.counters)})`)
}

/** Runs `step` until `ms` have passed (checking the clock every 1000 steps); ns per frame. */
const measure = (name: string, framesPerStep: number, step: () => void, ms = 1500): MicroResult => {
  for (let i = 0; i < 20_000; i++) step() // warm up (JIT)
  let steps = 0
  const start = process.hrtime.bigint()
  const deadline = start + BigInt(ms) * 1_000_000n
  let now = start
  while (now < deadline) {
    for (let i = 0; i < 1000; i++) step()
    steps += 1000
    now = process.hrtime.bigint()
  }
  const ns = Number(now - start) / (steps * framesPerStep)
  return { name, nsPerFrame: Math.round(ns), framesPerS: Math.round(1e9 / ns) }
}

export const runMicro = (): MicroResult[] => {
  const out: MicroResult[] = []
  {
    const { room: r, sessions } = room(2)
    const [a, b] = sessions as [Session, Session]
    // Both learned: each has sent one frame.
    r.forward(b, encodeBatch([frame(1, 2, 60)]), 0)
    const full = r.settings.mtu + 14
    const one = encodeBatch([frame(2, 1, full)])
    out.push(measure('unicast, 1 frame per message', 1, () => r.forward(a, one, 1)))
    const batch = encodeBatch(Array.from({ length: 32 }, () => frame(2, 1, full)))
    out.push(measure('unicast, 32 frames per message', 32, () => r.forward(a, batch, 1)))
    mustHaveSent(b, 'unicast')
  }
  for (const n of [8, 32, 128]) {
    const { room: r, sessions } = room(n)
    const msg = encodeBatch([ethFrame(BROADCAST, macOf(1))])
    out.push(measure(`broadcast to ${n} ports`, 1, () => r.forward(sessions[0]!, msg, 1)))
    mustHaveSent(sessions[n - 1]!, `broadcast to ${n}`)
  }
  {
    const path = new FramePath()
    path.setMtu(1400)
    path.copy.address = 0x0a4d000c
    path.copy.mac = 0x02000000000c
    const copied = udp4Frame('ff:ff:ff:ff:ff:ff', '02:00:00:00:00:0c', '172.31.9.2', '255.255.255.255', 40000, 47624, Buffer.alloc(64))
    let n = 0
    const batch = encodeBatch([copied])
    out.push(measure('peer: a copied limited broadcast (source rewrite, duplicate check)', 1, () => {
      batch.writeUInt32BE(0xac1f0902, 2 + 26) // the physical source again, and a new source port each time: never a duplicate
      batch.writeUInt16BE(n++ & 0xffff, 2 + 34)
      if (path.outgoing(batch, 1, n) === null) throw new Error('dropped as a duplicate')
    }))
    if (path.copy.rewritten === 0) throw new Error('nothing was rewritten')
  }
  return out
}
