/** A real Teeworlds dedicated server, and the game's own LAN discovery run from a host. */
import { join } from 'node:path'
import type { Proc, Topology } from '../../support/netns.js'
import { ROOT } from '../../support/overlay.js'

export const TEEWORLDS = '/usr/games/teeworlds-server'
const LAN_PROBE = join(ROOT, 'tests/support/teeworlds-lan.mjs')

export interface ServerInfo { address: string, port: number, name: string, map: string, players: number, maxPlayers: number, ms: number }

export const startTeeworlds = (topo: Topology, ns: string, name: string, map: string): Proc =>
  topo.start('teeworlds', ns, TEEWORLDS, [`sv_name "${name}"; sv_port 8303; sv_register 0; sv_map ${map}; sv_max_clients 12; sv_player_slots 6`])

/** One LAN discovery round from `ns` (broadcast to 8303-8310, `waitMs` for answers); null when nothing answered. */
export const lanDiscovery = async (topo: Topology, ns: string, waitMs = 1000): Promise<ServerInfo | null> => {
  const r = await topo.run(ns, 'node', [LAN_PROBE, String(waitMs)])
  return r.code === 0 ? JSON.parse(r.stdout.trim().split('\n')[0]!) as ServerInfo : null
}
