/**
 * What a pass through a Node process costs when it runs after the process sat idle: the
 * limit behind the idle-RTT figures (README "Performance", issues 13 and 14). On an idle path
 * (a ping every 50 ms) each pass meets caches that other work on the machine has filled in the
 * meantime; a C daemon's pass touches a few KiB of code and data, a Node pass the engine's
 * builtins, the FFI's marshalling, the JIT's code and the objects it reads.
 *
 * Measured here, in this process: the pieces of a pass, run in a pass's order after a timer
 * wake-up `gap` ms after the previous one, each timed on its first run after the wake-up and
 * on a second run right after (hot). Medians over the wake-ups, after a warm-up that leaves
 * every piece in optimised code.
 */
import { AEAD_TAG_LEN, openInto, sealInPlace } from '../core/direct/aead.js'
import { encodeBatch } from '../core/protocol.js'
import { libc } from '../core/libc.js'
import { FramePath } from '../peer/frame-path.js'
import { udp4Frame } from '../tests/support/frames.js'
import { median } from './stats.js'

export interface ColdRow { name: string, firstUs: Record<string, number>, hotUs: number }
export interface ColdResult { gapsMs: number[], rows: ColdRow[], wakeUps: number }

const GAPS_MS = [1, 16, 50]
const WAKE_UPS = 120
const WARM_UP = 5000

interface Piece { name: string, run: () => void }

const pieces = (): Piece[] | null => {
  const c = libc()
  if (c === null) return null
  const EFD_NONBLOCK = 0o4000
  const fd = c.eventfd(0, EFD_NONBLOCK) // nothing to read: every read is -1 EAGAIN, one system call
  const eight = Buffer.alloc(8)
  const key = Buffer.alloc(32, 7)
  const packet = Buffer.alloc(13 + 100 + AEAD_TAG_LEN)
  const sealed = Buffer.alloc(13 + 100 + AEAD_TAG_LEN)
  sealInPlace(key, 0, sealed.subarray(0, 13), sealed, 13, 100)
  const plain = Buffer.alloc(100)
  let counter = 1
  const path = new FramePath()
  path.setMtu(1400)
  const frame = encodeBatch([udp4Frame('02:00:00:00:00:02', '02:00:00:00:00:01', '10.77.0.1', '10.77.0.2', 40000, 27960, Buffer.alloc(58))])
  return [
    { name: 'a clock read and one JS operation (the wake-up itself)', run: () => { eight[0] = (eight[0]! + 1) & 255 } },
    { name: 'read(2) through the data path\'s libc binding (EAGAIN)', run: () => { c.read(fd, eight, 0, 8) } },
    { name: 'the peer\'s frame path on one 100-byte UDP frame (FramePath.outgoing)', run: () => { path.outgoing(frame, 1, 0) } },
    { name: 'ChaCha20-Poly1305 seal of 100 bytes (libsodium)', run: () => { sealInPlace(key, counter++, packet.subarray(0, 13), packet, 13, 100) } },
    { name: 'ChaCha20-Poly1305 open of 100 bytes', run: () => { if (openInto(key, 0, sealed.subarray(0, 13), sealed, 13, 100 + AEAD_TAG_LEN, plain) !== 100) throw new Error('open failed') } }
  ]
}

const now = (): number => Number(process.hrtime.bigint()) / 1000

const sample = async (ps: Piece[], gapMs: number): Promise<{ first: number[][], hot: number[][] }> => {
  const first = ps.map(() => [] as number[])
  const hot = ps.map(() => [] as number[])
  for (let w = 0; w < WAKE_UPS; w++) {
    await new Promise(resolve => setTimeout(resolve, gapMs))
    let t = now()
    for (let i = 0; i < ps.length; i++) {
      ps[i]!.run()
      const t1 = now()
      ps[i]!.run()
      const t2 = now()
      first[i]!.push(t1 - t)
      hot[i]!.push(t2 - t1)
      t = now()
    }
  }
  return { first, hot }
}

/** null when the native binding is missing (then nothing of this applies). */
export const runCold = async (): Promise<ColdResult | null> => {
  const ps = pieces()
  if (ps === null) return null
  for (let i = 0; i < WARM_UP; i++) for (const p of ps) p.run()
  const rows: ColdRow[] = ps.map(p => ({ name: p.name, firstUs: {}, hotUs: 0 }))
  const hotAll = ps.map(() => [] as number[])
  for (const gap of GAPS_MS) {
    const s = await sample(ps, gap)
    s.first.forEach((v, i) => { rows[i]!.firstUs[String(gap)] = median(v) })
    s.hot.forEach((v, i) => hotAll[i]!.push(...v))
  }
  hotAll.forEach((v, i) => { rows[i]!.hotUs = median(v) })
  return { gapsMs: GAPS_MS, rows, wakeUps: WAKE_UPS }
}

export const coldTable = (r: ColdResult): string => [
  `The pieces of a pass, run after a timer wake-up (bench/cold.ts; medians of ${r.wakeUps} wake-ups per gap, µs; "hot" is the same piece run again at once):`,
  '',
  `| piece | ${r.gapsMs.map(g => `first, ${g} ms idle`).join(' | ')} | hot |`,
  `|---|${r.gapsMs.map(() => '---|').join('')}---|`,
  ...r.rows.map(row => `| ${row.name} | ${r.gapsMs.map(g => row.firstUs[String(g)]!.toFixed(2)).join(' | ')} | ${row.hotUs.toFixed(2)} |`),
  `| sum | ${r.gapsMs.map(g => r.rows.reduce((s, row) => s + row.firstUs[String(g)]!, 0).toFixed(2)).join(' | ')} | ${r.rows.reduce((s, row) => s + row.hotUs, 0).toFixed(2)} |`
].join('\n')
