import test from 'ava'
import { decodeGameReply } from './game-replies.js'

const str = (s: string): Buffer => Buffer.concat([Buffer.from(s), Buffer.from([0])])

test('Teeworlds 0.7 inf3 behind the token header', t => {
  const b = Buffer.concat([
    Buffer.from('21aabbccdd11223344ffffffff', 'hex'), Buffer.from('inf3'),
    Buffer.from([42]), str('0.7.5'), str('Friday DM'), str(''), str('dm1'), str('DM'),
    Buffer.from([0, 1, 3, 8, 3, 8])
  ])
  t.deepEqual(decodeGameReply(b, 0, b.length), { game: 'Teeworlds', name: 'Friday DM', map: 'dm1', players: 3, maxPlayers: 8 })
  t.is(decodeGameReply(b, 0, b.length - 3), null, 'cut short: no answer, no throw')
})

test('Teeworlds 0.6-style header and a multi-byte varint', t => {
  const b = Buffer.concat([Buffer.from('ffffffffffffffffffff', 'hex'), Buffer.from('inf3'), Buffer.from([0x80, 0x01]), str('0.6'), str('Old'), str(''), str('ctf2'), str('CTF'), Buffer.from([0, 0, 1, 16])])
  t.like(decodeGameReply(b, 0, b.length), { name: 'Old', map: 'ctf2', players: 1, maxPlayers: 16 })
})

test('Quake 3 infoResponse, colour codes stripped', t => {
  const b = Buffer.concat([Buffer.from('ffffffff', 'hex'), Buffer.from('infoResponse\n\\hostname\\^1Red ^7Room\\mapname\\q3dm17\\clients\\2\\sv_maxclients\\12\\gamename\\Quake3Arena')])
  t.deepEqual(decodeGameReply(b, 0, b.length), { game: 'Quake 3 / OpenArena', name: 'Red Room', map: 'q3dm17', players: 2, maxPlayers: 12 })
})

test('Source A2S_INFO response', t => {
  const b = Buffer.concat([Buffer.from('ffffffff4911', 'hex'), str('LAN party'), str('de_dust2'), str('cstrike'), str('Counter-Strike'), Buffer.from([0xf0, 0x00, 5, 16])])
  t.deepEqual(decodeGameReply(b, 0, b.length), { game: 'Counter-Strike', name: 'LAN party', map: 'de_dust2', players: 5, maxPlayers: 16 })
})

test('anything else is null', t => {
  for (const b of [Buffer.alloc(0), Buffer.from('hello world, not a game'), Buffer.from('ffffffff49', 'hex'), Buffer.from('ffffffff', 'hex')]) t.is(decodeGameReply(b, 0, b.length), null)
})
