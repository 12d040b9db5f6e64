import test from 'ava'
import { OverlanError } from './errors.js'
import { decodeInvite, encodeInvite, looksLikeInvite, newInviteId, newInviteSecret, parseDuration, type Invite } from './invite.js'

const pin = `sha256:${'ab'.repeat(32)}`

test('invites round-trip: URL, pin, room, id and secret; ws hubs say tls=0', t => {
  for (const i of [
    { hub: 'wss://hub.example.net', pin, room: 'friday', id: newInviteId(), secret: newInviteSecret() },
    { hub: 'wss://203.0.113.5:8443', pin: null, room: 'lan.party_1', id: newInviteId(), secret: newInviteSecret() },
    { hub: 'ws://127.0.0.1:8080', pin, room: 'x', id: newInviteId(), secret: newInviteSecret() }
  ] satisfies Invite[]) {
    const s = encodeInvite(i)
    t.true(looksLikeInvite(s))
    t.regex(s, /^overlan:\/\/[^/]+:\d+\/[^?]+\?/)
    const back = decodeInvite(s)
    t.deepEqual(back, { ...i, hub: i.hub.replace(/^wss:\/\/hub\.example\.net$/, 'wss://hub.example.net:443') })
  }
})

test('malformed invites are INVITE_INVALID with the reason', t => {
  for (const [s, why] of [
    ['https://x/friday?invite=0123456789ab.AAAAAAAAAAAAAAAAAAAAAA', /overlan:\/\//],
    ['overlan://h:443/?invite=0123456789ab.AAAAAAAAAAAAAAAAAAAAAA', /room/],
    ['overlan://h:443/friday', /invite=/],
    ['overlan://h:443/friday?invite=zz.y', /invite=/],
    [`overlan://h:443/friday?pin=md5:x&invite=0123456789ab.AAAAAAAAAAAAAAAAAAAAAA`, /pin/],
    ['not a url at all', /URL/]
  ] as const) {
    const e = t.throws(() => decodeInvite(s), { instanceOf: OverlanError })
    t.is(e?.code, 'INVITE_INVALID')
    t.regex(e?.message ?? '', why, s)
  }
})

test('durations: s, m, h, d and bare seconds', t => {
  t.is(parseDuration('90s'), 90_000)
  t.is(parseDuration('30m'), 1_800_000)
  t.is(parseDuration('24h'), 86_400_000)
  t.is(parseDuration('7d'), 604_800_000)
  t.is(parseDuration('120'), 120_000)
  for (const bad of ['', 'soon', '-5m', '0', '5w']) t.is(parseDuration(bad), null, bad)
})
