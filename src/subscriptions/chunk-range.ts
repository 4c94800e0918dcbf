/**
 * Pure maths over inclusive rectangles of chunks. No state; nothing allocated except by the
 * callers' `out` arrays, so the viewport index can run these on every viewport move.
 */
import { CHUNK_SHIFT, chunkKey } from '../chunks/geometry.js';

/** Inclusive range of chunk coordinates: chunks cx0..cx1 × cy0..cy1. Never empty. */
export interface ChunkRange {
  cx0: number;
  cy0: number;
  cx1: number;
  cy1: number;
}

/**
 * Sets `out` to the chunks covered by the inclusive pixel box [minX..maxX] × [minY..maxY].
 * Coordinates must be non-negative (already clamped to the canvas), so a shift is a floor.
 */
export function chunkRangeOfPixels(
  out: ChunkRange,
  minX: number,
  minY: number,
  maxX: number,
  maxY: number,
): ChunkRange {
  out.cx0 = minX >>> CHUNK_SHIFT;
  out.cy0 = minY >>> CHUNK_SHIFT;
  out.cx1 = maxX >>> CHUNK_SHIFT;
  out.cy1 = maxY >>> CHUNK_SHIFT;
  return out;
}

export function rangeContains(r: ChunkRange, cx: number, cy: number): boolean {
  return cx >= r.cx0 && cx <= r.cx1 && cy >= r.cy0 && cy <= r.cy1;
}

/** Appends the keys of every chunk in `r` to `out`, row by row. */
export function pushRangeKeys(out: number[], r: ChunkRange): number[] {
  for (let cy = r.cy0; cy <= r.cy1; cy++) {
    for (let cx = r.cx0; cx <= r.cx1; cx++) out.push(chunkKey(cx, cy));
  }
  return out;
}

/**
 * Appends the keys of chunks in `a` but not in `b` (b = null: nothing to subtract), row by row.
 * Per row the difference is at most two runs (left and right of b), so the cost is
 * O(rows + result) rather than O(area): a one-pixel pan of a zoomed-out view stays cheap.
 */
export function pushRangeDifference(out: number[], a: ChunkRange, b: ChunkRange | null): number[] {
  if (b === null || a.cx1 < b.cx0 || a.cx0 > b.cx1 || a.cy1 < b.cy0 || a.cy0 > b.cy1) {
    return pushRangeKeys(out, a);
  }
  // The two runs left and right of b on rows that b covers; clipped to a.
  const leftEnd = Math.min(a.cx1, b.cx0 - 1);
  const rightStart = Math.max(a.cx0, b.cx1 + 1);
  for (let cy = a.cy0; cy <= a.cy1; cy++) {
    if (cy < b.cy0 || cy > b.cy1) {
      for (let cx = a.cx0; cx <= a.cx1; cx++) out.push(chunkKey(cx, cy));
    } else {
      for (let cx = a.cx0; cx <= leftEnd; cx++) out.push(chunkKey(cx, cy));
      for (let cx = rightStart; cx <= a.cx1; cx++) out.push(chunkKey(cx, cy));
    }
  }
  return out;
}
