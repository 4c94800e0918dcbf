/**
 * A node's local storage when it shares a canvas through Redis: the ordinary storage (SQLite or memory)
 * plus, in the same SQLite transaction as every commit, the stream position the node has applied and the
 * version each changed chunk got from the stream. So after any end — clean stop or kill -9 — the node
 * restarts from exactly the state of some stream seq, with the versions every other node gives it, and
 * catches up from the stream after that seq.
 */
import type Database from 'better-sqlite3';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { chunkKey, keyCx, keyCy, CHUNK_AREA } from '../chunks/geometry.js';
import type {
  ActorFilter, CanvasStorage, ChunkTrail, HistoryPage, HistoryQuery, PixelInfo, PlacementRecord, PlacementScan, PlacementScanPage,
} from '../storage/canvas-storage.js';
import { SqliteStorage } from '../storage/sqlite-storage.js';

/** What one take of the seam delivered, for the commit that follows it in the same tick. */
export interface TakeInfo {
  records: readonly PlacementRecord[];
  /** The seq the node is at once these records are applied, and its epoch. */
  seq: number;
  epoch: number;
  /** chunk key → version the drain gives it (also pinned in the store). */
  pins: ReadonlyMap<number, number>;
}

/** The seam side of the contract: which take a commit belongs to, and what to do when it fails. */
export interface TakeSource {
  currentTake(): TakeInfo | null;
  /** The local commit of that take failed: deliver it again later (acks were already answered). */
  rewind(info: TakeInfo): void;
}

export interface ClusterPosition {
  canvas: string | null;
  epoch: number | null;
  seq: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS cluster_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cluster_chunk (chunk INTEGER PRIMARY KEY, version INTEGER NOT NULL);
`;

export class ClusterStorage implements CanvasStorage {
  private readonly db: Database.Database | null;
  private source: TakeSource | null = null;
  /** The canvas generation this node's state belongs to (the Redis epoch once synced). */
  epoch: number;
  private position: ClusterPosition = { canvas: null, epoch: null, seq: 0 };
  private readonly setState: Database.Statement | null = null;
  private readonly setVersion: Database.Statement | null = null;
  private readonly commitTx: ((batch: readonly PlacementRecord[], info: TakeInfo) => void) | null = null;

  constructor(private readonly inner: CanvasStorage, private readonly canvas: string) {
    this.epoch = inner.epoch;
    this.db = inner instanceof SqliteStorage ? inner.database : null;
    if (this.db) {
      const db = this.db;
      db.exec(SCHEMA);
      this.setState = db.prepare('INSERT INTO cluster_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
      this.setVersion = db.prepare('INSERT INTO cluster_chunk (chunk, version) VALUES (?, ?) ON CONFLICT (chunk) DO UPDATE SET version = excluded.version');
      // The inner commit nests as a savepoint: log rows, versions and position land together or not at all.
      this.commitTx = db.transaction((batch: readonly PlacementRecord[], info: TakeInfo) => {
        this.inner.commit(batch);
        for (const [key, version] of info.pins) this.setVersion!.run(key, version);
        this.setState!.run('seq', String(info.seq));
        this.setState!.run('epoch', String(info.epoch));
      });
      const get = db.prepare('SELECT value FROM cluster_state WHERE key = ?').pluck();
      const name = get.get('canvas') as string | undefined;
      if (name !== undefined && name !== canvas) {
        throw new Error(`the data directory holds canvas "${name}", not "${canvas}": give each canvas its own --data-dir`);
      }
      if (name === undefined) this.setState.run('canvas', canvas);
      const epoch = get.get('epoch') as string | undefined;
      const seq = get.get('seq') as string | undefined;
      this.position = { canvas, epoch: epoch === undefined ? null : Number(epoch), seq: seq === undefined ? 0 : Number(seq) };
      if (this.position.epoch !== null) this.epoch = this.position.epoch;
    }
  }

  get durable(): boolean {
    return this.inner.durable;
  }

  /** The seq and epoch the local state is at (after load). */
  get start(): ClusterPosition {
    return this.position;
  }

  attach(source: TakeSource): void {
    this.source = source;
  }

  /** The inner load, then every chunk's version as the stream gave it (the inner one counts local drains). */
  load(store: ChunkStore): void {
    this.inner.load(store);
    if (!this.db) return;
    const rows = this.db.prepare('SELECT chunk, version FROM cluster_chunk').raw().iterate() as IterableIterator<[number, number]>;
    const blank = new Uint8Array(CHUNK_AREA).fill(store.background);
    for (const [key, version] of rows) {
      const cx = keyCx(key), cy = keyCy(key);
      if (cx >= store.chunksX || cy >= store.chunksY) continue;
      const pixels = store.chunkPixels(cx, cy);
      store.loadChunk(cx, cy, pixels ? pixels.slice() : blank, version);
    }
  }

  commit(batch: readonly PlacementRecord[]): void {
    const info = this.source?.currentTake() ?? null;
    if (info === null || info.records !== batch) {
      this.inner.commit(batch);
      return;
    }
    try {
      if (this.commitTx) this.commitTx(batch, info);
      else this.inner.commit(batch);
    } catch (err) {
      this.source!.rewind(info);
      throw err;
    }
  }

  maybeCheckpoint(store: ChunkStore, nowMs: number): void {
    this.inner.maybeCheckpoint(store, nowMs);
  }

  pixelInfo(x: number, y: number, store: ChunkStore): PixelInfo {
    return this.inner.pixelInfo(x, y, store);
  }

  history(q: HistoryQuery): HistoryPage {
    return this.inner.history(q);
  }

  scanPlacements(q: PlacementScan): PlacementScanPage {
    return this.inner.scanPlacements(q);
  }

  chunkTrail(cx: number, cy: number, beforeId: number, limit: number, actor?: ActorFilter): ChunkTrail {
    return this.inner.chunkTrail(cx, cy, beforeId, limit, actor);
  }

  close(store?: ChunkStore): void {
    this.inner.close(store);
  }
}

export { chunkKey };
