/**
 * What a timelapse is made from: the region's colours at `since` and the placements in [since, until), read
 * from storage on the event loop (the storage connection lives there) but a bounded slice at a time — one
 * storage call of at most PAGE rows — yielding to the loop between slices, so a tick or a /healthz waits for
 * one slice, never for the whole request. Placements come packed in typed arrays, so handing them to the
 * encoding worker is a transfer, not a copy.
 *
 * The start state is not src/admin/rollback's plan (which must run in one synchronous step, as it compares
 * against the store): it asks a simpler question, the colour each pixel had at `since`. The region is copied
 * from the store first; every pixel with a row at or after `since` (the candidates) then takes the colour of
 * its newest row before `since`, or the background. Rows committed while the slices run only add candidates,
 * whose answer does not depend on when they were found, so the result is exact however the canvas moves.
 */
import type { ChunkStore } from '../chunks/chunk-store.js';
import { keyCx, keyCy, pixelChunkKey } from '../chunks/geometry.js';
import type { CanvasStorage } from '../storage/canvas-storage.js';
import { STORAGE_DEFAULTS } from '../defaults.js';

/** Rows per storage call: one slice of work between two turns of the loop. */
const PAGE = 256;

export interface TimelapseData {
  x: number;
  y: number;
  w: number;
  h: number;
  since: number;
  until: number;
  /** Palette indices of the region at `since`, row-major. */
  start: Uint8Array;
  /** Placements in log order: xs[i], ys[i], colors[i], times[i] (ms). */
  xs: Uint16Array;
  ys: Uint16Array;
  colors: Uint8Array;
  times: Float64Array;
}

export interface TimelapseBounds {
  /** Log rows examined for the start state (the candidates' scan and their chunks' trails). */
  maxScanRows: number;
  maxPlacements: number;
}

/** A bound was passed: the request is refused as a whole. */
export class TimelapseTooLarge extends Error {
  override name = 'TimelapseTooLarge';
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The region's state at `since` and the placements in [since, until). Rejects with TimelapseTooLarge past a bound. */
export async function collectTimelapse(storage: CanvasStorage, store: ChunkStore, x: number, y: number, w: number, h: number,
  since: number, until: number, bounds: TimelapseBounds): Promise<TimelapseData> {
  const x1 = x + w - 1, y1 = y + h - 1;
  const start = new Uint8Array(w * h);
  for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) start[j * w + i] = store.get(x + i, y + j);

  let scanned = 0;
  const charge = (n: number): void => {
    // A page over a quiet stretch of log is short but still cost a call; count at least one row for it.
    scanned += Math.max(1, n);
    if (scanned > bounds.maxScanRows) throw new TimelapseTooLarge(`more than ${bounds.maxScanRows} log rows to examine for the state at ${since}; narrow the region or the time range`);
  };

  // 1. Candidates, by chunk: region offsets of pixels with a row at or after `since`.
  const byChunk = new Map<number, Set<number>>();
  for (let after = 0; ;) {
    const page = storage.scanPlacements({ x0: x, y0: y, x1, y1, since, afterId: after, limit: PAGE });
    charge(page.entries.length);
    for (const e of page.entries) {
      if (e.time < since) continue;
      const key = pixelChunkKey(e.x, e.y);
      let set = byChunk.get(key);
      if (set === undefined) byChunk.set(key, (set = new Set()));
      set.add((e.y - y) * w + (e.x - x));
    }
    if (page.next === null) break;
    after = page.next;
    await nextTurn();
  }

  // 2. Each candidate's colour at `since`: one backward walk per chunk serves all its candidates.
  for (const [key, open] of byChunk) {
    await nextTurn();
    for (let before = Number.MAX_SAFE_INTEGER; ;) {
      const trail = storage.chunkTrail(keyCx(key), keyCy(key), before, PAGE);
      charge(trail.entries.length);
      for (const e of trail.entries) {
        if (e.time >= since || e.x < x || e.x > x1 || e.y < y || e.y > y1) continue;
        const off = (e.y - y) * w + (e.x - x);
        if (open.delete(off)) start[off] = e.color;
      }
      if (open.size === 0) break;
      if (trail.entries.length < PAGE) {
        // The log's start: never painted before `since`. When the storage no longer holds older rows
        // (the in-memory ring wrapped), the colour is unknown and the current one stays.
        if (trail.complete) for (const off of open) start[off] = store.background;
        break;
      }
      before = trail.entries[trail.entries.length - 1]!.id;
      await nextTurn();
    }
  }

  // 3. The placements in range, in log order.
  const cap = bounds.maxPlacements + STORAGE_DEFAULTS.maxHistoryLimit;
  const xs = new Uint16Array(cap), ys = new Uint16Array(cap), colors = new Uint8Array(cap), times = new Float64Array(cap);
  let n = 0;
  for (let after: string | undefined; ;) {
    await nextTurn();
    const page = storage.history({ x0: x, y0: y, x1, y1, since, until, limit: STORAGE_DEFAULTS.maxHistoryLimit, after });
    if (n + page.placements.length > bounds.maxPlacements) {
      throw new TimelapseTooLarge(`more than ${bounds.maxPlacements} placements in the range; narrow the region or the time range`);
    }
    for (const p of page.placements) {
      xs[n] = p.x; ys[n] = p.y; colors[n] = p.color; times[n] = p.placedAt;
      n++;
    }
    if (page.next === null) break;
    after = page.next;
  }
  return { x, y, w, h, since, until, start, xs: xs.slice(0, n), ys: ys.slice(0, n), colors: colors.slice(0, n), times: times.slice(0, n) };
}
