/** Crafted Ethernet frames for tests. */
import { parseMac } from '../../l2/ethernet.js'

export const mac = (s: string): number => {
  const v = parseMac(s)
  if (v === null) throw new Error(`bad MAC ${s}`)
  return v
}

/** Ethernet II frame: dst, src, EtherType, payload (default 46 zero bytes, the minimum). */
export const ethFrame = (dst: string, src: string, etherType = 0x0800, payload: Buffer = Buffer.alloc(46)): Buffer => {
  const f = Buffer.alloc(14 + payload.length)
  f.writeUIntBE(mac(dst), 0, 6)
  f.writeUIntBE(mac(src), 6, 6)
  f.writeUInt16BE(etherType, 12)
  payload.copy(f, 14)
  return f
}

/** 802.1Q-tagged frame. */
export const vlanFrame = (dst: string, src: string, vid: number, innerType: number, payload: Buffer = Buffer.alloc(42)): Buffer => {
  const f = Buffer.alloc(18 + payload.length)
  f.writeUIntBE(mac(dst), 0, 6)
  f.writeUIntBE(mac(src), 6, 6)
  f.writeUInt16BE(0x8100, 12)
  f.writeUInt16BE(vid & 0x0fff, 14)
  f.writeUInt16BE(innerType, 16)
  payload.copy(f, 18)
  return f
}

export const BROADCAST = 'ff:ff:ff:ff:ff:ff'
