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
import { CHUNK_AREA, CHUNK_SHIFT, CHUNK_SIZE, keyCx, keyCy, pixelChunkKey, pixelOffset } from './geometry.js';
import { lodSide, topLodLevel } from './lod-geometry.js';
import { ChunkStore, type DrainedChunk } from './chunk-store.js';

export { MAX_LOD_LEVEL, lodSide, topLodLevel, lodLevelForZoom, downsampleChunk, levelRect } from './lod-geometry.js';

const NOTHING_DRAINED: DrainedChunk[] = [];

/** Snapshot cache per level (level chunks are few: level L has 1/4^L of the canvas's chunks). */
const LEVEL_SNAPSHOT_CACHE_BYTES = 8 * 1024 * 1024;

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

  /** Whether some level has changes waiting for its next drain. */
  get pending(): boolean {
    for (let l = 1; l <= this.top; l++) if (this.stores[l]!.dirtyChunkCount > 0) return true;
    return false;
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
            const key = pixelChunkKey(lx, ly);
            let a = acc.get(key);
            if (!a) acc.set(key, (a = new Uint8Array(CHUNK_AREA).fill(full.background)));
            a[pixelOffset(lx, ly)] = pixels[(oy << CHUNK_SHIFT) | ox]!;
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
   * ascending, each once), then — when `drainLevels` — drain the levels: index L of the result is level L's
   * drained chunks (empty for every level > 0 when not draining: their changes wait, coalesced per chunk, for
   * the next drain; a snapshot taken meanwhile already shows them).
   */
  apply(drained: readonly DrainedChunk[], drainLevels = true): DrainedChunk[][] {
    const out: DrainedChunk[][] = [drained as DrainedChunk[]];
    if (this.top === 0) return out;
    for (const d of drained) {
      const b = d.bytes;
      const x0 = d.cx << CHUNK_SHIFT;
      const y0 = d.cy << CHUNK_SHIFT;
      // DELTA body: cx u16, cy u16, version u32, count u16, then count × (offset u16, colour u8) from byte 13.
      for (let i = 0, o = 13; i < d.count; i++, o += 3) {
        const off = b[o]! | (b[o + 1]! << 8);
        const x = x0 | (off & (CHUNK_SIZE - 1));
        const y = y0 | (off >>> CHUNK_SHIFT);
        if (((x | y) & 1) !== 0) continue; // not on level 1's grid, so on none
        const color = b[o + 2]!;
        for (let l = 1; l <= this.top; l++) {
          const mask = (1 << l) - 1;
          if (((x | y) & mask) !== 0) break;
          this.stores[l]!.set(x >>> l, y >>> l, color);
        }
      }
    }
    for (let l = 1; l <= this.top; l++) out.push(drainLevels ? this.stores[l]!.drain() : NOTHING_DRAINED);
    return out;
  }
}
