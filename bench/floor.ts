/**
 * The floor under the relay's TLS: a bare Node echo over loopback, once over TCP and once over
 * TLS (the hub's kind of certificate, Node's defaults), two processes, 102-byte messages at the
 * idle bench's pace (one every 50 ms). No overlan code on the path: what TLS costs Node itself
 * on an idle path. One round trip here holds two encrypts and two decrypts; the overlay's
 * relayed round trip twice that (peer a out, the hub twice, peer b in and out, peer a in). If
 * (wss − ws) of the overlay ≈ 2 × (tls − tcp) here, the relay's TLS costs what Node's TLS costs
 * and no more (README "Performance").
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { createSelfSignedCert } from '../core/self-signed-cert.js'
import { median, quantile } from './stats.js'

export type FloorMode = 'tcp' | 'tls'
export interface FloorResult { mode: FloorMode, samples: number, medianUs: number, p90Us: number }

const MESSAGE_BYTES = 102
const GAP_MS = 50

/** The echo server, as its own process (the same JS for both modes: `data` in, `write` out). */
const SERVER = `
import { createServer as tcp } from 'node:net'
import { createServer as tls } from 'node:tls'
const o = JSON.parse(process.argv[1])
const echo = s => { s.setNoDelay(true); s.on('data', d => { s.write(d) }); s.on('error', () => {}) }
const srv = o.tls === null ? tcp(echo) : tls(o.tls, echo)
srv.listen(0, '127.0.0.1', () => { process.stdout.write(srv.address().port + '\\n') })
process.stdin.on('end', () => process.exit(0)); process.stdin.resume()
`

/** `count` round trips of one mode; each message waits for the last echo and GAP_MS. */
export const runFloor = async (mode: FloorMode, count: number): Promise<FloorResult> => {
  const cert = mode === 'tls' ? createSelfSignedCert({ commonName: 'overlan floor', names: ['127.0.0.1'], validDays: 2, now: new Date() }) : null
  const opts = JSON.stringify({ tls: cert === null ? null : { cert: cert.certPem, key: cert.keyPem } })
  const child = spawn(process.execPath, ['--input-type=module', '-e', SERVER, opts], { stdio: ['pipe', 'pipe', 'inherit'] })
  child.on('error', () => {}) // a failed spawn: the wait for its port below gives up after 10 s
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('the floor echo server did not start in 10 s')) }, 10_000)
      child.stdout.once('data', (d: Buffer) => { clearTimeout(timer); resolve(Number(d.toString().trim())) })
      child.once('exit', code => { clearTimeout(timer); reject(new Error(`the floor echo server exited (${code})`)) })
    })
    const socket: Socket = mode === 'tls'
      ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false })
      : netConnect({ host: '127.0.0.1', port })
    await once(socket, mode === 'tls' ? 'secureConnect' : 'connect')
    socket.setNoDelay(true)
    const message = Buffer.alloc(MESSAGE_BYTES, 0x5a)
    const rtts: number[] = []
    let deadline: NodeJS.Timeout | undefined
    let next: NodeJS.Timeout | undefined
    try {
      await new Promise<void>((resolve, reject) => {
        let sentAt = 0
        let got = 0
        deadline = setTimeout(() => { reject(new Error(`floor ${mode}: ${rtts.length} of ${count} echoes in time`)) }, count * (GAP_MS + 100) + 10_000)
        const send = (): void => { got = 0; sentAt = performance.now(); socket.write(message) }
        socket.on('error', reject)
        socket.on('data', (d: Buffer) => {
          got += d.length
          if (got < MESSAGE_BYTES) return
          rtts.push((performance.now() - sentAt) * 1000)
          if (rtts.length === count) { resolve(); return }
          next = setTimeout(send, GAP_MS)
        })
        send()
      })
    } finally {
      clearTimeout(deadline)
      clearTimeout(next)
      socket.destroy()
    }
    return { mode, samples: rtts.length, medianUs: median(rtts), p90Us: quantile(rtts, 0.9) }
  } finally {
    child.stdin.end()
    child.kill()
  }
}

export interface FloorRound { tcp: FloorResult, tls: FloorResult }

/** Interleaved rounds (tcp, then tls) so drift on the machine hits both alike. */
export const runFloorRounds = async (rounds: number, count: number, log: (s: string) => void): Promise<FloorRound[]> => {
  const out: FloorRound[] = []
  for (let r = 0; r < rounds; r++) {
    const tcp = await runFloor('tcp', count)
    const tls = await runFloor('tls', count)
    log(`floor round ${r + 1}: tcp ${tcp.medianUs.toFixed(0)} µs, tls ${tls.medianUs.toFixed(0)} µs`)
    out.push({ tcp, tls })
  }
  return out
}

export const floorTable = (rs: FloorRound[]): string => {
  const m = (f: (r: FloorRound) => number): number => median(rs.map(f))
  const tcp = m(r => r.tcp.medianUs)
  const tls = m(r => r.tls.medianUs)
  return [
    `Node's own TLS floor (bench/floor.ts): a bare echo over loopback between two Node processes, ${rs[0]?.tcp.samples ?? 0} messages of ${MESSAGE_BYTES} bytes ${GAP_MS} ms apart per round, ${rs.length} round(s), median of per-round medians (µs):`,
    '',
    '| echo | RTT median | p90 | per round |',
    '|---|---|---|---|',
    `| tcp | ${tcp.toFixed(0)} | ${m(r => r.tcp.p90Us).toFixed(0)} | ${rs.map(r => r.tcp.medianUs.toFixed(0)).join(' / ')} |`,
    `| tls | ${tls.toFixed(0)} | ${m(r => r.tls.p90Us).toFixed(0)} | ${rs.map(r => r.tls.medianUs.toFixed(0)).join(' / ')} |`,
    '',
    `TLS in Node adds ${(tls - tcp).toFixed(0)} µs to a round trip of two encrypts and two decrypts; the overlay's relayed round trip holds twice as many: expected wss − ws ≈ ${(2 * (tls - tcp)).toFixed(0)} µs.`
  ].join('\n')
}
