import test from 'ava'
import { CLOSE_REDIRECT } from '../core/protocol.js'
import { HubChoice, MAX_REDIRECTS } from './hub-choice.js'

test('hubs in turn while none welcomes; the same hub again after a welcome', t => {
  const h = new HubChoice('wss://a:443, wss://b:443,,wss://c:443')
  t.is(h.url, 'wss://a:443')
  t.is(h.closed(1006, false), 'backoff')
  t.is(h.url, 'wss://b:443')
  t.is(h.closed(1006, false), 'backoff')
  t.is(h.url, 'wss://c:443')
  t.is(h.closed(1006, false), 'backoff')
  t.is(h.url, 'wss://a:443', 'round again')
  t.is(h.closed(1006, true), 'backoff')
  t.is(h.url, 'wss://a:443', 'a hub that was up is tried again first')
})

test('a redirect is followed at once, a few times in a row at most; a welcome resets the count', t => {
  const h = new HubChoice('wss://a:443,wss://b:443')
  for (let i = 0; i < MAX_REDIRECTS; i++) {
    h.redirectTo(`wss://owner${i}:443`)
    t.is(h.closed(CLOSE_REDIRECT, false), 'now')
    t.is(h.url, `wss://owner${i}:443`)
  }
  h.redirectTo('wss://owner-again:443')
  t.is(h.closed(CLOSE_REDIRECT, false), 'backoff', 'a cluster that redirects in circles must not spin')
  t.is(h.url, 'wss://a:443', 'back to the list: the redirect is forgotten, the list index stays')
  h.redirectTo('wss://owner:443')
  h.welcomed()
  t.is(h.closed(CLOSE_REDIRECT, true), 'now')
  t.is(h.url, 'wss://owner:443')
  // A close that is no redirect: the owner is forgotten; it was the welcoming hub, so the index stays.
  t.is(h.closed(1006, true), 'backoff')
  t.is(h.url, 'wss://a:443')
})

test('a redirect close without a redirect message is an ordinary close', t => {
  const h = new HubChoice('wss://a:443,wss://b:443')
  t.is(h.closed(CLOSE_REDIRECT, false), 'backoff')
  t.is(h.url, 'wss://b:443')
})
