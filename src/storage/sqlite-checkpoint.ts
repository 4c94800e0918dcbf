/**
 * The checkpoint half of the commit path: what changed since the last checkpoint (chunks, and each pixel's
 * latest log id), kept in memory and rebuilt at load from the replayed tail; when a checkpoint is due; and
 * the transaction that writes one (`chunk_checkpoint` and `chunk_last` rows, then meta.checkpoint_log_id).
 */
import type Database from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { CHUNK_AREA, MAX_CANVAS_SIDE, chunkKey, keyCx, keyCy, pixelChunkKey, pixelOffset } from '../chunks/geometry.js';
import { type PlacementRecord, pixelPos } from './canvas-storage.js';
import type { MetaTable } from './sqlite-meta.js';
import { checkpointCrc, decodeLastIds, encodeLastIds, lastIdsCrc } from './sqlite-schema.js';

/** How often maybeCheckpoint copies the WAL into canvas.db (see the wal_autocheckpoint comment at open). */
export const WAL_CHECKPOINT_MS = 1000;
/** Decoded chunk_last blobs kept for pixel info (32 KiB each). */
const LAST_IDS_CACHE_CHUNKS = 256;

export interface CheckpointCadence {
  /** Checkpoint after this many placements since the last one... */
  every: number;
  /** ...or this long after it when anything changed. */
  intervalMs: number;
}

export class Checkpointer {
  /** Chunk keys changed since the last checkpoint; the next checkpoint writes exactly these. */
  private readonly dirty = new Set<number>();
  /** pixelPos → latest log id, for pixels placed since the last checkpoint (chunk_last has the rest). */
  private readonly recent = new Map<number, number>();
  private readonly lastIdsCache = new LRUCache<number, Float64Array>({ max: LAST_IDS_CACHE_CHUNKS });
  private sinceCheckpoint = 0;
  /** nowMs of the last checkpoint; the first maybeCheckpoint call starts the clock (callers pick the clock). */
  private lastCheckpointAt: number | null = null;
  /** nowMs of the last WAL checkpoint, and whether anything was committed since. */
  private lastWalCheckpointAt: number | null = null;
  private walDirty = false;
  /**
   * The last placement committed: a checkpoint is only taken once the store shows it (see checkpoint()).
   * x = -1 when nothing was committed since open.
   */
  private lastX = -1;
  private lastY = -1;
  private lastColor = -1;

  private readonly upsertCheckpoint: Database.Statement;
  private readonly deleteCheckpoint: Database.Statement;
  private readonly upsertLastIds: Database.Statement;
  private readonly selectLastIds: Database.Statement;
  private readonly checkpointTx: (store: ChunkStore, logId: number, lastIds: Map<number, Float64Array>, clean: boolean) => void;

