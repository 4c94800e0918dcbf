/**
 * The tick's last stage: one write per client marked this tick. The backpressure policy is applied (once per
 * tick) and a client past its limits is closed with 4001; otherwise its owed snapshots are queued, paced by
 * the room the policy leaves it, then everything queued for it this tick goes out as ONE WebSocket message —
 * framed and copied once by the transport when it can (`sendParts`), else joined here and sent.
 *
 * Under the overload policy (./overload.ts) a client whose turn it is not is held for a later tick with what
 * is queued for it, and once the tick's budget is spent the clients not yet reached are carried to the next
 * tick, where they come first. Snapshots are also bounded across all clients: what every socket holds
 * unsent plus what this tick queues stays under --global-buffer-bytes, so a crowd panning a huge canvas
 * cannot make the process hold more than that in snapshot streams, however many clients it has.
 */
import type { Logger } from 'pino';
import { keyCx, keyCy } from '../chunks/geometry.js';
import type { ChunkStore } from '../chunks/chunk-store.js';
import type { LodLevels } from '../chunks/lod.js';
import type { ServerMetrics } from '../metrics.js';
import { OVERLOAD_DEFAULTS } from '../defaults.js';
import { CloseCode } from '../net/protocol.js';
import type { PressureGate } from './backpressure.js';
import type { ClientSession } from './client-session.js';
import type { Outbox } from './outbox.js';
import type { OverloadGovernor } from './overload.js';

/**
 * Queues snapshots from the client's `needSnapshot` set (chunks of `store`, its level) while `room` bytes
 * last. Returns false when it is owed snapshots and has no room at all: the caller marks it stale (with its
 * stall timeout) rather than revisit it forever.
 */
export function addSnapshots(s: ClientSession, store: ChunkStore, room: number, shared = Number.POSITIVE_INFINITY): boolean {
  if (s.needSnapshot.size === 0) return true;
  if (room <= 0) return false;
  // `shared`: what the tick may still queue for all clients together; running out of it only paces the
  // client (the rest next tick), it is not the client's fault.
  room = Math.min(room, shared);
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
  overload: OverloadGovernor;
  metrics: Pick<ServerMetrics, 'clientsDropped' | 'clientsStale' | 'bytesSent' | 'panSnapshotSeconds'>;
  log: Logger;
  /** Forget the client everywhere (the room's disconnect). */
  disconnect: (s: ClientSession) => void;
  /** Bytes every socket holds unsent, summed (read every few ticks: it walks every client). */
  bufferedBytes: () => number;
  /** --global-buffer-bytes: what snapshot streams may hold at once, across all clients. */
  globalBufferBytes: number;
  /** Wall of the tick clock (performance.now()). */
  clock?: () => number;
}

export class ClientWriter {
  /** Clients the last write left for the next tick because the budget was spent. */
  carried = 0;
  /** Bytes all sockets held unsent at the last reading, and when (tick number) it was read. */
  private buffered = 0;
  private bufferedTick = Number.NEGATIVE_INFINITY;
  /** Snapshot bytes this tick may still queue across all clients. */
  private shared = 0;
  private readonly clock: () => number;

  constructor(private readonly deps: ClientWriterDeps) {
    this.clock = deps.clock ?? (() => performance.now());
  }

  /** Writes every client marked this tick whose turn it is, within the budget; returns how many were marked. */
  write(t: number): number {
    const { metrics, outbox, pressure, overload } = this.deps;
    const marked = outbox.takeMarked();
    const tick = outbox.tick;
    if (tick - this.bufferedTick >= OVERLOAD_DEFAULTS.bufferedRefreshTicks) {
      this.buffered = this.deps.bufferedBytes();
      this.bufferedTick = tick;
    }
    this.shared = this.deps.globalBufferBytes - this.buffered;
    let bytesSent = 0;
    let served = 0;
    let carried = 0;
    let dueBelow = 0; // clients the level below would have written (the governor's prediction)
    const started = this.clock();
    for (const s of marked) {
      if (s.phase === 'closed') continue;
      pressure.check(s, t);
      if (s.dropping) {
        metrics.clientsDropped.inc({ reason: 'TOO_SLOW' });
        s.transport.close(CloseCode.TOO_SLOW, 'TOO_SLOW');
        this.deps.disconnect(s);
        continue;
      }
      if (!overload.due(s, tick, t)) { // not its turn: what it has queued waits for its turn
        if (overload.level > 0 && overload.dueBelowLevel(s, tick, t)) dueBelow++;
        outbox.hold(s);
        continue;
      }
      dueBelow++;
      if (served >= overload.minServed && overload.spent(this.clock())) {
        s.dueTick = tick + 1; // first in the next tick's write, and gets that tick's deltas
        outbox.hold(s);
        carried++;
        continue;
      }
      served++;
      try {
        if (!s.stale) this.snapshots(s, t);
        bytesSent += flushClient(s);
        if (s.panAt !== 0 && s.needSnapshot.size === 0) {
          metrics.panSnapshotSeconds.observe((this.clock() - s.panAt) / 1000);
          s.panAt = 0;
        }
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
    overload.noteWrite(this.clock() - started, served, dueBelow);
    if (bytesSent > 0) metrics.bytesSent.inc(bytesSent);
    this.buffered += bytesSent; // until the next reading: assume the kernel kept it (errs towards less)
    this.carried = carried;
    return marked.length;
  }

  /** Snapshots from the client's set while it has room under the high-water mark; stale when it has none. */
  private snapshots(s: ClientSession, t: number): void {
    const before = s.outBytes;
    const ok = addSnapshots(s, this.deps.levels.level(s.level), this.deps.pressure.room(s), this.shared);
    this.shared -= s.outBytes - before;
    if (!ok) {
      s.stale = true;
      s.staleSince = t;
      this.deps.metrics.clientsStale.inc();
    }
  }
}
