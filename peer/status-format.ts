/** Human form of `peer status`. */
import type { PeerStatus } from './peer.js'
import type { RoomMessage } from '../core/protocol.js'
import type { Finding } from './doctor.js'
import { describeServices } from '../discovery/directory.js'
import type { SpeedTestResult } from './speed-test.js'
import type { PingResult } from './ping.js'

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
const bytes = (n: number): string => {
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]!}`
}
const ms = (x: number | null): string => x === null ? '-' : `${x < 10 ? x.toFixed(2) : x.toFixed(0)} ms`
const duration = (s: number | null): string => {
  if (s === null) return '-'
  const h = Math.floor(s / 3600); const m = Math.floor((s % 3600) / 60)
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`
}

/** "unicast 120, arp 3, mdns 4" — the classes with traffic, in table order. */
const classes = (frames: Record<string, number>): string => {
  const parts = Object.entries(frames).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`)
  return parts.length > 0 ? parts.join(', ') : '-'
}

export const formatStatus = (s: PeerStatus): string => {
  const drops = Object.entries(s.counters.drops).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`)
  if (s.tap.writeDrops > 0) drops.push(`tap_write=${s.tap.writeDrops}`)
  const lines = [
    `peer ${s.iface}: ${s.state}`,
    `  room       ${s.room}`,
    `  name       ${s.name}`,
    `  address    ${s.address ?? '-'}`,
    `  mac        ${s.mac ?? '-'}`,
    `  mtu        ${s.mtu ?? '-'}`,
    `  hub        ${s.hub}`,
    `  uptime     ${duration(s.uptimeS)} (connected ${duration(s.connectedS)}, ${s.counters.reconnects} reconnects)`,
    `  sent       ${s.counters.sentFrames} frames, ${bytes(s.counters.sentBytes)}`,
    `  received   ${s.counters.receivedFrames} frames, ${bytes(s.counters.receivedBytes)}`,
    `  drops      ${drops.length > 0 ? drops.join(' ') : 'none'}`
  ]
  lines.push(`  sent by    ${classes(s.sentByClass.frames)}`)
  lines.push(`  recv by    ${classes(s.receivedByClass.frames)}`)
  if (s.mssClamped > 0) lines.push(`  mss        ${s.mssClamped} TCP SYNs clamped to the room MTU`)
  if (s.lastError !== null) lines.push(`  last error ${s.lastError}`)
  const r = s.hubRtt
  lines.push(`  hub rtt    ${r.samples === 0 ? '-' : `last ${ms(r.lastMs)}, median ${ms(r.medianMs)}, p95 ${ms(r.p95Ms)} (${r.samples} samples)`}`)
  const d = s.direct
  lines.push(`  direct     ${!d.enabled ? 'off' : `${d.reaching} of ${s.members.length} member(s) peer to peer; UDP port ${d.localPort ?? '-'}, seen by the hub as ${d.reflexive ?? '-'}`}`)
  lines.push(`  members    ${s.members.length === 0 ? '(none)' : s.members.map(m => `${m.name} ${m.ip} ${m.path === 'direct' ? 'direct' : 'via hub'}${m.rttMs !== null ? ` ${ms(m.rttMs)}` : ''}`).join(', ')}`)
  return lines.join('\n') + '\n'
}

/** `peer list`: one line per member, with what the hub's directory says it offers. */
export const formatRoom = (r: RoomMessage): string => {
  const services = describeServices(r.services)
  const width = Math.max(4, ...r.members.map(m => m.name.length))
  const lines = [`room ${r.room}: ${r.members.length} peer(s)`]
  for (const m of [...r.members].sort((a, b) => a.name.localeCompare(b.name))) {
    const offers = services.get(m.name) ?? []
    const since = m.since !== undefined ? `online ${duration(Math.max(0, Math.round((Date.now() - m.since) / 1000)))}` : null
    const rtt = m.hubRttMs !== undefined && m.hubRttMs !== null ? `hub RTT ${ms(m.hubRttMs)}` : null
    const path = m.path !== undefined ? `${m.path === 'direct' ? 'direct' : 'via hub'}${m.rttMs !== null && m.rttMs !== undefined ? ` ${ms(m.rttMs)}` : ''}` : null
    const facts = [path, since, rtt].filter(x => x !== null).join(', ')
    lines.push(`  ${m.name.padEnd(width)}  ${m.ip.padEnd(15)}${offers.length > 0 ? ` — ${offers.join(', ')}` : ''}${facts !== '' ? `${offers.length > 0 ? '; ' : ' '}(${facts})` : ''}`)
  }
  return lines.join('\n') + '\n'
}

/** `peer doctor`: one line per check, with the fix and whether --fix applies it. */
export const formatDoctor = (findings: readonly Finding[], applied: readonly string[]): string => {
  const mark = { ok: 'ok  ', problem: 'FIX ', skipped: 'skip' } as const
  const lines = findings.map(f => {
    let l = `${mark[f.status]} ${f.id.padEnd(10)} ${f.detail}`
    if (f.status === 'problem' && f.fix !== undefined) l += `\n            fix: ${f.fix.text}${f.fix.safe ? ' (safe: applied by peer doctor --fix)' : ''}`
    return l
  })
  for (const a of applied) lines.push(`applied  ${a}`)
  const problems = findings.filter(f => f.status === 'problem').length
  lines.push(problems === 0 ? 'no problems found' : `${problems} problem(s) found`)
  return lines.join('\n') + '\n'
}

/** `peer ping`: one line per reply, with the path it took (as `tailscale ping`). */
export const formatPing = (r: PingResult): string => {
  const lines = r.replies.map(x => x.path === null
    ? `no reply from ${r.name} (${r.ip}) seq ${x.seq} within 2 s`
    : `reply from ${r.name} (${r.ip}) seq ${x.seq} ${x.path === 'direct' ? 'direct' : 'via hub'} in ${ms(x.rttMs)}`)
  const ok = r.replies.filter(x => x.path !== null).length
  lines.push(`${r.replies.length} sent, ${ok} received`)
  return lines.join('\n') + '\n'
}

/** `peer test`, as a bufferbloat test prints it. */
export const formatSpeedTest = (r: SpeedTestResult): string => [
  `idle      RTT ${ms(r.idle.medianMs)} (p95 ${ms(r.idle.p95Ms)})`,
  `upload    ${r.up.mbit.toFixed(1)} Mbit/s, RTT ${ms(r.up.medianMs)} (p95 ${ms(r.up.p95Ms)}), +${ms(r.up.addedMs)} under load`,
  `download  ${r.down.mbit.toFixed(1)} Mbit/s, RTT ${ms(r.down.medianMs)} (p95 ${ms(r.down.p95Ms)}), +${ms(r.down.addedMs)} under load`,
  `bufferbloat grade ${r.grade}`
].join('\n') + '\n'
