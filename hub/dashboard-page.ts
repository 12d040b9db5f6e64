/**
 * The dashboard's page: plain HTML, CSS and JavaScript in one document served by the hub (no
 * CDN, no build step). It opens `GET /events` (Server-Sent Events, a snapshot every second)
 * and renders rooms, members, RTTs, rates, drops, the services directory and the hub's
 * health; its buttons call the admin API (kick, impairment, invites). Everything that comes
 * from peers is set with textContent, never parsed as HTML.
 */
export const LOGIN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>overlan hub — sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px system-ui,sans-serif;margin:4em auto;max-width:24em;color:#222}input,button{font:inherit;padding:.4em;width:100%;box-sizing:border-box;margin:.3em 0}</style>
</head><body><h1>overlan hub</h1>
<form method="post" action="/login"><label>Admin token<input type="password" name="token" autocomplete="current-password" autofocus></label>
<button type="submit">Sign in</button></form>
<p id="err" style="color:#a00"></p>
<script>if (location.search.includes('failed')) document.getElementById('err').textContent = 'Wrong token.'</script>
</body></html>
`

export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>overlan hub</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#1d1d1f;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .2em} h2{font-size:1.15em;margin:1.4em 0 .4em}
.health{color:#555} .health span{margin-right:1.2em}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0002}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #eee;white-space:nowrap}
th{background:#f0f0f3;font-weight:600} td.num{text-align:right;font-variant-numeric:tabular-nums}
.room{margin-bottom:2em} .tools{margin:.5em 0} .tools input{width:5em} button{cursor:pointer}
.relay{color:#8a5a00} .direct{color:#176b2c} .muted{color:#888} #invite{font-family:monospace;word-break:break-all}
</style></head><body>
<h1>overlan hub</h1>
<div class="health" id="health">connecting…</div>
<div id="rooms"></div>
<script>
'use strict'
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e }
const fmtBytes = n => n < 1024 ? n.toFixed(0) + ' B/s' : n < 1048576 ? (n / 1024).toFixed(1) + ' KiB/s' : (n / 1048576).toFixed(1) + ' MiB/s'
const fmtMs = x => x === null || x === undefined ? '–' : x.toFixed(x < 10 ? 2 : 0) + ' ms'
const fmtS = s => s === null ? '–' : s < 60 ? s + ' s' : s < 3600 ? Math.floor(s / 60) + ' min' : (s / 3600).toFixed(1) + ' h'
const post = async (method, path, body) => {
  const r = await fetch(path, { method, headers: { 'content-type': 'application/json', 'x-overlan': '1' }, body: JSON.stringify(body) })
  const j = await r.json().catch(() => ({}))
  if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status))
  return j
}
const render = snap => {
  const h = document.getElementById('health')
  const c = snap.cluster
  const facts = [['peers', snap.health.peers], ['rooms', snap.health.rooms], ['memory', (snap.health.rssMiB).toFixed(0) + ' MiB'], ['uptime', fmtS(snap.health.uptimeS)]]
  if (c) facts.push(['cluster', c.hub + ' owns ' + (c.owns.join(', ') || 'no room') + '; live hubs ' + c.hubs.join(', ') + '; store ' + c.store])
  h.replaceChildren(...facts.map(([k, v]) => { const s = el('span'); s.append(el('b', k + ' '), document.createTextNode(v)); return s }))
  const rooms = document.getElementById('rooms')
  const keep = new Map([...rooms.children].map(c => [c.dataset.room, c]))
  const out = []
  for (const r of snap.rooms) {
    let box = keep.get(r.name)
    if (!box) { box = el('div', undefined, 'room'); box.dataset.room = r.name; box.append(el('h2'), el('div', undefined, 'tools'), el('table'), el('h3'), el('table')); tools(box, r.name) }
    box.children[0].textContent = 'room ' + r.name + ' — ' + r.peers.length + ' peer(s), ' + r.subnet
    const t = box.children[2]
    const head = el('tr'); for (const c of ['name', 'address', 'MAC', 'online', 'RTT to hub', 'path', 'in', 'out', 'drops', '']) head.append(el('th', c))
    const rows = [head]
    for (const p of r.peers) {
      const tr = el('tr'); tr.dataset.peer = p.name
      tr.append(el('td', p.name, 'name'), el('td', p.ip), el('td', p.mac), el('td', fmtS(p.onlineS)), el('td', fmtMs(p.rttMs), 'num'), el('td', p.path, p.path), el('td', fmtBytes(p.rxBps), 'num'), el('td', fmtBytes(p.txBps), 'num'),
        el('td', Object.entries(p.drops).map(([k, n]) => k + ' ' + n).join(', ') || '–', 'muted'))
      const b = el('button', 'kick'); b.onclick = () => { post('POST', '/admin/rooms/' + encodeURIComponent(r.name) + '/kick', { name: p.name }).catch(e => alertBox(box, e.message)) }
      const td = el('td'); td.append(b); tr.append(td); rows.push(tr)
    }
    t.replaceChildren(...rows)
    box.children[3].textContent = 'services'
    const d = box.children[4]
    const dh = el('tr'); for (const c of ['peer', 'kind', 'type', 'name', 'address', 'port', 'detail']) dh.append(el('th', c))
    d.replaceChildren(dh, ...r.services.map(s => { const tr = el('tr'); for (const v of [s.peer, s.kind, s.type, s.name, s.address, s.port ?? '', s.detail]) tr.append(el('td', v)); return tr }))
    out.push(box)
  }
  rooms.replaceChildren(...out)
}
const alertBox = (box, text) => { const p = el('p', text, 'muted'); box.children[1].append(p); setTimeout(() => p.remove(), 5000) }
const tools = (box, room) => {
  const t = box.children[1]
  const delay = el('input'); delay.placeholder = 'delay ms'; delay.name = 'delayMs'
  const loss = el('input'); loss.placeholder = 'loss %'; loss.name = 'lossPercent'
  const set = el('button', 'set impairment'); set.className = 'impair'
  set.onclick = () => post('PUT', '/admin/impairment', { room, delayMs: Number(delay.value || 0), lossPercent: Number(loss.value || 0) }).then(() => alertBox(box, 'impairment set'), e => alertBox(box, e.message))
  const inv = el('button', 'new invite'); inv.className = 'invite'
  const shown = el('div', '', 'muted'); shown.id = 'invite'
  inv.onclick = () => post('POST', '/admin/rooms/' + encodeURIComponent(room) + '/invites', { uses: 1, expires: '24h' }).then(j => { shown.textContent = j.result.invite }, e => alertBox(box, e.message))
  t.append(delay, loss, set, document.createTextNode(' '), inv, shown)
}
const es = new EventSource('/events')
es.onmessage = ev => render(JSON.parse(ev.data))
es.onerror = () => { document.getElementById('health').textContent = 'reconnecting…' }
</script>
</body></html>
`
