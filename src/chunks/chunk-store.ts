/**
 * The canvas in memory: sparse 64x64 chunks of one byte per pixel, each with a version and a record of what
 * changed since the last tick. The tick loop calls drain() once per tick and gets one encoded DELTA per
 * changed chunk, ready to share between every subscriber (encode once, send to many).
 *
 * Memory: a chunk costs nothing until a pixel in it is painted a non-background colour; then it costs its
 * 4096-byte pixel array. Change tracking borrows a 512-byte bitset from a pool while the chunk is dirty, so
 * an idle chunk carries no scratch.
 */

import { LRUCache } from 'lru-cache';
import { CHUNK_AREA, CHUNK_SHIFT, CHUNK_SIZE, MAX_CANVAS_SIDE, chunkKey, pixelChunkKey, pixelOffset } from './geometry.js';
import { encodeSnapshotPixels } from './snapshot-codec.js';
import {
  type ErrorCodeName, SnapshotEncoding, encodeChunkDelta, encodeChunkSnapshot, encodeLodDelta, encodeLodSnapshot,
} from '../net/protocol.js';

/** Codes shared with the wire (ErrorCodeName) keep their wire names; BAD_SIZE is a configuration error only. */
export type CanvasErrorCode = Extract<ErrorCodeName, 'OUT_OF_BOUNDS' | 'BAD_COLOR'> | 'BAD_SIZE';

export class CanvasError extends Error {
  readonly code: CanvasErrorCode;
  constructor(code: CanvasErrorCode, detail: string) {
    super(`${code}: ${detail}`);
    this.name = 'CanvasError';
    this.code = code;
  }
}

export interface ChunkStoreOptions {
  /** Pixels; a multiple of 64 in 64..65536. */
  width: number;
  height: number;
  /** Number of colours, 1..256; colours are indices below it. */
  paletteSize: number;
  /** Colour of every pixel never painted. Default 0. */
  background?: number;
  /** Bound on the bytes of cached SNAPSHOT messages. Default 64 MiB; 0 disables the cache. */
  snapshotCacheBytes?: number;
  /**
   * 0 (default): the full-resolution canvas, encoded as SNAPSHOT / DELTA. L > 0: a level-of-detail store
   * (src/chunks/lod.ts), its chunks encoded as LOD_SNAPSHOT / LOD_DELTA carrying L.
   */
  lodLevel?: number;
}

/** One chunk's changes from one drain(). */
export interface DrainedChunk {
  key: number;
  cx: number;
  cy: number;
  /** The chunk's new version, also the one in `bytes`. */
  version: number;
  /** Pixels in the delta. */
  count: number;
  /** A whole encoded DELTA message, ready to send. Shared: do not modify. */
  bytes: Uint8Array;
}

export const DEFAULT_SNAPSHOT_CACHE_BYTES = 64 * 1024 * 1024;

/** Words of a chunk's dirty bitset: one bit per pixel. */
const DIRTY_WORDS = CHUNK_AREA / 32;
/** Free dirty bitsets kept for reuse (512 B each); beyond this they are left to the GC. */
const DIRTY_POOL_MAX = 4096;
const MAX_VERSION = 0xffffffff;
const NO_DATA = new Uint8Array(0);

class Chunk {
  readonly pixels = new Uint8Array(CHUNK_AREA);
  version = 0;
  /** Bit per pixel changed since the last drain; borrowed from the pool while dirty, null while clean. */
  dirty: Uint32Array | null = null;
  /** A snapshot of this chunk may be in the cache (it may since have been evicted). */
  cached = false;
  constructor(readonly key: number, readonly cx: number, readonly cy: number) {}
}

function isIndex(n: number, limit: number): boolean {
  // (n >>> 0) === n holds exactly for integers in 0..2^32-1: rejects NaN, fractions, negatives, infinities.
  return n >>> 0 === n && n < limit;
}

export class ChunkStore {
  readonly width: number;
  readonly height: number;
  readonly chunksX: number;
  readonly chunksY: number;
  readonly paletteSize: number;
  readonly background: number;
  readonly lodLevel: number;

