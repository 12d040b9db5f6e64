/**
 * A connection's way from `hello` to `welcome`: the join rate per address; in a cluster the
 * room's placement (claimed here with its shared state loaded, or a redirect to its owner);
 * the key challenge; the join desk's checks (hub/join.ts); the lease, written to a cluster's
 * store before the welcome; then the welcome and the members push. Every await is followed
 * by a re-check: the connection may have gone, or the hub be stopping.
 */
import type { Socket } from 'node:net'
import { OPEN } from '../core/websocket/connection.js'
import { OverlanError, isOverlanError, type ErrorCode } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import { CLOSE_BAD_MESSAGE, CLOSE_REDIRECT, REFUSAL_CLOSE_CODES, encodeControl, type HelloMessage, type RefusalCode } from '../core/protocol.js'
import { keyFingerprint, newNonce, parsePublicKey, verifyJoin, type KeyPair } from '../core/keys.js'
import { parseEndpoint } from '../core/direct/wire.js'
import type { AuditLog } from './audit.js'
import type { Cluster } from './cluster/cluster.js'
import type { Doors } from './doors.js'
import type { JoinDesk } from './join.js'
import type { LeaseStore } from './leases.js'
import type { MemberStore } from './members.js'
import type { HubMetrics } from './metrics.js'
import type { Room } from './room.js'
import type { RoomSettings } from './config.js'
import type { Session } from './session.js'

export interface AdmissionDeps {
  desk: JoinDesk
  leases: LeaseStore
  members: MemberStore
  /** The hub's X25519 key (challenges). */
  key: KeyPair
  doors: Doors
  audit: AuditLog
  metrics: HubMetrics
  log: Logger
  now: () => number
  /** Connections not yet in a room; a welcomed one leaves it. */
  pending: Set<Session>
  cluster: () => Cluster | null
  udpPort: () => number | null
  stopping: () => boolean
  refuse: (s: Session, code: RefusalCode | ErrorCode, message: string, closeCode: number) => void
  pushMembers: (r: Room, now: number) => void
  /** A room just claimed runs with the settings the cluster's store has for it (hub/cluster/room-settings.ts). */
  adoptRoom: (settings: RoomSettings) => void
}

export class Admission {
  constructor (private readonly d: AdmissionDeps) {}

  /** A hello on a connection not yet in a room. */
  hello (s: Session, m: HelloMessage, client: string, socket: Socket): void {
    if (!this.d.doors.allowJoin(client, this.d.now())) {
      this.d.refuse(s, 'RATE_LIMITED', 'too many join attempts from this address; retry in a minute', REFUSAL_CLOSE_CODES.RATE_LIMITED)
      return
    }
    if (this.d.cluster()?.ownsNow(m.room) === false) { void this.place(s, m, socket); return }
    this.placed(s, m, socket)
  }

  /** A cluster's hub: the room is claimed here (its leases loaded) or the peer is sent to the owner. */
  private async place (s: Session, m: HelloMessage, socket: Socket): Promise<void> {
    s.joining = true
    try {
      const p = await this.d.cluster()!.place(m.room)
      if (s.refused || s.ws.readyState !== OPEN || this.d.stopping()) return // re-checked after the await
      if (!p.mine) {
        s.sendControl(encodeControl({ type: 'redirect', room: m.room, url: p.url }))
        s.refused = true
        s.ws.close(CLOSE_REDIRECT, 'redirect')
        this.d.log.info('cluster.redirect', { room: m.room, to: p.url, remote: s.remote })
        return
      }
      if (p.state !== null) {
        if (p.state.settings !== null) this.d.adoptRoom(p.state.settings)
        this.d.leases.adopt(m.room, p.state.leases, Date.now())
        this.d.members.adopt(m.room, p.state.members, p.state.bans, Date.now())
      }
    } catch (e) {
      this.d.log.warn('cluster.join_waits', { room: m.room, error: (e as Error).message })
      this.d.refuse(s, 'UNAVAILABLE', 'the cluster store is unreachable; retrying shortly', REFUSAL_CLOSE_CODES.UNAVAILABLE)
      return
    } finally {
      s.joining = false
    }
    this.placed(s, m, socket)
  }

