/**
 * Level-of-detail geometry, pure (no store, no I/O) so the browser client shares it with the server.
 * Level L holds one value per 2^L × 2^L block of the canvas: the colour of the block's top-left pixel.
 */
import { CHUNK_AREA, CHUNK_SHIFT, CHUNK_SIZE } from './geometry.js';

export interface LevelRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Deepest level a client may ask for (65536 / 64 = 2^10: the largest canvas in one level-10 chunk). */
export const MAX_LOD_LEVEL = 10;

/** Pixels along one side of level L for a canvas side: ⌈side / 2^L⌉ rounded up to a whole chunk. */
export function lodSide(side: number, level: number): number {
  const n = Math.ceil(side / 2 ** level);
  return Math.max(CHUNK_SIZE, Math.ceil(n / CHUNK_SIZE) * CHUNK_SIZE);
}

/** The coarsest useful level: the whole canvas fits one level chunk. */
export function topLodLevel(width: number, height: number): number {
  let l = 0;
  while (l < MAX_LOD_LEVEL && Math.ceil(Math.max(width, height) / 2 ** l) > CHUNK_SIZE) l++;
  return l;
}

/**
 * The level a viewer should watch at `screenPxPerCanvasPx` screen pixels per canvas pixel: the finest level
 * whose values are at least one screen pixel apart (so it receives about the pixels it can display).
 */
export function lodLevelForZoom(screenPxPerCanvasPx: number, top: number): number {
  if (!(screenPxPerCanvasPx > 0) || screenPxPerCanvasPx >= 1) return 0;
  const l = Math.floor(Math.log2(1 / screenPxPerCanvasPx) + 1e-9);
  return Math.min(Math.max(l, 0), top);
}

/**
 * The downsampling rule as a pure function (the reference the property tests check the stores against):
 * level-L chunk (lcx, lcy) from a full-resolution pixel getter.
 */
export function downsampleChunk(get: (x: number, y: number) => number, width: number, height: number,
  level: number, lcx: number, lcy: number, background: number): Uint8Array {
  const out = new Uint8Array(CHUNK_AREA).fill(background);
  for (let ly = 0; ly < CHUNK_SIZE; ly++) {
    const y = ((lcy << CHUNK_SHIFT) + ly) * 2 ** level;
    if (y >= height) break;
    for (let lx = 0; lx < CHUNK_SIZE; lx++) {
      const x = ((lcx << CHUNK_SHIFT) + lx) * 2 ** level;
      if (x >= width) break;
      out[(ly << CHUNK_SHIFT) | lx] = get(x, y);
    }
  }
  return out;
}

/** A canvas rect (already clamped to the canvas) in level-L pixels: every level pixel whose block it touches. */
export function levelRect(c: LevelRect, level: number): LevelRect {
  if (level === 0) return c;
  const d = 2 ** level;
  const x0 = Math.floor(c.x / d);
  const y0 = Math.floor(c.y / d);
  return { x: x0, y: y0, w: Math.ceil((c.x + c.w) / d) - x0, h: Math.ceil((c.y + c.h) / d) - y0 };
}
