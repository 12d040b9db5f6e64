/**
 * LAN game: a real Teeworlds dedicated server on alice; from bob the game's own LAN
 * discovery (0.7 token handshake, then "gie3" info request; broadcast to 255.255.255.255
 * on 8303-8310 from a socket bound to no interface, on a host whose default route is the
 * underlay) finds it and reads its name, map and player count. Once on a clean link, once
 * with 40 ms ± 10 ms and 1 % loss.
 */
import { waitFor } from '../support/wait.js'
import { lanDiscovery, startTeeworlds, TEEWORLDS, type ServerInfo } from './apps/teeworlds.js'
import { impair, scenario, timed } from './scenario.js'

const { o, serial, ns, ip } = scenario('game', { needs: [TEEWORLDS], peers: { alice: 'friday', bob: 'friday' } })

const discover = (): Promise<ServerInfo> => waitFor('the Teeworlds server to answer LAN discovery', () => lanDiscovery(o.topo, ns('bob')), 30_000, 100)

serial('Teeworlds: bob finds alice\'s server by its own LAN discovery, then again over a bad link', async t => {
  const server = startTeeworlds(o.topo, ns('alice'), 'Friday DM', 'ctf2')
  const clean = await timed(discover)
  t.like(clean.value, { address: ip.alice, port: 8303, name: 'Friday DM', map: 'ctf2', players: 0, maxPlayers: 6 })
  t.log(`clean link: found ${clean.value.name} (${clean.value.map}, ${clean.value.players}/${clean.value.maxPlayers}) ${clean.ms.toFixed(0)} ms after server start; broadcast to answer ${clean.value.ms} ms`)
  const again = await discover()
  t.log(`clean link, server up: broadcast to answer ${again.ms} ms`)

  // Discovery is a few small packets: with 1 % loss it should almost always still work; time it a few times.
  await impair(o, 'friday', { delayMs: 40, jitterMs: 10, lossPercent: 1 })
  const times: number[] = []
  for (let i = 0; i < 3; i++) {
    const bad = await discover()
    t.like(bad, { address: ip.alice, name: 'Friday DM', map: 'ctf2' })
    times.push(bad.ms)
  }
  const ping = await o.topo.run(ns('bob'), 'ping', ['-c', '10', '-i', '0.2', '-q', ip.alice!])
  t.log(`40 ms ± 10 ms, 1 % loss: broadcast to answer ${times.join(' / ')} ms; ping ${ping.stdout.split('\n').slice(-2).join(' ').trim()}`)
  await impair(o, 'friday', {})
  await server.stop()
})
