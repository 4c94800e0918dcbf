/**
 * Moderation's one algorithm: which pixels to repaint, and with what, so that a set of placements looks as
 * if it never happened. Two requests share it:
 *
 * - roll back a rectangle to its state at time T: the excluded placements are every one in the rectangle at
 *   or after T;
 * - undo an actor (display name and/or address) since T: the excluded placements are that actor's at or after T.
 *
 * For each pixel with an excluded placement, walk its log newest first: if its latest row is not excluded,
 * someone painted over it since and it stays; otherwise its colour becomes that of the newest row that is
 * not excluded, or the background if there is none. The caller writes the results as moderation entries
 * through the placement seam, so they reach viewers as ordinary deltas and the log stays truthful.
 *
 * Work is bounded: at most `maxScan` log rows examined and `maxPixels` pixels changed per request; beyond
 * either the request is refused as a whole (RollbackTooLarge) rather than half done.
 */
import type { ChunkStore } from '../chunks/chunk-store.js';
import { pixelPos, type CanvasStorage, type LogEntry, type PlacementScan } from './canvas-storage.js';
import { MAX_CANVAS_SIDE, keyCx, keyCy, pixelChunkKey } from '../chunks/geometry.js';
import { ROLLBACK_DEFAULTS } from '../defaults.js';

/** A candidate pixel during the backward walk. */
interface PixelState {
  /** Its newest row has been seen (the first row met walking backwards). */
  seen: boolean;
  done: boolean;
  /** The colour to restore; null: leave it. */
  color: number | null;
  /** False when its earlier colour is no longer held (in-memory ring). */
  known: boolean;
}


/**
 * The placements a rollback removes, as a storage scan selects them (inclusive bounds, at or after `since`
 * ms): only `actor`'s for an undo, every one when absent.
 */
export type RollbackQuery = Omit<PlacementScan, 'afterId' | 'limit'>;

export interface RollbackPlan {
  /** Pixels to repaint and their colours, in ascending pixel order. */
  changes: { x: number; y: number; color: number }[];
  /** Pixels with an excluded placement. */
  candidates: number;
  /** Candidates left alone: painted over since by a placement that is not excluded, or already that colour. */
  kept: number;
  /** Candidates whose earlier colour the storage no longer knows (in-memory ring wrapped); left alone. */
  unknown: number;
  /** Log rows examined. */
  scanned: number;
}

export class RollbackTooLarge extends Error {
  override name = 'RollbackTooLarge';
}

export function planRollback(storage: CanvasStorage, store: ChunkStore, q: RollbackQuery,
  limits: { maxScan?: number; maxPixels?: number; page?: number } = {}): RollbackPlan {
  const maxScan = limits.maxScan ?? ROLLBACK_DEFAULTS.maxScan;
  const maxPixels = limits.maxPixels ?? ROLLBACK_DEFAULTS.maxPixels;
  const pageSize = limits.page ?? ROLLBACK_DEFAULTS.page;
  const excluded = (e: LogEntry): boolean => e.time >= q.since && (q.actor === undefined || e.byActor);
  let scanned = 0;
  const charge = (n: number): void => {
    scanned += n;
    if (scanned > maxScan) throw new RollbackTooLarge(`more than ${maxScan} log rows to examine; narrow the rectangle or the time range`);
  };

  // 1. Candidate pixels: every position with an excluded placement.
  const candidates = new Set<number>();
  let after = 0;
  for (;;) {
    const page = storage.scanPlacements({ x0: q.x0, y0: q.y0, x1: q.x1, y1: q.y1, since: q.since, actor: q.actor, afterId: after, limit: pageSize });
    // A page over a quiet stretch of log is short but still cost a scan; count at least one row for it.
    charge(Math.max(1, page.entries.length));
    for (const e of page.entries) {
      if (!excluded(e)) continue;
      candidates.add(pixelPos(e.x, e.y));
      if (candidates.size > maxPixels) throw new RollbackTooLarge(`more than ${maxPixels} pixels to restore; narrow the rectangle or the time range`);
    }
    if (page.next === null) break;
    after = page.next;
  }

  // 2. Each candidate's colour before the excluded placements: one backward walk over each chunk's log
  //    serves all of that chunk's candidates, and stops as soon as every one of them is resolved.
  const byChunk = new Map<number, Map<number, PixelState>>();
  for (const pos of candidates) {
    const x = pos % MAX_CANVAS_SIDE, y = Math.floor(pos / MAX_CANVAS_SIDE);
    const key = pixelChunkKey(x, y);
    let m = byChunk.get(key);
    if (m === undefined) byChunk.set(key, (m = new Map()));
    m.set(pos, { seen: false, done: false, color: null, known: true });
  }
  for (const [key, states] of byChunk) {
    let open = states.size;
    let before = Number.MAX_SAFE_INTEGER;
    for (;;) {
      const trail = storage.chunkTrail(keyCx(key), keyCy(key), before, pageSize, q.actor);
      charge(Math.max(1, trail.entries.length));
      for (const e of trail.entries) {
        const st = states.get(pixelPos(e.x, e.y));
        if (st === undefined || st.done) continue;
        const ex = excluded(e);
        if (!st.seen) {
          st.seen = true;
          if (!ex) { // painted over since by a placement that stays: leave it
            st.done = true;
            open--;
            continue;
          }
        }
        if (!ex) {
          st.color = e.color;
          st.done = true;
          open--;
        }
      }
      if (open === 0) break;
      if (trail.entries.length < pageSize) {
        // The log's start: what is still open was never painted before (background), unless rows are missing.
        for (const st of states.values()) {
          if (st.done || !st.seen) continue;
          if (trail.complete) st.color = store.background;
          else st.known = false;
        }
        break;
      }
      before = trail.entries[trail.entries.length - 1]!.id;
    }
  }

  const changes: RollbackPlan['changes'] = [];
  let kept = 0, unknown = 0;
  const sorted = [...candidates].sort((a, b) => a - b);
  for (const pos of sorted) {
    const x = pos % MAX_CANVAS_SIDE, y = Math.floor(pos / MAX_CANVAS_SIDE);
    const st = byChunk.get(pixelChunkKey(x, y))!.get(pos)!;
    if (!st.known) unknown++;
    else if (st.color === null || st.color === store.get(x, y)) kept++;
    else changes.push({ x, y, color: st.color });
  }
  return { changes, candidates: candidates.size, kept, unknown, scanned };
}
