/**
 * The pieces of a peer's pass, run on scratch data by core/keep-warm.ts so a sparse path
 * (a game, a ping) finds them in the caches: the TAP's and the direct socket's system calls,
 * the frame path out and in (a scratch FramePath: the real one's counters stay true), and a
 * direct-path seal and open (a scratch session under a random key: no real key or counter).
 */
import { randomBytes } from 'node:crypto'
import { INNER_FRAME } from '../core/direct/wire.js'
import { TransportSession } from '../core/direct/transport.js'
import { encodeBatch, BATCH_LEN_PREFIX } from '../core/protocol.js'
import { ETHERTYPE_IPV4, ETH_HEADER_LEN, ETH_TYPE } from '../l2/ethernet.js'
import { IPV4_MIN_HEADER_LEN, IPV4_PROTO, IPV4_SRC, IPV4_TOTAL_LEN, IPV4_TTL, IPV4_VER_IHL, PROTO_UDP, UDP_DST, UDP_LEN, UDP_SRC } from '../l2/packet.js'
import { FramePath } from './frame-path.js'
import type { TapDevice } from './os/host-os.js'
import type { DirectPath } from './direct-path.js'

/** A 100-byte IPv4 UDP unicast frame between two locally administered MACs, as a game sends. */
const scratchFrame = (): Buffer => {
  const f = Buffer.alloc(100)
  f.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1])
  f.writeUInt16BE(ETHERTYPE_IPV4, ETH_TYPE)
  const ip = ETH_HEADER_LEN
  const udp = ip + IPV4_MIN_HEADER_LEN
  f[ip + IPV4_VER_IHL] = 0x45
  f.writeUInt16BE(f.length - ip, ip + IPV4_TOTAL_LEN)
  f[ip + IPV4_TTL] = 64
  f[ip + IPV4_PROTO] = PROTO_UDP
  f.set([10, 77, 0, 1, 10, 77, 0, 2], ip + IPV4_SRC)
  f.writeUInt16BE(40000, udp + UDP_SRC)
  f.writeUInt16BE(27960, udp + UDP_DST)
  f.writeUInt16BE(f.length - udp, udp + UDP_LEN)
  return f
}

const ignoreFrame = (): void => {}

export const peerPassPieces = (tap: () => TapDevice | null, direct: () => DirectPath | null): (() => void) => {
  const path = new FramePath()
  path.setMtu(1400)
  const batch = encodeBatch([scratchFrame()])
  const frameLen = batch.length - BATCH_LEN_PREFIX
  const key = randomBytes(32)
  const session = new TransportSession(0, key, key, 0)
  const plain = Buffer.allocUnsafe(1 + frameLen)
  return () => {
    tap()?.warm?.()
    direct()?.warm()
    if (path.outgoing(batch, 1, 0) === null) throw new Error('the scratch frame was dropped')
    if (session.open(session.sealFrame(INNER_FRAME, batch, BATCH_LEN_PREFIX, frameLen), plain) !== 1 + frameLen) throw new Error('the scratch session did not open its own packet')
    path.incomingFrame(plain, 1, frameLen)
    path.incoming(batch, ignoreFrame)
  }
}