  private readonly chunks = new Map<number, Chunk>();
  /** Chunks with a dirty bitset, in the order they became dirty. */
  private readonly dirtyChunks: Chunk[] = [];
  private readonly dirtyPool: Uint32Array[] = [];
  private readonly snapshots: LRUCache<number, Uint8Array> | null;
  // Scratch for drain(): the delta of one chunk before encodeChunkDelta copies it into the message.
  private readonly deltaOffsets = new Uint16Array(CHUNK_AREA);
  private readonly deltaColors = new Uint8Array(CHUNK_AREA);
  /** Versions the next drain gives instead of version + 1 (see pinVersion); cleared by every drain. */
  private readonly pinned = new Map<number, number>();

  constructor(opts: ChunkStoreOptions) {
    const { width, height, paletteSize, background = 0, snapshotCacheBytes = DEFAULT_SNAPSHOT_CACHE_BYTES } = opts;
    for (const [name, side] of [['width', width], ['height', height]] as const) {
      if (!Number.isInteger(side) || side < CHUNK_SIZE || side > MAX_CANVAS_SIDE || side % CHUNK_SIZE !== 0) {
        throw new CanvasError('BAD_SIZE', `${name} ${side} must be a multiple of ${CHUNK_SIZE} in ${CHUNK_SIZE}..${MAX_CANVAS_SIDE}`);
      }
    }
    if (!Number.isInteger(paletteSize) || paletteSize < 1 || paletteSize > 256) {
      throw new CanvasError('BAD_SIZE', `paletteSize ${paletteSize} must be an integer in 1..256`);
    }
    if (!isIndex(background, paletteSize)) {
      throw new CanvasError('BAD_COLOR', `background ${background} is not a colour of the ${paletteSize}-colour palette`);
    }
    if (!Number.isSafeInteger(snapshotCacheBytes) || snapshotCacheBytes < 0) {
      throw new CanvasError('BAD_SIZE', `snapshotCacheBytes ${snapshotCacheBytes} must be a non-negative integer`);
    }
    this.width = width;
    this.height = height;
    this.chunksX = width / CHUNK_SIZE;
    this.chunksY = height / CHUNK_SIZE;
    this.paletteSize = paletteSize;
    this.background = background;
    this.lodLevel = opts.lodLevel ?? 0;
    this.snapshots = snapshotCacheBytes === 0
      ? null
      : new LRUCache<number, Uint8Array>({ maxSize: snapshotCacheBytes, sizeCalculation: (bytes) => bytes.length });
  }

  /** Why (x, y, color) cannot be painted, or null if it can. Writes nothing. */
  check(x: number, y: number, color: number): 'OUT_OF_BOUNDS' | 'BAD_COLOR' | null {
    if (!isIndex(x, this.width) || !isIndex(y, this.height)) return 'OUT_OF_BOUNDS';
    if (!isIndex(color, this.paletteSize)) return 'BAD_COLOR';
    return null;
  }

  /** The colour at (x, y). Throws CanvasError OUT_OF_BOUNDS. */
  get(x: number, y: number): number {
    if (!isIndex(x, this.width) || !isIndex(y, this.height)) throw this.outOfBounds(x, y);
    const chunk = this.chunks.get(pixelChunkKey(x, y));
    return chunk === undefined ? this.background : chunk.pixels[pixelOffset(x, y)]!;
  }

  /**
   * Paint one pixel. Everything is checked before anything is written (CanvasError OUT_OF_BOUNDS or
   * BAD_COLOR). Painting a pixel the colour it already has is a no-op: it neither marks the chunk dirty
   * nor allocates an unpainted chunk. A pixel painted several times before a drain is reported once,
   * with its last colour.
   */
  set(x: number, y: number, color: number): void {
    if (!isIndex(x, this.width) || !isIndex(y, this.height)) throw this.outOfBounds(x, y);
    if (!isIndex(color, this.paletteSize)) throw this.badColor(color);
    const key = pixelChunkKey(x, y);
    let chunk = this.chunks.get(key);
    if (chunk === undefined) {
      if (color === this.background) return;
      chunk = new Chunk(key, x >>> CHUNK_SHIFT, y >>> CHUNK_SHIFT);
      if (this.background !== 0) chunk.pixels.fill(this.background);
      this.chunks.set(key, chunk);
    }
    const offset = pixelOffset(x, y);
    const pixels = chunk.pixels;
    // Same colour: if the pixel is dirty its pending entry already has this colour; if clean, nothing changed.
    if (pixels[offset] === color) return;
    let dirty = chunk.dirty;
    if (dirty === null) {
      dirty = this.dirtyPool.pop() ?? new Uint32Array(DIRTY_WORDS);
      chunk.dirty = dirty;
      this.dirtyChunks.push(chunk);
    }
    dirty[offset >>> 5] |= 1 << (offset & 31);
    pixels[offset] = color;
    if (chunk.cached) this.forgetSnapshot(chunk);
  }

