/**
 * The forwarding decision of one room's switch (IEEE 802.1D learning bridge).
 *
 *   frame ──► length check ──► source check ──► learn src ──► dst group? ──► FLOOD
 *                (runt,           (group src,      (fdb)           │
 *                 oversize)        spoofed src)                    ▼
 *                                                   known unicast ──► port (or DROP if
 *                                                   unknown ──► FLOOD      it is the ingress)
 *
 * FLOOD means: every port of this room except the ingress port. A switch exists per
 * room, so no decision can ever name a port of another room. Pure: no I/O, time passed
 * in, no allocation per frame. Ports are small integers owned by the caller.
 */
import { Fdb, type FdbOptions } from './fdb.js'
import {
  ETH_DST, ETH_HEADER_LEN, ETH_SRC, isGroupAt, isBroadcastAt, macAt, maxFrameLenForMtu
} from './ethernet.js'

export const FLOOD = -2
export const DROP = -1

/** Why a frame was dropped; also the metric label. */
export type DropReason =
  | 'runt' // shorter than an Ethernet header
  | 'oversize' // longer than MTU + header + VLAN tag
  | 'src_group' // source MAC with the I/G bit set (IEEE 802 forbids it)
  | 'src_zero' // all-zero source MAC
  | 'src_not_leased' // a port that may not bridge sent from a MAC other than its lease
  | 'src_stolen' // source MAC is another port's leased MAC
  | 'same_port' // destination lives on the ingress port

export const DROP_REASONS: readonly DropReason[] = [
  'runt', 'oversize', 'src_group', 'src_zero', 'src_not_leased', 'src_stolen', 'same_port'
]

export interface SwitchOptions {
  mtu: number
  /** May ports send from MACs other than their lease (a bridged LAN behind a peer)? */
  allowBridging?: boolean
  fdb?: FdbOptions
}

export class SwitchCounters {
  frames = 0
  bytes = 0
  unicast = 0
  broadcast = 0
  multicast = 0
  unknownUnicast = 0
  fdbPortFull = 0
  readonly drops: Record<DropReason, number> = {
    runt: 0, oversize: 0, src_group: 0, src_zero: 0, src_not_leased: 0, src_stolen: 0, same_port: 0
  }
}

export class L2Switch {
  // set at construction
  readonly fdb: Fdb
  readonly maxFrameLen: number
  readonly allowBridging: boolean
  readonly counters = new SwitchCounters()

  // owned by addPort/removePort
  /** Flat list of ports for fan-out; rebuilt on join/leave, never per frame. */
  ports: readonly number[] = []
  private readonly leasedMac = new Map<number, number>()

  constructor (options: SwitchOptions) {
    this.fdb = new Fdb(options.fdb)
    this.maxFrameLen = maxFrameLenForMtu(options.mtu)
    this.allowBridging = options.allowBridging ?? false
  }

  /** Adds a port whose leased MAC is pinned in the table (never ages, cannot be stolen). */
  addPort (port: number, mac: number): void {
    if (this.leasedMac.has(port)) this.removePort(port)
    this.leasedMac.set(port, mac)
    this.fdb.setStatic(mac, port)
    this.ports = [...this.ports, port]
  }

  removePort (port: number): void {
    if (!this.leasedMac.has(port)) return
    this.leasedMac.delete(port)
    this.fdb.removePort(port)
    this.ports = this.ports.filter(p => p !== port)
  }

  /**
   * Decides where the frame at buf[off, off+len) entering on `ingress` goes:
   * a port number, FLOOD, or DROP (the reason is counted).
   */
  decide (buf: Buffer, off: number, len: number, ingress: number, now: number): number {
    const c = this.counters
    if (len < ETH_HEADER_LEN) { c.drops.runt++; return DROP }
    if (len > this.maxFrameLen) { c.drops.oversize++; return DROP }
    if (isGroupAt(buf, off + ETH_SRC)) { c.drops.src_group++; return DROP }
    const src = macAt(buf, off + ETH_SRC)
    if (src === 0) { c.drops.src_zero++; return DROP }

    const lease = this.leasedMac.get(ingress)
    if (src !== lease) {
      if (!this.allowBridging) { c.drops.src_not_leased++; return DROP }
      const r = this.fdb.learn(src, ingress, now)
      if (r === 'static_conflict') { c.drops.src_stolen++; return DROP }
      if (r === 'port_full') c.fdbPortFull++
    }

    c.frames++
    c.bytes += len
    if (isGroupAt(buf, off + ETH_DST)) {
      if (isBroadcastAt(buf, off + ETH_DST)) c.broadcast++
      else c.multicast++
      return FLOOD
    }
    const port = this.fdb.lookup(macAt(buf, off + ETH_DST), now)
    if (port === -1) { c.unknownUnicast++; return FLOOD }
    if (port === ingress) { c.drops.same_port++; return DROP }
    c.unicast++
    return port
  }
}
