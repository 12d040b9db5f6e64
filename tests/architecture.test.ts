/** Who may import whom (STYLE.md): a cheap scan of import lines per folder. */
import test from 'ava'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(fileURLToPath(import.meta.url), '../..')

const sources = (dir: string): string[] => readdirSync(join(ROOT, dir)).flatMap(name => {
  const p = join(dir, name)
  if (statSync(join(ROOT, p)).isDirectory()) return sources(p)
  return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : []
})

const importsOf = (file: string): string[] =>
  [...readFileSync(join(ROOT, file), 'utf8').matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm)]
    .map(m => m[1] ?? m[2]!)

/** Resolves a relative import to its top-level folder ("core", "l2", …) or returns the package name. */
const target = (file: string, spec: string): string =>
  spec.startsWith('.') ? relative(ROOT, resolve(ROOT, file, '..', spec)).split('/')[0]! : spec

const rules: Record<string, { forbidden: RegExp, except?: Record<string, RegExp> }> = {
  core: {
    forbidden: /^(l2|discovery|hub|peer|ws|koffi|node:(net|dgram|http|https|tls|child_process))$/,
    // The one native binding (libc and Node's libuv), for the hub's sockets and the peer's TAP alike;
    // and the relay's WebSocket on a socket, which the hub and the peer share (core/websocket/).
    except: {
      'core/libc.ts': /^koffi$/,
      'core/self-signed-cert.ts': /^node:net$/, // isIP, for the certificate's IP names
      'core/websocket/connection.ts': /^node:net$/,
      'core/websocket/client.ts': /^node:(net|tls)$/,
      'core/websocket/server.ts': /^node:(net|http)$/,
      'core/websocket/reader.ts': /^node:net$/,
      'core/websocket/loopback.ts': /^node:(net|tls)$/
    }
  },
  l2: { forbidden: /^(discovery|hub|peer|ws|koffi|yaml|zod|node:(fs|net|dgram|http|https|tls|child_process|timers))$/ },
  discovery: { forbidden: /^(hub|peer|ws|koffi)$/ },
  hub: { forbidden: /^(peer|koffi|node:child_process)$/ },
  peer: {
    forbidden: /^(hub|koffi|node:child_process)$/,
    // The one OS boundary.
    except: { 'peer/os/linux.ts': /^node:child_process$/, 'peer/os/linux-probe.ts': /^node:child_process$/, 'peer/os/linux-net.ts': /^node:child_process$/ }
  }
}

test('each folder imports only what STYLE.md allows', t => {
  const violations: string[] = []
  let checked = 0
  for (const [folder, rule] of Object.entries(rules)) {
    let files: string[]
    try { files = sources(folder) } catch { continue }
    for (const f of files) {
      for (const spec of importsOf(f)) {
        checked++
        const to = target(f, spec)
        if (rule.forbidden.test(to) && rule.except?.[f]?.test(to) !== true) violations.push(`${f} imports ${spec}`)
      }
    }
  }
  t.true(checked > 50, `scanned ${checked} imports`)
  t.deepEqual(violations, [])
})