  /** The chunk's version: 0 if it never changed, else the number of drains in which it changed. */
  version(cx: number, cy: number): number {
    this.checkChunk(cx, cy);
    return this.chunks.get(chunkKey(cx, cy))?.version ?? 0;
  }

  /**
   * A whole encoded SNAPSHOT message of the chunk's current pixels at its current version. Cached until the
   * chunk next changes or is drained; the bytes are shared, do not modify them.
   *
   * Pixels painted since the last drain are included, under the version before that drain; the delta the
   * next drain makes carries them again under version + 1, so a replica that applies deltas newer than its
   * snapshot converges either way.
   */
  snapshot(cx: number, cy: number): Uint8Array {
    this.checkChunk(cx, cy);
    const key = chunkKey(cx, cy);
    const chunk = this.chunks.get(key);
    if (chunk === undefined) {
      // Never painted: the empty snapshot at version 0, cached like any other (a crowd panning a sparse
      // canvas asks for these most). Chunks are never removed, so the entry cannot outlive the emptiness:
      // a chunk created later has `cached` false and replaces it on its first snapshot.
      const hit = this.snapshots?.get(key);
      if (hit !== undefined) return hit;
      const empty = this.encodeSnapshot(cx, cy, 0, SnapshotEncoding.EMPTY, NO_DATA);
      this.snapshots?.set(key, empty);
      return empty;
    }
    if (chunk.cached) {
      const hit = this.snapshots?.get(key);
      if (hit !== undefined) return hit;
    }
    const { encoding, data } = encodeSnapshotPixels(chunk.pixels, this.background);
    const bytes = this.encodeSnapshot(cx, cy, chunk.version, encoding, data);
    if (this.snapshots !== null) {
      this.snapshots.set(key, bytes);
      chunk.cached = true;
    }
    return bytes;
  }

  /**
   * Per chunk changed since the last drain: its version goes up by one and its changes are encoded once as a
   * DELTA message (offsets ascending, each at most once, with its current colour). Clears the changes.
   */
  drain(): DrainedChunk[] {
    const dirtyChunks = this.dirtyChunks;
    const out: DrainedChunk[] = new Array(dirtyChunks.length);
    const offsets = this.deltaOffsets;
    const colors = this.deltaColors;
    for (let i = 0; i < dirtyChunks.length; i++) {
      const chunk = dirtyChunks[i]!;
      const dirty = chunk.dirty!;
      const pixels = chunk.pixels;
      let count = 0;
      for (let w = 0; w < DIRTY_WORDS; w++) {
        let word = dirty[w]!;
        if (word === 0) continue;
        dirty[w] = 0; // the bitset goes back to the pool clear
        const base = w << 5;
        while (word !== 0) {
          const lowest = word & -word;
          const offset = base | (31 - Math.clz32(lowest));
          offsets[count] = offset;
          colors[count] = pixels[offset]!;
          count++;
          word ^= lowest;
        }
      }
      chunk.dirty = null;
      if (this.dirtyPool.length < DIRTY_POOL_MAX) this.dirtyPool.push(dirty);
      // 2^32 - 1 changing drains is over two years at 60 Hz; wrap past 0, which means "never changed".
      const pin = this.pinned.size > 0 ? this.pinned.get(chunk.key) : undefined;
      chunk.version = pin !== undefined ? pin : chunk.version === MAX_VERSION ? 1 : chunk.version + 1;
      if (chunk.cached) this.forgetSnapshot(chunk);
      const bytes = this.lodLevel === 0
        ? encodeChunkDelta(chunk.cx, chunk.cy, chunk.version, offsets, colors, count)
        : encodeLodDelta(this.lodLevel, chunk.cx, chunk.cy, chunk.version, offsets, colors, count);
      out[i] = { key: chunk.key, cx: chunk.cx, cy: chunk.cy, version: chunk.version, count, bytes };
    }
    dirtyChunks.length = 0;
    this.pinned.clear();
    return out;
  }

