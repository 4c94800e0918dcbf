/**
 * The cell grid cursors are grouped in: level k cells are 64·2^k canvas pixels wide (level 0 is the chunk
 * grid; the top level holds the whole canvas in one cell), and the level a view is given.
 */
import type { PixelRect } from '../subscriptions/viewport-index.js';

export const CELL_SHIFT = 6;
export const CELL_SIZE = 1 << CELL_SHIFT;
/** A viewer's cursor level is the finest at which its view touches at most this many cells. */
export const MAX_VIEW_CELLS = 9;

export function cellKey(cx: number, cy: number): number {
  return cy * 65536 + cx;
}

/** True if `cells` (row by row) is exactly the block cx0..cx1 × cy0..cy1. */
export function sameCells(cells: readonly number[], cx0: number, cy0: number, cx1: number, cy1: number): boolean {
  if (cells.length !== (cx1 - cx0 + 1) * (cy1 - cy0 + 1)) return false;
  return cells[0] === cellKey(cx0, cy0) && cells[cells.length - 1] === cellKey(cx1, cy1);
}

/** The coarsest cursor level of a canvas: its cells hold the whole canvas. */
export function topCursorLevel(width: number, height: number): number {
  let k = 0;
  while (CELL_SIZE << k < Math.max(width, height)) k++;
  return k;
}

/** Cells of level `k` a clamped rect touches. */
function cellsTouched(r: PixelRect, k: number): number {
  const s = CELL_SHIFT + k;
  const nx = ((r.x + r.w - 1) >> s) - (r.x >> s) + 1;
  const ny = ((r.y + r.h - 1) >> s) - (r.y >> s) + 1;
  return nx * ny;
}

/** The finest level at which the (clamped, non-empty) rect touches at most MAX_VIEW_CELLS cells. */
export function cursorLevelFor(r: PixelRect, top: number): number {
  for (let k = 0; k < top; k++) if (cellsTouched(r, k) <= MAX_VIEW_CELLS) return k;
  return top;
}
