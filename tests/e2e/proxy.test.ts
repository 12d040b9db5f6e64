/**
 * The hub behind a TLS-terminating reverse proxy, as the README's nginx example sets it up:
 * Debian's nginx in the hub's namespace on 443 forwards the WebSocket upgrade to the hub on
 * 127.0.0.1:8080 (--no-tls, trustedProxies: [127.0.0.1]). Peers join through it and ping;
 * the hub logs their real addresses (X-Forwarded-For); a location that does not forward the
 * upgrade makes the peer say so.
 */
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { netnsUnavailable, waitForOutput, type Proc } from '../support/netns.js'
import { HUB, Overlay, PEER, TOKEN } from '../support/overlay.js'
import { waitFor } from '../support/wait.js'
import { skipWithReason } from '../support/skip.js'

const NGINX = '/usr/sbin/nginx'
const skip = netnsUnavailable(['ip', 'ping', 'openssl', NGINX])
const serial = skip === null ? test.serial : test.serial.skip
if (skip !== null) skipWithReason('e2e reverse-proxy tests', `${skip} (apt-get install nginx openssl)`)

/** The README's nginx example, with paths for a test (and a /broken/ location without the upgrade headers). */
const nginxConf = (dir: string): string => `user root;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 443 ssl;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    location / {
      proxy_pass http://127.0.0.1:8080;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }
    location /broken/ {
      proxy_pass http://127.0.0.1:8080/;
    }
  }
}
`

const o = new Overlay('prx')
const ns = (name: string): string => o.topo.host(name).ns
let hub: Proc | null = null

if (skip === null) {
  test.before(async () => {
    await o.init(['alice', 'bob'])
    const dir = join(o.topo.dir, 'nginx')
    execFileSync('mkdir', ['-p', join(dir, 'tmp')])
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=hub',
      '-addext', `subjectAltName=IP:${o.topo.host('alice').hubIp},IP:${o.topo.host('bob').hubIp}`], { stdio: 'ignore' })
    writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir))
    writeFileSync(join(o.topo.dir, 'hub.yaml'), 'trustedProxies: [127.0.0.1]\n')
    hub = o.topo.start('hub', o.topo.hubNs, 'node', [HUB, '--config', join(o.topo.dir, 'hub.yaml'), '--listen', '127.0.0.1:8080', '--no-tls', '--state', join(o.topo.dir, 'hub'), '--token', TOKEN])
    await waitForOutput(hub, /peer join --hub/)
    const nginx = o.topo.start('nginx', o.topo.hubNs, NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off; master_process off;'])
    await waitFor('nginx on 443', async () => (await o.topo.run(o.topo.hubNs, 'sh', ['-c', 'ss -ltn | grep -q ":443 "'])).code === 0 || nginx.exitCode !== null, 10_000, 100)
    if (nginx.exitCode !== null) throw new Error(`nginx exited: ${nginx.output}`)
  })
  test.after.always(async () => { await o.cleanup() })
}

const join_ = (name: string, path = ''): Proc => o.topo.start(name, ns(name), 'node', [PEER, 'join', '--hub', `wss://${o.topo.host(name).hubIp}${path}`, '--room', 'friday', '--token', TOKEN,
  '--ca', join(o.topo.dir, 'nginx', 'cert.pem'), '--name', name, '--state', join(o.topo.dir, name), '--config', join(o.topo.dir, 'peer.yaml')])

serial('peers join through nginx and ping; the hub logs their real addresses', async t => {
  const a = join_('alice')
  await waitForOutput(a, /joined room friday/)
  const b = join_('bob')
  await waitForOutput(b, /joined room friday/)
  const bobIp = (JSON.parse((await o.topo.run(ns('bob'), 'node', [PEER, 'status', '--json'])).stdout) as { address: string }).address.split('/')[0]!
  const ping = await o.topo.run(ns('alice'), 'ping', ['-c', '3', '-W', '2', bobIp])
  t.is(ping.code, 0, ping.stdout)
  await waitFor('both joins logged', () => /peer\.join .*name=alice .*remote=172\.30\.1\.2:/.test(hub!.output) && /peer\.join .*name=bob .*remote=172\.30\.2\.2:/.test(hub!.output), 5000)
  t.notRegex(hub!.output, /peer\.join [^\n]*remote=127\.0\.0\.1/, 'no peer is logged as the proxy')
  await a.stop()
  await b.stop()
})

serial('a proxy that does not forward the upgrade: the peer says so', async t => {
  writeFileSync(join(o.topo.dir, 'peer-short.yaml'), 'reconnectMinS: 0.2\nreconnectMaxS: 1\njoinTimeoutS: 3\n')
  const p = o.topo.start('alice-broken', ns('alice'), 'node', [PEER, 'join', '--hub', `wss://${o.topo.host('alice').hubIp}/broken/`, '--room', 'friday', '--token', TOKEN,
    '--ca', join(o.topo.dir, 'nginx', 'cert.pem'), '--name', 'alice', '--state', join(o.topo.dir, 'alice'), '--config', join(o.topo.dir, 'peer-short.yaml')])
  t.is(await p.exited, 4)
  t.regex(p.output, /HTTP \d{3} from the proxy: is WebSocket upgrade forwarded\?/)
})
