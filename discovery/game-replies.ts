/**
 * Decoders for LAN-game server answers the hub switches anyway, for the room directory:
 *   Teeworlds "inf3" (0.7 connless header with tokens, or the 0.6 0xff×6 header)
 *   Quake 3 / OpenArena "infoResponse" / "statusResponse" (\key\value info strings)
 *   Source engine A2S_INFO response (0x49)
 * Each returns null unless the payload is exactly that kind of answer; never throws.
 */
export interface GameServerInfo {
  game: string
  name: string
  map: string
  players: number
  maxPlayers: number
}

const FF4 = Buffer.from([0xff, 0xff, 0xff, 0xff])

/** Teeworlds CVariableInt (engine/shared/compression.cpp); [value, next] or null past the end. */
const readVarInt = (b: Buffer, p: number, end: number): [number, number] | null => {
  if (p >= end) return null
  const sign = (b[p]! >> 6) & 1
  let v = b[p]! & 0x3f
  let shift = 6
  for (let i = 0; i < 4 && (b[p]! & 0x80) !== 0; i++) {
    p++
    if (p >= end) return null
    v |= (b[p]! & 0x7f) << shift
    shift += 7
  }
  return [v ^ -sign, p + 1]
}

const readCString = (b: Buffer, p: number, end: number): [string, number] | null => {
  const z = b.indexOf(0, p)
  if (z < 0 || z >= end) return null
  return [b.toString('utf8', p, Math.min(z, p + 128)), z + 1]
}

const teeworlds = (b: Buffer, off: number, end: number): GameServerInfo | null => {
  // 0.7: [0x21][token 4][response token 4] then ff×4 "inf3"; 0.6: ff×6 then ff×4 "inf3".
  let p: number
  if (b[off] === 0x21 && end - off >= 17 && b.subarray(off + 9, off + 13).equals(FF4) && b.toString('latin1', off + 13, off + 17) === 'inf3') p = off + 17
  else if (end - off >= 14 && b.readUInt32BE(off) === 0xffffffff && b.toString('latin1', off + 10, off + 14) === 'inf3') p = off + 14
  else return null
  const token = readVarInt(b, p, end); if (token === null) return null
  const version = readCString(b, token[1], end); if (version === null) return null
  const name = readCString(b, version[1], end); if (name === null) return null
  const hostname = readCString(b, name[1], end); if (hostname === null) return null
  const map = readCString(b, hostname[1], end); if (map === null) return null
  const gametype = readCString(b, map[1], end); if (gametype === null) return null
  let q = gametype[1]
  const ints: number[] = []
  for (let i = 0; i < 4; i++) { const r = readVarInt(b, q, end); if (r === null) return null; ints.push(r[0]); q = r[1] }
  return { game: 'Teeworlds', name: name[0], map: map[0], players: ints[2]!, maxPlayers: ints[3]! }
}

const quake3 = (b: Buffer, off: number, end: number): GameServerInfo | null => {
  if (end - off < 16 || b.readUInt32BE(off) !== 0xffffffff) return null
  const text = b.toString('latin1', off + 4, Math.min(end, off + 4096))
  const m = /^(infoResponse|statusResponse)\n(\\[^\n]*)/.exec(text)
  if (m === null) return null
  const kv = m[2]!.split('\\').slice(1)
  const info: Record<string, string> = {}
  for (let i = 0; i + 1 < kv.length; i += 2) info[kv[i]!.toLowerCase()] = kv[i + 1]!
  const players = m[1] === 'statusResponse' ? text.split('\n').slice(2).filter(l => l.trim() !== '').length : Number(info.clients ?? 0)
  return {
    game: info.gamename === 'Quake3Arena' || info.gamename === undefined ? 'Quake 3 / OpenArena' : info.gamename,
    name: (info.hostname ?? info.sv_hostname ?? '').replace(/\^./g, ''), // strip colour codes
    map: info.mapname ?? '',
    players,
    maxPlayers: Number(info.sv_maxclients ?? 0)
  }
}

const source = (b: Buffer, off: number, end: number): GameServerInfo | null => {
  // A2S_INFO response: ff×4 'I' protocol(1) name map folder game (C strings) appid(2) players(1) max(1)
  if (end - off < 12 || b.readUInt32BE(off) !== 0xffffffff || b[off + 4] !== 0x49) return null
  const name = readCString(b, off + 6, end); if (name === null) return null
  const map = readCString(b, name[1], end); if (map === null) return null
  const folder = readCString(b, map[1], end); if (folder === null) return null
  const game = readCString(b, folder[1], end); if (game === null) return null
  const p = game[1] + 2
  if (p + 2 > end) return null
  return { game: game[0] || 'Source engine', name: name[0], map: map[0], players: b[p]!, maxPlayers: b[p + 1]! }
}

/** Decodes a UDP payload at b[off, end) as a game server answer, or null. */
export const decodeGameReply = (b: Buffer, off: number, end: number): GameServerInfo | null =>
  teeworlds(b, off, end) ?? quake3(b, off, end) ?? source(b, off, end)
