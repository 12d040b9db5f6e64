/**
 * One recvmsg(2) set-up for the direct path's socket, in native memory the kernel follows
 * pointers in: msghdr, one iovec, the sender's sockaddr_in, a control buffer, 64 KiB of data.
 * With UDP_GRO on the socket (udp(7), Linux 5.0) the kernel may hand over several datagrams
 * of one flow in one read, each `gsoSize` bytes but the last; the control message says so.
 *
 * x86-64/aarch64 layout (LP64): msghdr { name @0, namelen u32 @8, iov @16, iovlen @24,
 * control @32, controllen @40, flags i32 @48 } (56 B); iovec { base @0, len @8 };
 * cmsghdr { len @0, level i32 @8, type i32 @12, data @16 }.
 */
import { nativeMemory, type Libc, type NativeMemory } from '../../core/libc.js'

const MSG = 0
const IOV = 56
const NAME = 72
const NAME_LEN = 16
const CONTROL = 88
const CONTROL_LEN = 64
const DATA = CONTROL + CONTROL_LEN
export const RECV_DATA_LEN = 65536
const SOL_UDP = 17
const UDP_GRO = 104

export class RecvMsg {
  /** The data area: what the last receive read is at [0, n). */
  readonly data: Buffer
  private readonly mem: NativeMemory
  private readonly v: Buffer

  private constructor (mem: NativeMemory) {
    this.mem = mem
    this.v = mem.buf
    this.data = mem.buf.subarray(DATA, DATA + RECV_DATA_LEN)
    const v = this.v
    const at = (off: number): bigint => mem.address + BigInt(off)
    v.writeBigUInt64LE(at(NAME), MSG)
    v.writeBigUInt64LE(at(IOV), MSG + 16)
    v.writeBigUInt64LE(1n, MSG + 24)
    v.writeBigUInt64LE(at(CONTROL), MSG + 32)
    v.writeBigUInt64LE(at(DATA), IOV)
    v.writeBigUInt64LE(BigInt(RECV_DATA_LEN), IOV + 8)
  }

  /** The layout above is LP64 Linux's (x86-64, aarch64). */
  static supported (): boolean { return process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64') }

  /** Null when native memory cannot be had, or where the layout does not hold. */
  static create (): RecvMsg | null {
    if (!RecvMsg.supported()) return null
    const mem = nativeMemory(DATA + RECV_DATA_LEN)
    return mem === null ? null : new RecvMsg(mem)
  }

  /** One non-blocking read: bytes, or -1 (errno()). */
  receive (c: Libc, fd: number): number {
    const v = this.v
    v.writeUInt32LE(NAME_LEN, MSG + 8)
    v.writeUInt32LE(CONTROL_LEN, MSG + 40)
    v.writeUInt32LE(0, MSG + 44)
    v.writeInt32LE(0, MSG + 48)
    return c.recvmsg(fd, this.mem, 0)
  }

  /** The sender's address family, IPv4 address (u32) and port, of the last read. */
  get family (): number { return this.v.readUInt16LE(NAME) }
  get address (): number { return this.v.readUInt32BE(NAME + 4) }
  get port (): number { return this.v.readUInt16BE(NAME + 2) }

  /** The size of each datagram the last read coalesced (UDP_GRO), or 0 for one datagram. */
  get gsoSize (): number {
    const v = this.v
    // cmsg_len 20: the kernel puts gso_size as an int (udp_cmsg_recv), read as one.
    if (v.readUInt32LE(MSG + 40) < 20 || v.readUInt32LE(CONTROL) < 20) return 0
    return v.readInt32LE(CONTROL + 8) === SOL_UDP && v.readInt32LE(CONTROL + 12) === UDP_GRO ? v.readInt32LE(CONTROL + 16) : 0
  }

  free (): void { this.mem.free() }
}

export { SOL_UDP, UDP_GRO }