  /**
   * The version the next drain gives this chunk if it changed by then, instead of version + 1. For nodes
   * sharing one canvas (src/cluster), whose versions come from the order of the shared stream, not from
   * how each node happened to batch it into ticks. Pins of chunks that did not change are dropped.
   */
  pinVersion(cx: number, cy: number, version: number): void {
    if (!isIndex(version, MAX_VERSION + 1) || version === 0) throw new RangeError(`pinned version ${version} is not a u32 above 0`);
    this.pinned.set(chunkKey(cx, cy), version);
  }

  /** Chunks with changes waiting for the next drain. */
  get dirtyChunkCount(): number {
    return this.dirtyChunks.length;
  }

  /**
   * The chunk's live pixel array (palette indices, offset ly * 64 + lx), or null if it was never painted.
   * Read only: writing to it bypasses change tracking and the snapshot cache.
   */
  chunkPixels(cx: number, cy: number): Uint8Array | null {
    this.checkChunk(cx, cy);
    return this.chunks.get(chunkKey(cx, cy))?.pixels ?? null;
  }

  /**
   * Restore a chunk from storage (at start-up): copies `pixels` and sets the version; the chunk is not dirty.
   * Checked before anything is written: CanvasError OUT_OF_BOUNDS, BAD_SIZE (not 4096 pixels) or BAD_COLOR;
   * RangeError for a version that is not a u32. Changes to the chunk not yet drained are discarded.
   */
  loadChunk(cx: number, cy: number, pixels: Uint8Array, version = 0): void {
    this.checkChunk(cx, cy);
    if (pixels.length !== CHUNK_AREA) throw new CanvasError('BAD_SIZE', `a chunk has ${CHUNK_AREA} pixels, got ${pixels.length}`);
    if (!isIndex(version, MAX_VERSION + 1)) throw new RangeError(`chunk version ${version} is not a u32`);
    if (this.paletteSize < 256) {
      for (let i = 0; i < CHUNK_AREA; i++) {
        if (pixels[i]! >= this.paletteSize) throw this.badColor(pixels[i]!);
      }
    }
    const key = chunkKey(cx, cy);
    let chunk = this.chunks.get(key);
    if (chunk === undefined) {
      chunk = new Chunk(key, cx, cy);
      this.chunks.set(key, chunk);
    } else if (chunk.dirty !== null) {
      chunk.dirty.fill(0);
      if (this.dirtyPool.length < DIRTY_POOL_MAX) this.dirtyPool.push(chunk.dirty);
      chunk.dirty = null;
      this.dirtyChunks.splice(this.dirtyChunks.indexOf(chunk), 1);
    }
    chunk.pixels.set(pixels);
    chunk.version = version;
    if (chunk.cached) this.forgetSnapshot(chunk);
  }

  /** Calls `cb` for every allocated chunk with its live pixels (read only) and version. */
  forEachChunk(cb: (cx: number, cy: number, pixels: Uint8Array, version: number) => void): void {
    for (const chunk of this.chunks.values()) cb(chunk.cx, chunk.cy, chunk.pixels, chunk.version);
  }

  get allocatedChunks(): number {
    return this.chunks.size;
  }

  /** Bytes of pixel arrays held now (dirty bitsets, 512 B per dirty chunk, are not counted). */
  get pixelBytes(): number {
    return this.chunks.size * CHUNK_AREA;
  }

  private encodeSnapshot(cx: number, cy: number, version: number, encoding: number, data: Uint8Array): Uint8Array {
    return this.lodLevel === 0
      ? encodeChunkSnapshot(cx, cy, version, encoding, data)
      : encodeLodSnapshot(this.lodLevel, cx, cy, version, encoding, data);
  }

  private forgetSnapshot(chunk: Chunk): void {
    this.snapshots?.delete(chunk.key);
    chunk.cached = false;
  }

  private checkChunk(cx: number, cy: number): void {
    if (!isIndex(cx, this.chunksX) || !isIndex(cy, this.chunksY)) {
      throw new CanvasError('OUT_OF_BOUNDS', `chunk (${cx}, ${cy}) is outside the ${this.chunksX}x${this.chunksY}-chunk canvas`);
    }
  }

  private outOfBounds(x: number, y: number): CanvasError {
    return new CanvasError('OUT_OF_BOUNDS', `pixel (${x}, ${y}) is outside the ${this.width}x${this.height} canvas`);
  }

  private badColor(color: number): CanvasError {
    return new CanvasError('BAD_COLOR', `colour ${color} is not in the ${this.paletteSize}-colour palette`);
  }
}
