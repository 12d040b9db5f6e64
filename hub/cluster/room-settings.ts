/**
 * A configured room's settings as the cluster store keeps them: the room's effective config in
 * hub.yaml's own shape (every default filled in), so reading it back goes through the same
 * schema and resolver as the file — a stored value a hub cannot validate is refused, never
 * half applied. Auto-created rooms are not stored: they follow each hub's `autoRoom` template.
 */
import { formatCidr } from '../../core/ipv4.js'
import { RoomConfigSchema, resolveHubSettings, type RoomSettings } from '../config.js'

/** JSON-ready config of `s` (tokens included: the store is as trusted as hub.yaml). */
export const encodeRoomSettings = (s: RoomSettings): Record<string, unknown> => ({
  ...(s.token !== '' ? { token: s.token } : {}),
  oldTokens: s.oldTokens.map(t => ({ token: t.token, until: new Date(t.untilMs).toISOString() })),
  join: s.join,
  subnet: formatCidr(s.subnet),
  mtu: s.mtu,
  maxPeers: s.maxPeers,
  allowBridging: s.allowBridging,
  directPath: s.directPath,
  arpSuppression: s.arpSuppression,
  snooping: s.snooping,
  querier: s.querier,
  queryIntervalS: s.queryIntervalMs / 1000,
  storm: s.storm,
  tables: s.tables,
  impairment: { ...s.impairment.room, peers: Object.fromEntries(s.impairment.peers) }
})

/** The settings of room `name` from a stored value, or why it cannot be used. */
export const decodeRoomSettings = (name: string, stored: unknown): RoomSettings | string => {
  const r = RoomConfigSchema.safeParse(stored)
  if (!r.success) return r.error.issues.map(i => `${i.path.join('.') || 'settings'}: ${i.message}`).join('; ')
  return resolveHubSettings({}, { rooms: { [name]: r.data } }).rooms.get(name)!
}
