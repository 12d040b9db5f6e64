/**
 * Well-known discovery UDP ports, as a 64 Ki lookup table built once (no Map per frame).
 * Shared by classification (counters, storm control) and by discovery/ for the game relay.
 */
import {
  CLASS_DHCP, CLASS_GAME, CLASS_LLMNR, CLASS_MDNS, CLASS_NETBIOS, CLASS_SSDP, CLASS_WSD
} from './packet-classes.js'

export interface GamePortRange {
  game: string
  from: number
  to: number
  /** Multicast group the game discovers on (else limited or subnet-directed broadcast). */
  group?: string
}

/**
 * LAN-game discovery ports. Limited broadcast: Teeworlds, Quake 3 / OpenArena, Source,
 * UT2004, Warcraft III; subnet-directed broadcast: OpenTTD; multicast: Freeciv, Minecraft.
 */
export const DEFAULT_GAME_PORTS: readonly GamePortRange[] = [
  { game: 'Teeworlds', from: 8303, to: 8310 },
  { game: 'Quake 3 / OpenArena', from: 27960, to: 27963 },
  { game: 'Source engine', from: 27015, to: 27020 },
  { game: 'Unreal Tournament 2004', from: 10777, to: 10777 },
  { game: 'Warcraft III', from: 6112, to: 6112 },
  { game: 'OpenTTD', from: 3979, to: 3979 },
  { game: 'Freeciv', from: 4555, to: 4555, group: '225.1.1.1' },
  { game: 'Minecraft', from: 4445, to: 4445, group: '224.0.2.60' }
]

const NONE = 0xff
const table = new Uint8Array(65536).fill(NONE)

const set = (from: number, to: number, cls: number): void => { for (let p = from; p <= to; p++) table[p] = cls }

/** Replaces the game port list (config); protocol ports stay. */
export const setGamePorts = (ranges: readonly GamePortRange[]): void => {
  for (let p = 0; p < 65536; p++) if (table[p] === CLASS_GAME) table[p] = NONE
  for (const r of ranges) set(r.from, r.to, CLASS_GAME)
  setProtocolPorts()
}

const setProtocolPorts = (): void => {
  set(5353, 5353, CLASS_MDNS) // RFC 6762
  set(1900, 1900, CLASS_SSDP) // UPnP Device Architecture
  set(137, 138, CLASS_NETBIOS) // RFC 1002
  set(67, 68, CLASS_DHCP) // RFC 2131
  set(546, 547, CLASS_DHCP) // RFC 8415
  set(5355, 5355, CLASS_LLMNR) // RFC 4795
  set(3702, 3702, CLASS_WSD) // WS-Discovery
}

setGamePorts(DEFAULT_GAME_PORTS)

/** Class of a UDP port, or -1. */
export const udpPortClass = (port: number): number => {
  const c = table[port]!
  return c === NONE ? -1 : c
}
