/** GET /metrics: Prometheus text that parses, only for admins, with counters that move with traffic. */
import test from 'ava'
import { get } from 'node:https'
import { BROADCAST } from '../support/frames.js'
import { marked, received, startHub, startPeer, type Fixture } from '../support/hub-fixture.js'
import { waitFor } from '../support/wait.js'

const scrape = (f: Fixture, auth?: string): Promise<{ status: number, type: string, body: string }> => new Promise((resolve, reject) => {
  get({ host: '127.0.0.1', port: f.port, path: '/metrics', ca: f.hub.tls!.cert, headers: auth !== undefined ? { authorization: `Bearer ${auth}` } : {} }, res => {
    let s = ''
    res.on('data', (d: Buffer) => { s += d.toString() })
    res.on('end', () => { resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: s }) })
  }).on('error', reject)
})

/** The exposition format (text 0.0.4): every sample line is `name{labels} value`, after its # HELP / # TYPE. */
const parse = (text: string): Map<string, number> => {
  const out = new Map<string, number>()
  const typed = new Set<string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const t = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (t !== null) { typed.add(t[1]!); continue }
    if (line.startsWith('# HELP ')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line)
    if (m === null) throw new Error(`not an exposition line: ${line}`)
    const base = m[1]!.replace(/_(bucket|sum|count|total)$/, '')
    if (!typed.has(m[1]!) && !typed.has(base) && !typed.has(m[1]!.replace(/_(bucket|sum|count)$/, ''))) throw new Error(`sample before its TYPE: ${line}`)
    out.set(`${m[1]!}${m[2] ?? ''}`, Number(m[3]))
  }
  return out
}

test('/metrics parses, needs admin, and its counters move with traffic', async t => {
  const f = await startHub(t, { adminToken: 'admin-token-123' })
  t.is((await scrape(f)).status, 401, 'same access as /status')
  const a = await startPeer(t, f, 'alice', 'friday')
  const b = await startPeer(t, f, 'bob', 'friday')
  const before = parse((await scrape(f, 'admin-token-123')).body)
  t.is(before.get('overlan_peers'), 2)
  t.is(before.get('overlan_rooms'), 1)
  t.true((before.get('overlan_hub_process_resident_memory_bytes') ?? 0) > 0, 'process metrics')
  for (let i = 0; i < 5; i++) a.tap.inject(marked(BROADCAST, a.mac, 40 + i))
  a.tap.inject(marked(b.mac, '02:66:66:66:66:66', 50)) // not alice's MAC: a counted drop
  await waitFor('broadcasts at bob', () => received(b, 44) === 1)
  const r = await scrape(f, 'admin-token-123')
  t.regex(r.type, /^text\/plain; version=0\.0\.4/)
  const after = parse(r.body)
  const rx = (m: Map<string, number>): number => [...m].filter(([k]) => k.startsWith('overlan_frames_total{direction="rx"')).reduce((n, [, v]) => n + v, 0)
  t.true(rx(after) >= rx(before) + 5, `rx ${rx(before)} -> ${rx(after)}`)
  t.true((after.get('overlan_frames_total{direction="tx",class="all"}') ?? 0) > (before.get('overlan_frames_total{direction="tx",class="all"}') ?? 0))
  t.is(after.get('overlan_drops_total{reason="src_not_leased"}'), 1)
  t.is(after.get('overlan_joins_total{via="token"}'), 2)
})
