/**
 * Test hosts in network namespaces: a hub namespace and one namespace per peer, each
 * peer linked to the hub by a veth pair on its own /24 that is also its default route
 * (so the overlay is never the host's only network). Every process started here is
 * tracked by PID and killed, and every namespace deleted, by cleanup() — also after a
 * failed test. Nothing touches the root namespace.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from './wait.js'

export interface RunResult { code: number, stdout: string, stderr: string }

/** Why network tests cannot run here, or null when they can. */
export const netnsUnavailable = (tools: string[] = ['ip', 'ping', 'arping']): string | null => {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces and TAP devices)'
  const missing = tools.filter(t => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0)
  if (missing.length > 0) return `missing tools: ${missing.join(', ')} (bash .ci/run installs what the tests need)`
  if (spawnSync('test', ['-c', '/dev/net/tun']).status !== 0) return '/dev/net/tun is missing'
  return null
}

const runBounded = (cmd: string, args: string[], timeoutMs: number): Promise<RunResult> => new Promise(resolve => {
  execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
    const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 124
    resolve({ code, stdout, stderr })
  })
})

export class Proc {
  stdout = ''
  stderr = ''
  readonly exited: Promise<number>
  exitCode: number | null = null
  /** The signal that ended the process (e.g. SIGSEGV), if one did. */
  signal: NodeJS.Signals | null = null

  constructor (readonly name: string, readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => { this.stdout += d.toString() })
    child.stderr?.on('data', (d: Buffer) => { this.stderr += d.toString() })
    this.exited = new Promise(resolve => child.on('exit', (code, signal) => {
      this.signal = signal
      this.exitCode = code ?? (signal !== null ? 128 : 1)
      resolve(this.exitCode)
    }))
  }

  get output (): string { return this.stdout + this.stderr }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  async stop (graceMs = 5000): Promise<number> {
    if (this.exitCode !== null) return this.exitCode
    this.child.kill('SIGTERM')
    const t = setTimeout(() => { this.child.kill('SIGKILL') }, graceMs)
    const code = await this.exited
    clearTimeout(t)
    return code
  }
}

export class Topology {
  readonly id: string
  readonly dir: string
  readonly hubNs: string
  private readonly peers = new Map<string, { ns: string, hubIp: string }>()
  private readonly procs: Proc[] = []
  private readonly namespaces: string[] = []
  private nextSubnet = 1

  /** `routeUnderlays` false: the hub namespace does not forward (every frame must cross the hub; bench relay variants). */
  constructor (tag: string, private readonly routeUnderlays = true) {
    this.id = `${tag}${process.pid % 100000}`
    this.dir = mkdtempSync(join(tmpdir(), `overlan-${tag}-`))
    this.hubNs = `${this.id}-hub`
  }

  /**
   * The hub namespace routes between the peers' underlays (as the internet would), so peers
   * set up direct paths and every e2e and lan-apps test runs with them on.
   */
  async init (): Promise<void> {
    await this.addNs(this.hubNs)
    await this.ip(['-n', this.hubNs, 'link', 'set', 'lo', 'up'])
    const r = await this.run(this.hubNs, 'sysctl', ['-qw', `net.ipv4.ip_forward=${this.routeUnderlays ? 1 : 0}`])
    if (r.code !== 0) throw new Error(`sysctl ip_forward in ${this.hubNs}: ${r.stderr}`)
  }

  /** A peer host: namespace `<id>-<name>` with underlay u0 (default route via the hub side). */
  async addHost (name: string): Promise<{ ns: string, hubIp: string }> {
    const ns = `${this.id}-${name}`
    const n = this.nextSubnet++
    const hubSide = `u${n}`
    await this.addNs(ns)
    await this.ip(['link', 'add', hubSide, 'netns', this.hubNs, 'type', 'veth', 'peer', 'name', 'u0', 'netns', ns])
    await this.ip(['-n', this.hubNs, 'addr', 'add', `172.30.${n}.1/24`, 'dev', hubSide])
    await this.ip(['-n', this.hubNs, 'link', 'set', hubSide, 'up'])
    await this.ip(['-n', ns, 'addr', 'add', `172.30.${n}.2/24`, 'dev', 'u0'])
    await this.ip(['-n', ns, 'link', 'set', 'u0', 'up'])
    await this.ip(['-n', ns, 'link', 'set', 'lo', 'up'])
    await this.ip(['-n', ns, 'route', 'add', 'default', 'via', `172.30.${n}.1`])
    const host = { ns, hubIp: `172.30.${n}.1` }
    this.peers.set(name, host)
    return host
  }

