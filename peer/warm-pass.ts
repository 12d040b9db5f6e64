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
import { scratchUdpFrame } from '../l2/scratch-frame.js'
import { FramePath } from './frame-path.js'
import type { TapDevice } from './os/host-os.js'
import type { DirectPath } from './direct-path.js'


const ignoreFrame = (): void => {}

export const peerPassPieces = (tap: () => TapDevice | null, direct: () => DirectPath | null): (() => void) => {
  const path = new FramePath()
  path.setMtu(1400)
  const batch = encodeBatch([scratchUdpFrame([10, 77, 0, 1, 10, 77, 0, 2], { src: 40000, dst: 27960 })])
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
