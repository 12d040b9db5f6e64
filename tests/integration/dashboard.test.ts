/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core (which
 * downloads no browser). Sign in with the admin token (no token in any URL), see the room
 * update live, a member whose name is HTML shown as text, kick a member, set an impairment,
 * make an invite. The screenshot in the README is this test's (OVERLAN_DASHBOARD_SCREENSHOT).
 */
import test from 'ava'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from '../support/overlay.js'
import { TOKEN, opened, raw, startHub, startPeer } from '../support/hub-fixture.js'
import { waitFor } from '../support/wait.js'
import { skipWithReason } from '../support/skip.js'

const CHROMIUM = '/usr/bin/chromium'
const run = existsSync(CHROMIUM) ? test : test.skip
if (!existsSync(CHROMIUM)) skipWithReason('dashboard browser test', 'chromium is not installed (apt-get install chromium)')

const EVIL = '<img src=x onerror="window.__pwned=1">'

run('the dashboard in Chromium: sign-in, live members, HTML in names as text, kick, impairment, invite', async t => {
  t.timeout(90_000)
  const { chromium } = await import('playwright-core')
  const f = await startHub(t, { adminToken: 'admin-token-123', keepaliveIntervalS: 1 })
  await startPeer(t, f, 'alice', 'friday')
  await startPeer(t, f, 'bob', 'friday')
  const evil = raw(f); await opened(evil)
  evil.ws.send(JSON.stringify({ type: 'hello', version: 1, room: 'friday', token: TOKEN, identity: 'e'.repeat(32), name: EVIL }))
  await waitFor('the evil member joined', () => evil.messages.some(m => m.includes('"welcome"')))
  t.teardown(() => { evil.ws.terminate() })

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  t.teardown(async () => { await browser.close() })
  const page = await browser.newPage({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 720 } })
  const dialogs: string[] = []
  page.on('dialog', d => { dialogs.push(d.message()); void d.dismiss() })
  const base = `https://127.0.0.1:${f.port}`
  await page.goto(`${base}/`)
  t.is(await page.locator('input[name=token]').count(), 1, 'a sign-in form, not the dashboard')
  await page.fill('input[name=token]', 'wrong-token-000')
  await page.click('button[type=submit]')
  await page.waitForURL(/\?failed/)
  await page.fill('input[name=token]', 'admin-token-123')
  await page.click('button[type=submit]')
  await page.waitForSelector('tr[data-peer="alice"]', { timeout: 10_000 })
  t.false(page.url().includes('admin-token-123'), 'no token in the URL')
  const cookie = (await page.context().cookies()).find(c => c.name === 'overlan_session')!
  t.like(cookie, { httpOnly: true, sameSite: 'Strict', secure: true })

  // Live: the RTT column fills in as the hub measures it.
  await page.waitForFunction(() => [...document.querySelectorAll('tr[data-peer="alice"] td')][4]?.textContent?.endsWith('ms') === true, undefined, { timeout: 15_000 })
  const names = await page.locator('td.name').allTextContents()
  t.true(names.includes(EVIL), 'the HTML name is shown as its text')
  t.is(await page.locator('tr td.name img').count(), 0, 'no element made from a peer\'s name')
  t.is(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined)

  // OVERLAN_DASHBOARD_SCREENSHOT=docs/dashboard.png refreshes the README's picture.
  await page.screenshot({ path: process.env.OVERLAN_DASHBOARD_SCREENSHOT !== undefined ? join(ROOT, process.env.OVERLAN_DASHBOARD_SCREENSHOT) : join(tmpdir(), `overlan-dashboard-${process.pid}.png`) })

  await page.fill('input[name=delayMs]', '40')
  await page.fill('input[name=lossPercent]', '1')
  await page.click('button.impair')
  await waitFor('impairment set', () => f.hub.status().rooms[0]!.impairment.room.delayMs === 40, 5000)
  await page.click('button.invite')
  await page.waitForFunction(() => document.getElementById('invite')?.textContent?.startsWith('overlan://') === true, undefined, { timeout: 5000 })
  await page.click('tr[data-peer="bob"] button')
  await waitFor('bob kicked', () => !f.hub.status().rooms[0]!.peers.some(p => p.name === 'bob'), 5000)
  await page.waitForFunction(() => document.querySelector('tr[data-peer="bob"]') === null, undefined, { timeout: 5000 })
  t.deepEqual(dialogs, [], 'no script ran from peer data')
})
