/**
 * The chunk and view arithmetic the simulated users need, kept here rather than imported from src/ (which
 * the load test must not depend on beyond the wire codec): chunk keys, the chunks a view covers, the view a
 * client actually sends for a requested one, and the level of detail for a zoom. Each mirrors the project
 * client's rule exactly; test/loadtest/view-geometry.test.ts checks them against src/ so they cannot drift.
 */

export const CHUNK_SIZE = 64;
export const CHUNK_SHIFT = 6;
const CHUNKS_PER_SIDE = 1024;
const MAX_LOD_LEVEL = 10;

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Inclusive chunk range cx0..cx1 × cy0..cy1; never empty. */
export interface ViewChunkRange {
  cx0: number;
  cy0: number;
  cx1: number;
  cy1: number;
}

/** cy * 1024 + cx, as the server and the client key chunks. */
export function chunkKey(cx: number, cy: number): number {
  return cy * CHUNKS_PER_SIDE + cx;
}
export function keyCx(key: number): number {
  return key % CHUNKS_PER_SIDE;
}
export function keyCy(key: number): number {
  return Math.floor(key / CHUNKS_PER_SIDE);
}

/** The chunks a view covers once clamped to the canvas, as the server clamps it; null when none. */
export function viewChunkRange(x: number, y: number, w: number, h: number, width: number, height: number): ViewChunkRange | null {
  const x0 = Math.max(Math.floor(x), 0);
  const y0 = Math.max(Math.floor(y), 0);
  const x1 = Math.min(Math.ceil(x + w), width);
  const y1 = Math.min(Math.ceil(y + h), height);
  if (!(x1 > x0 && y1 > y0)) return null;
  return { cx0: x0 >>> CHUNK_SHIFT, cy0: y0 >>> CHUNK_SHIFT, cx1: (x1 - 1) >>> CHUNK_SHIFT, cy1: (y1 - 1) >>> CHUNK_SHIFT };
}

export function rangeHas(r: ViewChunkRange, cx: number, cy: number): boolean {
  return cx >= r.cx0 && cx <= r.cx1 && cy >= r.cy0 && cy <= r.cy1;
}

/** Whole pixels covering r, clamped to the canvas, shrunk about its centre to fit maxArea (the client's rule). */
export function effectiveViewport(r: Rect, width: number, height: number, maxArea: number): Rect {
  const x0 = Math.max(Math.floor(r.x), 0);
  const y0 = Math.max(Math.floor(r.y), 0);
  const x1 = Math.min(Math.ceil(r.x + r.w), width);
  const y1 = Math.min(Math.ceil(r.y + r.h), height);
  const w = Math.max(0, x1 - x0);
  const h = Math.max(0, y1 - y0);
  if (w === 0 || h === 0) return { x: Math.min(x0, width), y: Math.min(y0, height), w: 0, h: 0 };
  if (w * h <= maxArea) return { x: x0, y: y0, w, h };
  const k = Math.sqrt(maxArea / (w * h));
  let nw = Math.max(1, Math.floor(w * k));
  let nh = Math.max(1, Math.floor(h * k));
  while (nw * nh > maxArea) {
    if (nw >= nh) nw--;
    else nh--;
  }
  return { x: x0 + ((w - nw) >> 1), y: y0 + ((h - nh) >> 1), w: nw, h: nh };
}

/** A clamped canvas rect in level-L pixels: every level pixel whose block it touches. */
export function levelRect(c: Rect, level: number): Rect {
  if (level === 0) return c;
  const d = 2 ** level;
  const x0 = Math.floor(c.x / d);
  const y0 = Math.floor(c.y / d);
  return { x: x0, y: y0, w: Math.ceil((c.x + c.w) / d) - x0, h: Math.ceil((c.y + c.h) / d) - y0 };
}

/** The coarsest useful level: the whole canvas in one level chunk. */
export function topLodLevel(width: number, height: number): number {
  let l = 0;
  while (l < MAX_LOD_LEVEL && Math.ceil(Math.max(width, height) / 2 ** l) > CHUNK_SIZE) l++;
  return l;
}

/** The finest level whose values are at least one screen pixel apart at this zoom. */
export function lodLevelForZoom(screenPxPerCanvasPx: number, top: number): number {
  if (!(screenPxPerCanvasPx > 0) || screenPxPerCanvasPx >= 1) return 0;
  const l = Math.floor(Math.log2(1 / screenPxPerCanvasPx) + 1e-9);
  return Math.min(Math.max(l, 0), top);
}

/** The view the client sends for a requested one at `level` (the area limit counts level pixels). */
export function fitViewport(r: Rect, width: number, height: number, maxArea: number, level: number): Rect {
  if (level === 0) return effectiveViewport(r, width, height, maxArea);
  let area = maxArea * 4 ** level;
  for (;;) {
    const v = effectiveViewport(r, width, height, area);
    const l = levelRect(v, level);
    if (l.w * l.h <= maxArea || area <= 1) return v;
    area = Math.floor(area * 0.97);
  }
}