  /** A namespace `<id>-<name>` with lo up (for routers and other topologies than addHost's). */
  async addNamespace (name: string): Promise<string> {
    const ns = `${this.id}-${name}`
    await this.addNs(ns)
    await this.ip(['-n', ns, 'link', 'set', 'lo', 'up'])
    return ns
  }

  /** A veth pair between two namespaces, each end with its address ("a.b.c.d/len"), both up. */
  async link (a: { ns: string, dev: string, addr: string }, b: { ns: string, dev: string, addr: string }): Promise<void> {
    await this.ip(['link', 'add', a.dev, 'netns', a.ns, 'type', 'veth', 'peer', 'name', b.dev, 'netns', b.ns])
    for (const e of [a, b]) {
      await this.ip(['-n', e.ns, 'addr', 'add', e.addr, 'dev', e.dev])
      await this.ip(['-n', e.ns, 'link', 'set', e.dev, 'up'])
    }
  }

  /** Registers a peer host made by hand (its namespace and the hub address it joins). */
  setHost (name: string, host: { ns: string, hubIp: string }): void { this.peers.set(name, host) }

  /** `ip ARGS` (bounded), e.g. routes inside a namespace: ['-n', ns, 'route', …]. */
  async ipCommand (args: string[]): Promise<void> { await this.ip(args) }

  host (name: string): { ns: string, hubIp: string } {
    const h = this.peers.get(name)
    if (h === undefined) throw new Error(`no host ${name}`)
    return h
  }

  /** Runs a command to completion inside `ns`, bounded in time. */
  run (ns: string, cmd: string, args: string[], timeoutMs = 20_000): Promise<RunResult> {
    return runBounded('ip', ['netns', 'exec', ns, cmd, ...args], timeoutMs)
  }

  /**
   * Starts `script` (sh) in `ns` with a private mount namespace whose /run is a fresh tmpfs,
   * so daemons that insist on fixed paths under /run (dbus, avahi, cups) get their own.
   * The script should end by exec-ing its long-running process; runInside() enters it.
   */
  startPrivate (name: string, ns: string, script: string): Proc {
    return this.start(name, ns, 'unshare', ['--mount', '--propagation', 'private', 'sh', '-ec', `mount -t tmpfs tmpfs /run\n${script}`])
  }

  /** Runs a command in the network and mount namespaces of a process from startPrivate(). */
  runInside (p: Proc, cmd: string, args: string[], timeoutMs = 20_000): Promise<RunResult> {
    if (p.child.pid === undefined || p.exitCode !== null) return Promise.resolve({ code: 1, stdout: '', stderr: `${p.name} is not running: ${p.output.slice(-400)}` })
    return runBounded('nsenter', ['-t', String(p.child.pid), '-m', '-n', cmd, ...args], timeoutMs)
  }

  /** Starts a long-running process inside `ns`; `ip netns exec` execs, so the PID is the process. */
  start (name: string, ns: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    const p = new Proc(name, child)
    this.procs.push(p)
    return p
  }

  async cleanup (): Promise<void> {
    await Promise.all(this.procs.map(p => p.stop(3000)))
    for (const ns of this.namespaces.reverse()) {
      // Anything still inside (a stray child) is killed by PID before the namespace goes.
      const pids = spawnSync('ip', ['netns', 'pids', ns]).stdout.toString().split('\n').filter(Boolean)
      for (const pid of pids) { try { process.kill(Number(pid), 'SIGKILL') } catch {} }
      spawnSync('ip', ['netns', 'del', ns])
    }
    rmSync(this.dir, { recursive: true, force: true })
  }

  private async addNs (ns: string): Promise<void> {
    spawnSync('ip', ['netns', 'del', ns]) // left over from a killed run with the same PID
    await this.ip(['netns', 'add', ns])
    this.namespaces.push(ns)
  }

  private ip (args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile('ip', args, { timeout: 10_000 }, (err, _o, stderr) => {
        if (err === null) resolve()
        else reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`))
      })
    })
  }
}

export const waitForOutput = (p: Proc, pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> =>
  waitFor(`${p.name} to print ${String(pattern)} (output so far: ${p.output.slice(-400)})`, () => {
    if (p.exitCode !== null && pattern.exec(p.output) === null) throw new Error(`${p.name} exited with ${p.exitCode}: ${p.output.slice(-800)}`)
    return pattern.exec(p.output)
  }, timeoutMs)
