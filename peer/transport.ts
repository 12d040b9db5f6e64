/**
 * How frames leave this peer, as wireguard-go's conn.Bind is for packets: the hub's WebSocket
 * (peer/hub-link.ts, the relay that always works) and the direct UDP path to other members
 * (peer/direct-link.ts). The frame path offers each TAP batch to the direct path first, which
 * takes the plain unicast frames it can carry, then the rest to the relay.
 */
export interface FrameTransport {
  readonly kind: 'relay' | 'direct'
  /**
   * Sends what it can of `batch` (`frames` frames, `classes[i]` the traffic class of each);
   * returns the rest as a batch (the same buffer when it took none), or null when it took all.
   */
  take: (batch: Buffer, frames: number, classes: Uint8Array) => Buffer | null
}
