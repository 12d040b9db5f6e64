/**
 * Ethernet II and IEEE 802.1Q frame fields at named offsets over a Buffer.
 * Every function takes (buf, off) where `off` is the first byte of the frame, so frames
 * inside a batch are read in place, without a view object per frame.
 *
 *   +0  6B destination MAC     (bit 0 of byte 0 = I/G: group address)
 *   +6  6B source MAC
 *   +12 2B EtherType, or 0x8100 (802.1Q): +14 2B TCI, +16 2B inner EtherType
 */
export const ETH_DST = 0
export const ETH_SRC = 6
export const ETH_TYPE = 12
export const ETH_HEADER_LEN = 14
export const VLAN_TAG_LEN = 4

export const ETHERTYPE_IPV4 = 0x0800
export const ETHERTYPE_ARP = 0x0806
export const ETHERTYPE_VLAN = 0x8100
export const ETHERTYPE_QINQ = 0x88a8
export const ETHERTYPE_IPV6 = 0x86dd

/** Broadcast MAC as a 48-bit integer. */
export const MAC_BROADCAST = 0xffffffffffff

/** MAC at `off` as a 48-bit integer: a Map key with no hex string. */
export const macAt = (b: Buffer, off: number): number => b.readUIntBE(off, 6)

/** I/G bit: group (broadcast or multicast) destination or source. */
export const isGroupAt = (b: Buffer, off: number): boolean => (b[off]! & 0x01) !== 0

export const isBroadcastAt = (b: Buffer, off: number): boolean =>
  b.readUInt32BE(off) === 0xffffffff && b.readUInt16BE(off + 4) === 0xffff

/** EtherType after at most one 802.1Q/802.1ad tag. Frame must be >= ETH_HEADER_LEN (+4 if tagged). */
export const etherTypeAt = (b: Buffer, frame: number, len: number): number => {
  const t = b.readUInt16BE(frame + ETH_TYPE)
  if ((t === ETHERTYPE_VLAN || t === ETHERTYPE_QINQ) && len >= ETH_HEADER_LEN + VLAN_TAG_LEN) {
    return b.readUInt16BE(frame + ETH_TYPE + VLAN_TAG_LEN)
  }
  return t
}

/** Offset of the L3 payload relative to the frame start (14, or 18 when tagged). */
export const payloadOffsetAt = (b: Buffer, frame: number): number => {
  const t = b.readUInt16BE(frame + ETH_TYPE)
  return t === ETHERTYPE_VLAN || t === ETHERTYPE_QINQ ? ETH_HEADER_LEN + VLAN_TAG_LEN : ETH_HEADER_LEN
}

/** Largest frame a room with this MTU carries: MTU + header + one VLAN tag. */
export const maxFrameLenForMtu = (mtu: number): number => mtu + ETH_HEADER_LEN + VLAN_TAG_LEN

// --- MAC text form (control plane only) ---

export const formatMac = (v: number): string => {
  let s = ''
  for (let i = 5; i >= 0; i--) {
    const byte = Math.floor(v / 2 ** (8 * i)) & 0xff
    s += (i === 5 ? '' : ':') + byte.toString(16).padStart(2, '0')
  }
  return s
}

export const parseMac = (s: string): number | null => {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(s)) return null
  return Number.parseInt(s.replaceAll(':', ''), 16)
}

export const writeMac = (b: Buffer, off: number, mac: number): void => { b.writeUIntBE(mac, off, 6) }
