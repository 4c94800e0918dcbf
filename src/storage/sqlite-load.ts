/**
 * Load: the latest checkpoints, then the log tail after meta.checkpoint_log_id replayed in order, into an
 * empty ChunkStore; with the checks that the database fits the configured canvas (size, background, palette)
 * and that its blobs are undamaged. A chunk the tail changes gets a version above its checkpointed one.
 */
import type Database from 'better-sqlite3';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { CHUNK_AREA, chunkKey, keyCx, keyCy, pixelChunkKey, pixelOffset } from '../chunks/geometry.js';
import { StorageStartError } from './canvas-storage.js';
import type { Checkpointer } from './sqlite-checkpoint.js';
import { MAX_VERSION, type MetaTable } from './sqlite-meta.js';
import { checkpointCrc, lastIdsCrc } from './sqlite-schema.js';
import { errMessage } from './sqlite-start-checks.js';

/** What the last load() did; for logs and the bench. */
export interface LoadStats {
  checkpoints: number;
  replayed: number;
  ms: number;
}

export interface LoadContext {
  db: Database.Database;
  file: string;
  meta: MetaTable;
  /** Told of every replayed row, so the next checkpoint covers the tail. */
  checkpoints: Checkpointer;
  /** --allow-resize: the canvas size recorded in the database may change to the store's. */
  allowResize: boolean;
  /** Check every chunk_last crc now (the whole-file checks run at this open). */
  verifyBlobs: boolean;
}

/** Throws StorageStartError (one line naming the file) when the database does not fit the store or is damaged. */
export function loadCanvas(c: LoadContext, store: ChunkStore): LoadStats {
  const started = performance.now();
  const { db, file, meta } = c;
  const mismatch = (what: string): Error => new StorageStartError(
    `${file} does not fit the configured ${store.width}x${store.height} canvas with ${store.paletteSize} colours: ${what}; start with the canvas size and palette it was made with`);
  // Checkpoints hold background pixels literally, so another background would leave a patchwork.
  const background = meta.get('background');
  if (background === undefined) meta.set('background', String(store.background));
  else if (Number(background) !== store.background) throw mismatch(`it was made with background colour ${background}, not ${store.background}`);
  // The canvas size it was made for (recorded since schema 2's build; an older database records it now).
  const width = meta.get('width');
  const height = meta.get('height');
  const resized = width !== undefined && height !== undefined && (Number(width) !== store.width || Number(height) !== store.height);
  if (resized && !c.allowResize) {
    throw new StorageStartError(`${file} holds a ${width}x${height} canvas, but the server is configured for ${store.width}x${store.height}; refusing to start — start with --width ${width} --height ${height}, or add --allow-resize to resize it`);
  }
  const bufs = new Map<number, { pixels: Uint8Array; logId: number; version: number }>();
  const rows = db.prepare('SELECT chunk, cx, cy, log_id, version, pixels, crc FROM chunk_checkpoint').raw().iterate() as IterableIterator<[number, number, number, number, number, Buffer, number | null]>;
  let checkpoints = 0;
  for (const [key, cx, cy, logId, version, pixels, crc] of rows) {
    if (pixels.length !== CHUNK_AREA || key !== chunkKey(cx, cy) || (crc !== null && checkpointCrc(key, logId, version, pixels) !== crc)) {
      throw new StorageStartError(`${file} is corrupt (checkpoint of chunk (${cx}, ${cy}) fails its checksum); refusing to start — move it aside or restore a backup`);
    }
    if (cx >= store.chunksX || cy >= store.chunksY) {
      if (pixels.some((p) => p !== store.background)) throw mismatch(`chunk (${cx}, ${cy}) has painted pixels`);
      continue;
    }
    bufs.set(key, { pixels: new Uint8Array(pixels), logId, version });
    checkpoints++;
  }

  const horizon = Number(meta.get('checkpoint_log_id') ?? 0);
  const tail = db.prepare('SELECT id, x, y, color FROM pixel_log WHERE id > ? ORDER BY id').raw().iterate(horizon) as IterableIterator<[number, number, number, number]>;
  let replayed = 0;
  /** Chunks the tail changed: each gets its checkpointed version + 1, as one more drain would have. */
  const bumped = new Set<number>();
  for (const [id, x, y, color] of tail) {
    if (store.check(x, y, color) !== null) throw mismatch(`log row ${id} paints (${x}, ${y}) colour ${color}`);
    const key = pixelChunkKey(x, y);
    let buf = bufs.get(key);
    if (buf === undefined) {
      buf = { pixels: new Uint8Array(CHUNK_AREA).fill(store.background), logId: 0, version: 0 };
      bufs.set(key, buf);
    }
    if (id <= buf.logId) continue; // already in this chunk's checkpoint
    buf.pixels[pixelOffset(x, y)] = color;
    if (!bumped.has(key)) {
      bumped.add(key);
      // Strictly above the checkpointed version, so a client holding that version never skips the tail.
      buf.version = buf.version >= MAX_VERSION ? 1 : buf.version + 1;
    }
    c.checkpoints.noteReplayed(x, y, id);
    replayed++;
  }

  for (const [key, { pixels, version }] of bufs) {
    try {
      store.loadChunk(keyCx(key), keyCy(key), pixels, version);
    } catch (err) {
      throw mismatch(`chunk (${keyCx(key)}, ${keyCy(key)}): ${errMessage(err)}`);
    }
  }
  // Every blob pixel info may read later is checked now, so damage refuses the start rather than showing
  // up as a wrong "placed by" weeks later.
  const lastRows = c.verifyBlobs ? db.prepare('SELECT chunk, log_ids, crc FROM chunk_last').raw().iterate() as IterableIterator<[number, Buffer, number | null]> : [];
  for (const [key, blob, crc] of lastRows) {
    if (crc !== null && lastIdsCrc(key, blob) !== crc) throw new StorageStartError(`${file} is corrupt (chunk_last row of chunk (${keyCx(key)}, ${keyCy(key)}) fails its checksum); refusing to start — move it aside or restore a backup`);
  }
  if (width === undefined || height === undefined || resized) {
    meta.set('width', String(store.width));
    meta.set('height', String(store.height));
  }
  return { checkpoints, replayed, ms: performance.now() - started };
}
