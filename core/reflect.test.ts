import test from 'ava'
import { REQUEST_LEN, decodeAnswer, decodeRequest, encodeAnswer, encodeRequest } from './reflect.js'

test('reflector packets: requests are at least as long as answers (no amplification); answers name IPv4 and IPv6', t => {
  const nonce = Buffer.from('0102030405060708', 'hex')
  const req = encodeRequest(nonce)
  t.is(req.length, REQUEST_LEN)
  t.deepEqual(decodeRequest(req), nonce)
  t.is(decodeRequest(req.subarray(0, REQUEST_LEN - 1)), null, 'a short request is not answered')
  t.is(decodeRequest(Buffer.concat([Buffer.from('XXXX'), req.subarray(4)])), null)
  const a4 = encodeAnswer(nonce, '203.0.113.9', 40123)!
  t.true(a4.length <= REQUEST_LEN)
  t.is(decodeAnswer(a4, nonce), '203.0.113.9:40123')
  t.is(decodeAnswer(a4, Buffer.alloc(8)), null, 'another request\'s answer')
  const a6 = encodeAnswer(nonce, '2001:db8::7', 443)!
  t.true(a6.length <= REQUEST_LEN)
  t.is(decodeAnswer(a6, nonce), '[2001:db8:0:0:0:0:0:7]:443')
  t.is(encodeAnswer(nonce, 'not-an-ip', 1), null)
})
