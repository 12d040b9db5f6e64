/**
 * The one OS boundary of the peer. Everything above sees only these interfaces; the Linux
 * implementation (linux.ts) is the only code that touches /dev/net/tun or runs `ip`,
 * and memory.ts stands in for it in tests.
 */
import type { Bind } from '../udp-bind.js'

/**
 * Receives frames read from the TAP, already in the wire batch format of core/protocol
 * (u16 length + frame, repeated) so they can be sent without a copy. Ownership of `batch`
 * passes to the callee: the TAP never writes to that memory again.
 */
export type BatchHandler = (batch: Buffer, frames: number) => void

export class TapCounters {
  readFrames = 0
  readBytes = 0
  writeFrames = 0
  writeBytes = 0
  /** Frames the kernel refused because the TAP queue was full (EAGAIN) or the link is down. */
  writeDrops = 0
  /** Batches whose handler threw (a bug): counted, and reading goes on. */
  handlerErrors = 0
}

export interface TapDevice {
  /** Interface name the kernel gave the device. */
  readonly name: string
  readonly counters: TapCounters
  /** Starts event-driven reads. Call once. `onStop` says why reading ended (closed, or an error). */
  start: (onBatch: BatchHandler, onStop?: (why: string) => void) => void
  /** Writes one frame buf[off, off+len). Never blocks; false (counted) when dropped. */
  write: (buf: Buffer, off: number, len: number) => boolean
  /** Stops reading and closes the device; a non-persistent TAP disappears. Idempotent. */
  close: () => Promise<void>
  /**
   * Runs the TAP side of a pass for core/keep-warm.ts: its drain (a frame already waiting is
   * handled as a wake-up would) and a write and a read through the same binding on a private
   * file (no frame is written). Absent: nothing to warm.
   */
  warm?: () => void
  /**
   * Reads what the kernel has queued already, as a wake-up would, without waiting for one:
   * called right after frames were written, it sends the kernel's own answers to them (TCP
   * ACKs, ICMP, ARP replies, made while write(2) ran) in the same pass. Absent: wait for the wake-up.
   */
  drainNow?: () => void
}

export interface LinkConfig {
  mac: string
  mtu: number
  address: string
  prefixLength: number
}

/** Which locally sent game discovery goes to the overlay whatever the default route. */
export interface GameRouteSpec {
  /** UDP destination port ranges of limited broadcasts (255.255.255.255). */
  broadcastPorts: ReadonlyArray<{ from: number, to: number }>
  /** Multicast groups (dotted IPv4) whose sends and joins use the overlay. */
  groups: readonly string[]
}

export interface HostOs {
  /** Creates a TAP (IFF_TAP|IFF_NO_PI). Throws TAP_UNAVAILABLE, TAP_PERMISSION or TAP_OPEN_FAILED. */
  openTap: (name: string) => TapDevice
  /** Applies MAC, MTU and IPv4 address and sets the link up. Throws LINK_CONFIG_FAILED. */
  configureLink: (name: string, config: LinkConfig) => Promise<void>
  /** Restricts a bound UDP socket to one interface (SO_BINDTODEVICE): nothing from other interfaces. */
  bindToDevice: (socket: import('node:dgram').Socket, iface: string) => void
  /**
   * Installs policy routing so game discovery sent from sockets bound to no interface leaves
   * by `iface`; replaces rules left by an earlier run. Throws LINK_CONFIG_FAILED.
   */
  installGameRoutes: (iface: string, spec: GameRouteSpec) => Promise<void>
  /** Removes what installGameRoutes added. Idempotent. */
  removeGameRoutes: (iface: string) => Promise<void>
  /**
   * Copies limited broadcasts and game multicast the host sends out of other interfaces
   * into `iface` (the originals still leave); replaces what an earlier run left. Throws
   * LINK_CONFIG_FAILED (e.g. nftables missing).
   */
  installBroadcastCopy: (iface: string) => Promise<void>
  /** Removes what installBroadcastCopy added. Idempotent. */
  removeBroadcastCopy: (iface: string) => Promise<void>
  /** IPv4 multicast groups the host joined on interfaces other than `except` (not 224.0.0.0/24). */
  hostMulticastGroups: (except: string) => string[]
  /** The direct path's socket on `port` (0: any), when this platform has its own; else node:dgram's (peer/udp-bind.ts). */
  openUdpBind?: (port: number) => Bind | null
}
