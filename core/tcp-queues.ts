/**
 * Short queues on a WebSocket's TCP connection (Linux; a no-op elsewhere). Inside the
 * overlay runs TCP, so every byte waiting in an outer socket buffer delays every frame
 * behind it: a game's packets behind a bulk transfer (TCP-in-TCP bufferbloat). Node exposes
 * neither option, so they are set on the socket's file descriptor:
 *   SO_RCVBUF          caps the receive buffer (and stops autotuning, which grows it to MiBs)
 *   TCP_NOTSENT_LOWAT  keeps unsent bytes in the kernel low, so the backlog stays in the
 *                      application's bounded send queue, which drops instead of growing
 */
import { libc } from './libc.js'

/** ~2.5 ms at 400 Mbit/s; the kernel doubles it for bookkeeping (socket(7)). */
export const RCVBUF_BYTES = 128 * 1024
export const NOTSENT_LOWAT_BYTES = 32 * 1024

const SOL_SOCKET = 1
const SO_RCVBUF = 8
const IPPROTO_TCP = 6
const TCP_NOTSENT_LOWAT = 25

/** A net or tls socket; `_handle.fd` is Node's (undocumented but stable) view of the descriptor. */
interface WithHandle { _handle?: { fd?: number } | null }

/** Sets both options; false when the platform or the socket does not allow it (nothing breaks). */
export const limitTcpQueues = (socket: unknown): boolean => {
  const fd = (socket as WithHandle | null)?._handle?.fd
  const c = libc()
  if (c === null || typeof fd !== 'number' || fd < 0) return false
  const v = Buffer.alloc(4)
  v.writeInt32LE(RCVBUF_BYTES)
  const a = c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, v, 4)
  v.writeInt32LE(NOTSENT_LOWAT_BYTES)
  const b = c.setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, v, 4)
  return a === 0 && b === 0
}
