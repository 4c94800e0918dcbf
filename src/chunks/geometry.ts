/**
 * Chunk-coordinate maths shared by the store, the viewport index and the wire codec.
 * Everything here is a small pure function: no allocation, no state.
 */

/** Side of a square chunk in pixels. Fixed: in-chunk offsets (ly * 64 + lx) stay below 4096. */
export const CHUNK_SIZE = 64;
export const CHUNK_SHIFT = 6;
export const CHUNK_AREA = CHUNK_SIZE * CHUNK_SIZE;

/** Largest canvas side in pixels (coordinates must fit a u16 on the wire). */
export const MAX_CANVAS_SIDE = 65536;
/** Largest number of chunks along one side (65536 / 64). */
export const MAX_CHUNKS_PER_SIDE = MAX_CANVAS_SIDE / CHUNK_SIZE;

/**
 * A chunk's key: cy * 1024 + cx. Independent of the canvas size, so keys stay valid when the
 * canvas is configured differently, and fit comfortably in a small integer (< 2^20).
 */
export function chunkKey(cx: number, cy: number): number {
  return cy * MAX_CHUNKS_PER_SIDE + cx;
}

export function keyCx(key: number): number {
  return key % MAX_CHUNKS_PER_SIDE;
}

export function keyCy(key: number): number {
  return Math.floor(key / MAX_CHUNKS_PER_SIDE);
}

/** Offset of pixel (x, y) inside its chunk: ly * 64 + lx, in [0, 4096). */
export function pixelOffset(x: number, y: number): number {
  return ((y & (CHUNK_SIZE - 1)) << CHUNK_SHIFT) | (x & (CHUNK_SIZE - 1));
}

/** Key of the chunk holding pixel (x, y). */
export function pixelChunkKey(x: number, y: number): number {
  return chunkKey(x >>> CHUNK_SHIFT, y >>> CHUNK_SHIFT);
}