  private placed (s: Session, m: HelloMessage, socket: Socket): void {
    if (m.key !== undefined) {
      if (parsePublicKey(m.key) === null) { this.d.refuse(s, 'BAD_MESSAGE', 'hello.key is not an X25519 public key', CLOSE_BAD_MESSAGE); return }
      const nonce = newNonce()
      s.challenge = { hello: m, nonce }
      s.sendControl(encodeControl({ type: 'challenge', nonce, hubKey: this.d.key.publicKey }))
      return
    }
    void this.admit(s, m, null, socket)
  }

  /** The answer to this connection's challenge: proven, the hello goes on to the desk. */
  proof (s: Session, proof: string, socket: Socket): void {
    const c = s.challenge
    if (c === null || s.info !== null) { this.d.refuse(s, 'BAD_MESSAGE', 'proof without a challenge', CLOSE_BAD_MESSAGE); return }
    s.challenge = null
    if (!verifyJoin(this.d.key, c.hello.key!, c.nonce, proof)) { this.d.refuse(s, 'AUTH_FAILED', 'the proof of the peer\'s key did not verify', REFUSAL_CLOSE_CODES.AUTH_FAILED); return }
    void this.admit(s, c.hello, c.hello.key!, socket)
  }

  private async admit (s: Session, m: HelloMessage, key: string | null, socket: Socket): Promise<void> {
    s.joining = true
    try {
      const { room, name, lease, via } = await this.d.desk.admit(m, key)
      // The cluster's store holds leases under UNIQUE constraints: written before the welcome.
      await this.d.cluster()?.putLease(m.room, { identity: m.identity, mac: lease.mac, ip: lease.ip, name })
      // Re-check after the await: the connection may have gone, or the hub be stopping.
      if (s.refused || s.ws.readyState !== OPEN || this.d.stopping()) return
      const existing = room.sessionOf(m.identity)
      if (existing !== undefined) {
        // The same identity again: the newer connection wins (the old one is usually dead).
        this.d.refuse(existing, 'DUPLICATE_SESSION', 'replaced by a newer connection of the same peer identity', REFUSAL_CLOSE_CODES.DUPLICATE_SESSION)
        room.leave(existing, this.d.now())
      }
      s.info = { room: m.room, identity: m.identity, name, mac: lease.mac, ip: lease.ip }
      s.key = key
      // Candidates in the hello: the first members push can carry them (a path in one push).
      s.endpoints = (m.endpoints ?? []).filter(e => parseEndpoint(e) !== null)
      const members = room.list().map(o => ({ name: o.info!.name, mac: o.info!.mac, ip: o.info!.ip }))
      if (!room.join(s, this.d.now())) throw new OverlanError('ADDRESS_UNAVAILABLE', `MAC ${lease.mac} is in use by another member of room ${m.room}`)
      this.d.pending.delete(s)
      this.d.doors.joined(socket)
      s.sendControl(encodeControl({
        type: 'welcome',
        version: m.version,
        room: m.room,
        mac: lease.mac,
        ip: lease.ip,
        prefixLength: room.settings.subnet.prefixLength,
        mtu: room.settings.mtu,
        members,
        name,
        enrolled: key !== null,
        udpPort: this.d.udpPort(),
        directPath: room.settings.directPath && this.d.udpPort() !== null,
        allowBridging: room.settings.allowBridging
      }))
      this.d.metrics.joins.inc({ via })
      this.d.audit.record('join', { room: m.room, name, ip: lease.ip, mac: lease.mac, remote: s.remote, via, key: key !== null ? keyFingerprint(key) : undefined })
      this.d.pushMembers(room, this.d.now())
      this.d.log.info('peer.join', { room: m.room, name, ip: lease.ip, mac: lease.mac, remote: s.remote, peers: room.size, via })
    } catch (e) {
      s.info = null
      if (isOverlanError(e) && e.code in REFUSAL_CLOSE_CODES) {
        this.d.refuse(s, e.code as RefusalCode, e.message, REFUSAL_CLOSE_CODES[e.code as RefusalCode])
        return
      }
      this.d.log.error('peer.hello_failed', { remote: s.remote, error: (e as Error)?.stack ?? String(e) })
      s.refused = true
      s.ws.close(1011, 'internal error')
    } finally {
      s.joining = false
    }
  }
}
