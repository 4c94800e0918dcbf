/**
 * The tick's cursor stage, at its own cadence (--cursor-broadcast-hz, not every tick): moved cursors to the
 * viewers that see them (stale viewers skipped), and — in any tick — full cursor snapshots for the viewers
 * whose view moved or who caught up from stale. The encoding and the per-cell sharing are the cursor
 * table's (src/presence/cursor-table.ts); this queues its parts for each viewer's write.
 */
import type { CursorSink, CursorTable } from '../presence/cursor-table.js';
import type { PressureGate } from './backpressure.js';
import type { ClientSession } from './client-session.js';
import type { Outbox } from './outbox.js';

export class CursorFanout {
  /** When cursors were last flushed (tick clock), for the cursor cadence. */
  private lastFlush = Number.NEGATIVE_INFINITY;
  /** Viewers that get a full cursor snapshot next flush (their view moved, or they caught up from stale). */
  private snapshots = new Set<ClientSession>();
  private lookupTime = 0;
  private readonly viewerLookup = {
    isStale: (s: ClientSession) => this.pressure.check(s, this.lookupTime),
  };
  /** One viewer's CURSORS message from the flush, queued in parts. */
  private readonly sink: CursorSink<ClientSession> = (s, parts, count) => {
    if (s.phase !== 'ready') return;
    for (let i = 0; i < count; i++) s.enqueue(parts[i]!);
    this.outbox.mark(s);
  };

  constructor(
    private readonly cursors: CursorTable<ClientSession>,
    private readonly broadcastHz: number,
    private readonly pressure: PressureGate,
    private readonly outbox: Outbox,
    /** The overload cadence (1, 2, 4…): under load cursors flush that many times less often. */
    private readonly slowdown: () => number = () => 1,
    /** Whether a viewer is served this tick (its overload cadence); a cursor snapshot waits for its turn. */
    private readonly served: (s: ClientSession, t: number) => boolean = () => true,
  ) {}

  /** Moved cursors are due at `t` (a little slack for timer jitter). */
  due(t: number): boolean {
    return this.cursors.hasWork && t - this.lastFlush >= (1000 / this.broadcastHz) * this.slowdown() * 0.9;
  }

  snapshotFor(s: ClientSession): void {
    this.snapshots.add(s);
  }

  forget(s: ClientSession): void {
    this.snapshots.delete(s);
  }

  /** Returns true while cursor work remains. */
  flush(t: number, due: boolean): boolean {
    if (!due && this.snapshots.size === 0) return this.cursors.hasWork; // keep ticking until they are due
    if (due) this.lastFlush = t;
    this.lookupTime = t;
    // Swap first: a viewer that catches up inside the flush (via isStale) files a snapshot for next tick.
    // Under load a panning crowd asks for a cursor snapshot with every move: one is made only on the
    // viewer's turn (the latest view wins meanwhile), so they cost what its writes do.
    let snapshots = this.snapshots;
    this.snapshots = new Set();
    if (this.slowdown() > 1) {
      const now = new Set<ClientSession>();
      for (const s of snapshots) (this.served(s, t) ? now : this.snapshots).add(s);
      snapshots = now;
      if (!due && snapshots.size === 0) return true; // snapshots wait for their viewers' turns
    }
    this.cursors.flush(this.viewerLookup, snapshots, due, this.sink);
    return true;
  }
}
