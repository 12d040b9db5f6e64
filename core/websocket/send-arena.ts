/**
 * Memory for outgoing frames: one bump allocator for every connection of the process. A frame
 * is written once into a fresh region and handed to socket.write, which may keep it queued
 * (a TLS socket completes writes on a later turn): a region is never written again, and a
 * full slab is replaced, not reused: it lives on while a queued write still holds a view.
 * Sharing it costs nothing per connection (a hub holds thousands).
 */
const SLAB_BYTES = 256 * 1024

export class SendArena {
  buf = Buffer.allocUnsafe(SLAB_BYTES)
  private used = 0

  /** A fresh region of `len` bytes in `this.buf` (8-aligned): its offset. Read `buf` after this call. */
  take (len: number): number {
    if (this.used + len > this.buf.length) {
      this.buf = Buffer.allocUnsafe(Math.max(SLAB_BYTES, len))
      this.used = 0
    }
    const off = this.used
    this.used = (off + len + 7) & ~7
    return off
  }
}

export const sendArena = new SendArena()
