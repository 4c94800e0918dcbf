/**
 * The tick's last stage: one write per client marked this tick. The backpressure policy is applied (once per
 * tick) and a client past its limits is closed with 4001; otherwise its owed snapshots are queued, paced by
 * the room the policy leaves it, then everything queued for it this tick goes out as ONE WebSocket message —
 * framed and copied once by the transport when it can (`sendParts`), else joined here and sent.
 */
import type { Logger } from 'pino';
import { keyCx, keyCy } from '../chunks/geometry.js';
import type { ChunkStore } from '../chunks/chunk-store.js';
import type { LodLevels } from '../chunks/lod.js';
import type { ServerMetrics } from '../metrics.js';
import { CloseCode } from '../net/protocol.js';
import type { PressureGate } from './backpressure.js';
import type { ClientSession } from './client-session.js';
import type { Outbox } from './outbox.js';

/**
 * Queues snapshots from the client's `needSnapshot` set (chunks of `store`, its level) while `room` bytes
 * last. Returns false when it is owed snapshots and has no room at all: the caller marks it stale (with its
 * stall timeout) rather than revisit it forever.
 */
export function addSnapshots(s: ClientSession, store: ChunkStore, room: number): boolean {
  if (s.needSnapshot.size === 0) return true;
  if (room <= 0) return false;
  const need = s.needSnapshot;
  for (let i = 0; i < need.end && room > 0; i++) { // `end` shrinks to 0 when the last key is deleted
    const key = need.keyAt(i);
    if (key < 0) continue;
    const snap = store.snapshot(keyCx(key), keyCy(key));
    s.enqueue(snap);
    need.delete(key);
    room -= snap.length;
  }
  return true;
}

/** Writes what is queued for the client as one message; returns the payload bytes written (0: nothing). */
export function flushClient(s: ClientSession): number {
  const transport = s.transport;
  if (transport.sendParts) {
    if (s.outCount === 0) return 0;
    const total = s.outBytes;
    transport.sendParts(s.out, total, s.outCount);
    s.clearOut();
    return total;
  }
  const bytes = s.takeOut();
  if (bytes === null) return 0;
  transport.send(bytes);
  return bytes.length;
}

export interface ClientWriterDeps {
  levels: LodLevels;
  pressure: PressureGate;
  outbox: Outbox;
  metrics: Pick<ServerMetrics, 'clientsDropped' | 'clientsStale' | 'bytesSent'>;
  log: Logger;
  /** Forget the client everywhere (the room's disconnect). */
  disconnect: (s: ClientSession) => void;
}

export class ClientWriter {
  constructor(private readonly deps: ClientWriterDeps) {}

  /** Writes every client marked this tick; returns how many were marked. */
  write(t: number): number {
    const { metrics, outbox, pressure } = this.deps;
    const marked = outbox.takeMarked();
    let bytesSent = 0;
    for (const s of marked) {
      if (s.phase === 'closed') continue;
      pressure.check(s, t);
      if (s.dropping) {
        metrics.clientsDropped.inc({ reason: 'TOO_SLOW' });
        s.transport.close(CloseCode.TOO_SLOW, 'TOO_SLOW');
        this.deps.disconnect(s);
        continue;
      }
      try {
        if (!s.stale) this.snapshots(s, t);
        bytesSent += flushClient(s);
      } catch (err) {
        // One client's failure (a snapshot that cannot be encoded, a socket error) must not cost the others.
        this.deps.log.error({ err, client: s.id }, 'write failed; closing the client');
        s.transport.terminate();
        this.deps.disconnect(s);
        continue;
      }
      if (s.stale || s.needSnapshot.size > 0 || s.pendingViewport) outbox.backlog.add(s);
      else outbox.backlog.delete(s);
    }
    if (bytesSent > 0) metrics.bytesSent.inc(bytesSent);
    return marked.length;
  }

  /** Snapshots from the client's set while it has room under the high-water mark; stale when it has none. */
  private snapshots(s: ClientSession, t: number): void {
    if (!addSnapshots(s, this.deps.levels.level(s.level), this.deps.pressure.room(s))) {
      s.stale = true;
      s.staleSince = t;
      this.deps.metrics.clientsStale.inc();
    }
  }
}