  constructor(private readonly db: Database.Database, private readonly meta: MetaTable, private readonly cadence: CheckpointCadence) {
    this.upsertCheckpoint = db.prepare(
      'INSERT INTO chunk_checkpoint (chunk, cx, cy, log_id, version, pixels, crc) VALUES (?, ?, ?, ?, ?, ?, ?) ' +
      'ON CONFLICT (chunk) DO UPDATE SET log_id = excluded.log_id, version = excluded.version, pixels = excluded.pixels, crc = excluded.crc');
    this.deleteCheckpoint = db.prepare('DELETE FROM chunk_checkpoint WHERE chunk = ?');
    this.upsertLastIds = db.prepare('INSERT INTO chunk_last (chunk, log_ids, crc) VALUES (?, ?, ?) ON CONFLICT (chunk) DO UPDATE SET log_ids = excluded.log_ids, crc = excluded.crc');
    this.selectLastIds = db.prepare('SELECT log_ids, crc FROM chunk_last WHERE chunk = ?').raw();
    this.checkpointTx = db.transaction((store: ChunkStore, logId: number, lastIds: Map<number, Float64Array>, clean: boolean) => {
      for (const key of this.dirty) {
        const cx = keyCx(key);
        const cy = keyCy(key);
        if (cx >= store.chunksX || cy >= store.chunksY) continue;
        const pixels = store.chunkPixels(cx, cy);
        // Never allocated means every pixel is the background: no checkpoint is the same as an empty one.
        if (pixels === null) this.deleteCheckpoint.run(key);
        else {
          const version = store.version(cx, cy);
          this.upsertCheckpoint.run(key, cx, cy, logId, version, Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), checkpointCrc(key, logId, version, pixels));
        }
      }
      for (const [key, ids] of lastIds) {
        const blob = encodeLastIds(ids);
        this.upsertLastIds.run(key, blob, lastIdsCrc(key, blob));
      }
      this.meta.set('checkpoint_log_id', String(logId));
      if (clean) this.meta.set('clean_shutdown', '1');
    });
  }

  /** Chunks changed since the last checkpoint. */
  get pendingChunks(): number {
    return this.dirty.size;
  }

  /** A batch committed with log ids firstId, firstId + 1, …: the next checkpoint covers it. */
  noteCommitted(batch: readonly PlacementRecord[], firstId: number): void {
    let id = firstId;
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      this.dirty.add(pixelChunkKey(r.x, r.y));
      this.recent.set(pixelPos(r.x, r.y), id++);
    }
    this.sinceCheckpoint += batch.length;
    this.walDirty = true;
    const last = batch[batch.length - 1]!;
    this.lastX = last.x;
    this.lastY = last.y;
    this.lastColor = last.color;
  }

  /** A log row replayed at load, as commit would have noted it: the next checkpoint covers the tail. */
  noteReplayed(x: number, y: number, id: number): void {
    this.dirty.add(pixelChunkKey(x, y));
    this.recent.set(pixelPos(x, y), id);
    this.sinceCheckpoint++;
  }

  /** The log id of the pixel's latest placement, or 0 if it was never painted. */
  lastIdOf(x: number, y: number): number {
    return this.recent.get(pixelPos(x, y)) ?? this.lastIds(pixelChunkKey(x, y))?.[pixelOffset(x, y)] ?? 0;
  }

  /** Whether to copy the WAL into canvas.db now (about once a second while commits come); marks it done. */
  walCheckpointDue(nowMs: number): boolean {
    this.lastCheckpointAt ??= nowMs;
    this.lastWalCheckpointAt ??= nowMs;
    if (!this.walDirty || nowMs - this.lastWalCheckpointAt < WAL_CHECKPOINT_MS) return false;
    this.lastWalCheckpointAt = nowMs;
    this.walDirty = false;
    return true;
  }

  /** Whether a checkpoint is due: anything changed, and enough placements or time since the last. */
  checkpointDue(nowMs: number): boolean {
    this.lastCheckpointAt ??= nowMs;
    if (this.dirty.size === 0) return false;
    return this.sinceCheckpoint >= this.cadence.every || nowMs - this.lastCheckpointAt >= this.cadence.intervalMs;
  }

  /**
   * Adds to the pending chunks every chunk whose version in the store differs from its checkpointed one (a
   * checkpoint taken between a store's apply and drain recorded the version before that drain). For close():
   * after it, the final checkpoint leaves every chunk's version exact.
   */
  addChangedVersions(store: ChunkStore): void {
    const saved = new Map<number, number>();
    for (const [key, version] of this.db.prepare('SELECT chunk, version FROM chunk_checkpoint').raw().iterate() as IterableIterator<[number, number]>) {
      saved.set(key, version);
    }
    store.forEachChunk((cx, cy, _pixels, version) => {
      const key = chunkKey(cx, cy);
      if ((saved.get(key) ?? 0) !== version) this.dirty.add(key);
    });
  }

  /**
   * Checkpoints the pending chunks as of log id `logId` (and marks a clean shutdown with it when `clean`).
   * Returns false when it wrote nothing (not yet safe); throws when the transaction fails.
   */
  checkpoint(store: ChunkStore, logId: number, nowMs: number, clean = false): boolean {
    // The store must already show the last committed batch, or the checkpoint would claim log rows it lacks
    // and a restart would lose them. If the caller checkpoints between commit and apply, wait for next time.
    if (this.lastX >= 0 && (this.lastX >= store.width || this.lastY >= store.height || store.get(this.lastX, this.lastY) !== this.lastColor)) return false;
    // New chunk_last arrays: copies, so a failed transaction leaves the cache as it was.
    const lastIds = new Map<number, Float64Array>();
    for (const [pos, id] of this.recent) {
      const x = pos % MAX_CANVAS_SIDE, y = Math.floor(pos / MAX_CANVAS_SIDE);
      const key = pixelChunkKey(x, y);
      let ids = lastIds.get(key);
      if (ids === undefined) {
        const old = this.lastIds(key);
        ids = old === undefined ? new Float64Array(CHUNK_AREA) : old.slice();
        lastIds.set(key, ids);
      }
      ids[pixelOffset(x, y)] = id;
    }
    try {
      this.checkpointTx(store, logId, lastIds, clean);
      this.dirty.clear();
      this.recent.clear();
      for (const [key, ids] of lastIds) this.lastIdsCache.set(key, ids);
      return true;
    } finally {
      // On failure (disk full…) the log still has everything; retry after the next interval, not every tick.
      this.sinceCheckpoint = 0;
      this.lastCheckpointAt = nowMs;
    }
  }

  /** The chunk's latest log id per pixel as of the last checkpoint, or undefined if it has none. */
  private lastIds(key: number): Float64Array | undefined {
    let ids = this.lastIdsCache.get(key);
    if (ids === undefined) {
      const row = this.selectLastIds.get(key) as [Buffer, number | null] | undefined;
      if (row === undefined) return undefined;
      const [blob, crc] = row;
      if (crc !== null && lastIdsCrc(key, blob) !== crc) throw new Error(`chunk_last row of chunk (${keyCx(key)}, ${keyCy(key)}) fails its checksum`);
      ids = decodeLastIds(blob);
      this.lastIdsCache.set(key, ids);
    }
    return ids;
  }
}
