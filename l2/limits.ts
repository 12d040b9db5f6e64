/**
 * Bounds of every switch table that frames from a port can grow, per port and per room.
 * Over a bound nothing new is learned and the frame is dropped and counted `table_full`
 * (the MAC table is the exception: over its per-port bound the frame is still switched but
 * its MAC not learned, counted `fdbPortFull`). One defaults table for the schema, the
 * README and the code.
 */
export interface TableLimits {
  /** MACs one port may own (bridging peers); leases count. */
  macsPerPort: number
  /** Learned IP -> MAC bindings (ARP/ND) one port may own, IPv4 and IPv6 each. */
  bindingsPerPort: number
  /** Learned bindings in the whole room, IPv4 and IPv6 each. */
  bindingsPerRoom: number
  /** Multicast groups one port may be a member of. */
  groupsPerPort: number
  /** Multicast groups in the whole room. */
  groupsPerRoom: number
}

export const DEFAULT_TABLE_LIMITS: Readonly<TableLimits> = Object.freeze({
  macsPerPort: 64,
  bindingsPerPort: 32,
  bindingsPerRoom: 4096,
  groupsPerPort: 256,
  groupsPerRoom: 2048
})
