/** The hub's answer to `list`, bounded to what every peer accepts. */
import { MAX_ROOM_ANSWER_BYTES, encodeControl, type RoomMessage } from '../core/protocol.js'
import type { Room } from './room.js'

/**
 * The `room` answer: members and services, cut to MAX_ROOM_ANSWER_BYTES (as many services
 * as fit, in list order, and `truncated` set) so it always fits what peers accept.
 */
export const roomAnswer = (room: Room, now: number): string => {
  const m: RoomMessage = {
    type: 'room',
    room: room.settings.name,
    members: room.memberList(),
    // Only members' services: after a restart, entries of peers not back yet wait unseen.
    services: ((names) => room.directory.list(now).filter(e => names.has(e.peer)))(room.memberNames())
  }
  const text = encodeControl(m)
  if (Buffer.byteLength(text) <= MAX_ROOM_ANSWER_BYTES) return text
  const all = m.services
  let lo = 0
  let hi = all.length
  while (lo < hi) { // the most services that fit
    const mid = Math.ceil((lo + hi) / 2)
    if (Buffer.byteLength(encodeControl({ ...m, services: all.slice(0, mid), truncated: true })) <= MAX_ROOM_ANSWER_BYTES) lo = mid
    else hi = mid - 1
  }
  return encodeControl({ ...m, services: all.slice(0, lo), truncated: true })
}
