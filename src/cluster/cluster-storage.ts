/**
 * A node's local storage when it shares a canvas through Redis: the ordinary storage (SQLite or memory)
 * plus, in the same SQLite transaction as every commit, the stream position the node has applied and the
 * version each changed chunk got from the stream. So after any end — clean stop or kill -9 — the node
 * restarts from exactly the state of some stream seq, with the versions every other node gives it, and
 * catches up from the stream after that seq.
 */
import type Database from 'better-sqlite3';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { keyCx, keyCy, CHUNK_AREA } from '../chunks/geometry.js';
import type {
  ActorFilter, CanvasStorage, ChunkTrail, HistoryPage, HistoryQuery, LogPosition, PixelInfo, PlacementRecord, PlacementScan, PlacementScanPage,
} from '../storage/canvas-storage.js';

/**
 * The canvas generation this node is in: one value the Redis seam keeps (it changes at sync) and this
 * storage reports as its epoch, which the room shows clients (WELCOME, ETags).
 */
export interface CanvasGeneration {
  epoch: number;
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
  /** The canvas-wide epoch (kept by the seam once it joins; until then the stored one, or the inner's). */
  readonly generation: CanvasGeneration;
  private position: ClusterPosition = { canvas: null, epoch: null, seq: 0 };
  private readonly setState: Database.Statement | null = null;
  private readonly setVersion: Database.Statement | null = null;
  private readonly commitTx: ((batch: readonly PlacementRecord[], at: LogPosition) => void) | null = null;

  /**
   * `db`: the database the inner storage commits to (its commit then nests in this one's transaction), or
   * null for storage without one (memory: the position is not kept, a restart starts from Redis).
   */
  constructor(private readonly inner: CanvasStorage, canvas: string, private readonly db: Database.Database | null) {
    this.generation = { epoch: inner.epoch };
    if (db) {
      db.exec(SCHEMA);
      this.setState = db.prepare('INSERT INTO cluster_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
      this.setVersion = db.prepare('INSERT INTO cluster_chunk (chunk, version) VALUES (?, ?) ON CONFLICT (chunk) DO UPDATE SET version = excluded.version');
      // The inner commit nests as a savepoint: log rows, versions and position land together or not at all.
      this.commitTx = db.transaction((batch: readonly PlacementRecord[], at: LogPosition) => {
        this.inner.commit(batch);
        for (const [key, version] of at.pins) this.setVersion!.run(key, version);
        this.setState!.run('seq', String(at.seq));
        this.setState!.run('epoch', String(at.epoch));
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
      if (this.position.epoch !== null) this.generation.epoch = this.position.epoch;
    }
  }

  get epoch(): number {
    return this.generation.epoch;
  }

  /** The inner storage's: nodes agree on identities only when they share the salt (--ip-salt-file). */
  get identitySalt(): string {
    return this.inner.identitySalt;
  }

  get durable(): boolean {
    return this.inner.durable;
  }

  /** The seq and epoch the local state is at (after load). */
  get start(): ClusterPosition {
    return this.position;
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

  /**
   * With a position (a batch from the shared stream): the records, the chunk versions and the position in
   * one transaction. Throws on failure (nothing written); the commit stage then hands the batch back to the
   * seam to deliver again.
   */
  commit(batch: readonly PlacementRecord[], position?: LogPosition): void {
    if (position === undefined || this.commitTx === null) this.inner.commit(batch);
    else this.commitTx(batch, position);
  }

  maybeCheckpoint(store: ChunkStore, nowMs: number): void {
    this.inner.maybeCheckpoint(store, nowMs);
  }

  pixelInfo(x: number, y: number, store: ChunkStore, painter?: boolean): PixelInfo {
    return this.inner.pixelInfo(x, y, store, painter);
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

