/**
 * Levels of detail for zoomed-out viewers. Level L holds one value per 2^L × 2^L block of the canvas:
 * level pixel (lx, ly) is the colour of canvas pixel (lx·2^L, ly·2^L) — the block's top-left pixel. That
 * rule is exact to maintain incrementally (a placement touches at most one value per level, and only when
 * both its coordinates are multiples of 2^L), costs nothing for unaligned placements, and a level is
 * itself a canvas: level L is stored as an ordinary ChunkStore of ⌈width / 2^L⌉ × ⌈height / 2^L⌉ pixels
 * (rounded up to whole 64-px chunks), so its chunks, versions, snapshots, deltas and snapshot cache are the
 * full-resolution ones, encoded once per level (LOD_SNAPSHOT / LOD_DELTA) and shared by every viewer of it.
 *
 * Levels are fed from the full-resolution store's drained deltas, so every path that paints the store
 * (placements, admin tools) reaches them in the same tick.
 */
import { CHUNK_AREA, CHUNK_SHIFT, CHUNK_SIZE, chunkKey, keyCx, keyCy } from './geometry.js';
import { ChunkStore, type DrainedChunk } from './chunk-store.js';

/** Deepest level a client may ask for (65536 / 64 = 2^10: the largest canvas in one level-10 chunk). */
export const MAX_LOD_LEVEL = 10;
/** Snapshot cache per level (level chunks are few: level L has 1/4^L of the canvas's chunks). */
const LEVEL_SNAPSHOT_CACHE_BYTES = 8 * 1024 * 1024;

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

/** Every level 1..top of one canvas, kept equal to the downsampling of the full-resolution store. */
export class LodLevels {
  /** Index L holds level L; index 0 is the full-resolution store itself. */
  readonly stores: ChunkStore[];
  readonly top: number;

  constructor(private readonly full: ChunkStore) {
    this.top = topLodLevel(full.width, full.height);
    this.stores = [full];
    for (let l = 1; l <= this.top; l++) {
      this.stores.push(new ChunkStore({
        width: lodSide(full.width, l), height: lodSide(full.height, l), paletteSize: full.paletteSize,
        background: full.background, snapshotCacheBytes: LEVEL_SNAPSHOT_CACHE_BYTES, lodLevel: l,
      }));
    }
    this.rebuild();
  }

  /** Level L's store (L = 0: the full-resolution one). */
  level(l: number): ChunkStore {
    return this.stores[l]!;
  }

  /** Recompute every level from the full store's current pixels (start-up): versions start at 0. */
  rebuild(): void {
    const { full } = this;
    for (let l = 1; l <= this.top; l++) {
      const step = 2 ** l;
      const acc = new Map<number, Uint8Array>();
      full.forEachChunk((cx, cy, pixels) => {
        // Aligned pixels of this chunk (step ≤ 64: a regular grid inside it; step > 64: at most its corner).
        const x0 = cx << CHUNK_SHIFT;
        const y0 = cy << CHUNK_SHIFT;
        for (let oy = 0; oy < CHUNK_SIZE; oy++) {
          const y = y0 + oy;
          if (y % step !== 0) continue;
          for (let ox = 0; ox < CHUNK_SIZE; ox++) {
            const x = x0 + ox;
            if (x % step !== 0) continue;
            const lx = x / step;
            const ly = y / step;
            const key = chunkKey(lx >>> CHUNK_SHIFT, ly >>> CHUNK_SHIFT);
            let a = acc.get(key);
            if (!a) acc.set(key, (a = new Uint8Array(CHUNK_AREA).fill(full.background)));
            a[((ly & 63) << CHUNK_SHIFT) | (lx & 63)] = pixels[(oy << CHUNK_SHIFT) | ox]!;
          }
        }
      });
      const store = this.stores[l]!;
      for (const [key, pixels] of acc) {
        if (pixels.every((p) => p === full.background)) continue;
        store.loadChunk(keyCx(key), keyCy(key), pixels, 0);
      }
    }
  }

  /**
   * Carry one drain of the full store into every level (reading the DELTA bytes it just encoded: offsets
   * ascending, each once), then drain the levels: index L of the result is level L's drained chunks.
   */
  apply(drained: readonly DrainedChunk[]): DrainedChunk[][] {
    const out: DrainedChunk[][] = [drained as DrainedChunk[]];
    if (this.top === 0) return out;
    for (const d of drained) {
      const b = d.bytes;
      const x0 = d.cx << CHUNK_SHIFT;
      const y0 = d.cy << CHUNK_SHIFT;
      // DELTA body: cx u16, cy u16, version u32, count u16, then count × (offset u16, colour u8) from byte 13.
      for (let i = 0, o = 13; i < d.count; i++, o += 3) {
        const off = b[o]! | (b[o + 1]! << 8);
        const x = x0 | (off & 63);
        const y = y0 | (off >>> 6);
        if (((x | y) & 1) !== 0) continue; // not on level 1's grid, so on none
        const color = b[o + 2]!;
        for (let l = 1; l <= this.top; l++) {
          const mask = (1 << l) - 1;
          if (((x | y) & mask) !== 0) break;
          this.stores[l]!.set(x >>> l, y >>> l, color);
        }
      }
    }
    for (let l = 1; l <= this.top; l++) out.push(this.stores[l]!.drain());
    return out;
  }
}
