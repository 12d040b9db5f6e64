/**
 * Rooms this peer is enrolled in (`<state>/rooms.json`): the hub's URL and key pin per room,
 * remembered after a join that enrolled the peer's key (an invite, or the token once), so
 * that afterwards `peer join --room friday` (or just `peer join` for the only one) needs no
 * hub, token or certificate file. Holds no secret: the key is what proves membership.
 */
import { join } from 'node:path'
import { readJsonFile, writeFileAtomic } from '../core/state-file.js'
import type { KnownRoom } from './config.js'

export const ROOMS_FILE = 'rooms.json'

type Known = Record<string, KnownRoom>

const read = (stateDir: string): Known => {
  try {
    const d = readJsonFile(join(stateDir, ROOMS_FILE)) as { rooms?: unknown } | undefined
    return typeof d?.rooms === 'object' && d.rooms !== null ? d.rooms as Known : {}
  } catch {
    return {} // unreadable: as if none were known (the token or an invite still works)
  }
}

export const knownRooms = (stateDir: string): Known => read(stateDir)

export const rememberRoom = (stateDir: string, room: string, k: KnownRoom): void => {
  const rooms = read(stateDir)
  if (rooms[room]?.hub === k.hub && rooms[room]?.pin === k.pin) return
  rooms[room] = k
  writeFileAtomic(join(stateDir, ROOMS_FILE), JSON.stringify({ version: 1, rooms }, null, 1) + '\n')
}
