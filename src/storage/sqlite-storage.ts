/**
 * Durable canvas storage in one SQLite file, `<dataDir>/canvas.db`: the open sequence and `SqliteStorage`,
 * which composes the pieces, each in its own file:
 * - sqlite-start-checks.ts, clean-stamp.ts: what is checked before the file is trusted;
 * - sqlite-schema.ts: tables, migration, blob formats; sqlite-meta.ts: salt and epoch;
 * - sqlite-log-writer.ts + sqlite-checkpoint.ts: the commit path (log rows, then periodic checkpoints);
 * - sqlite-load.ts: checkpoints + tail replay into a ChunkStore;
 * - sqlite-history.ts, sqlite-moderation.ts: the read queries.
 *
 * Epoch: chunk versions are only comparable within one epoch (see WELCOME). Open sets `clean_shutdown` to
 * '0' before anything is served; close(store) writes the final checkpoint, with every chunk's exact version,
 * and sets it to '1' in the same transaction. So a clean stop and start keeps the epoch and the versions
 * (connected browsers resume without re-downloading), while any other end (kill -9, power loss, close
 * without a store) leaves '0' and the next open draws a new epoch: versions rebuilt from a log tail may
 * differ from what clients hold, so clients must not trust them.
 *
 * Durability: WAL + synchronous=FULL by default: every commit (one per tick, however many placements) fsyncs
 * the WAL, so an accepted placement survives power loss and kernel crashes too, at the cost of one fsync per
 * tick (bench/storage.bench.ts measures it). `synchronous: 'NORMAL'` (--synchronous normal) is for disks with
 * slow fsync: a commit has then written its WAL frames with write(2) before it returns, so it still survives
 * the process crashing or being killed (kill -9: the kernel has the data), but NOT the machine losing power or
 * the kernel crashing before the OS flushes: the transactions since the last WAL checkpoint (about a second,
 * see WAL_CHECKPOINT_MS) can be lost, though the database stays consistent.
 *
 * One server per data directory: the connection uses locking_mode=EXCLUSIVE and takes a write lock at open,
 * so the OS-level lock on canvas.db is held for the life of the process and released by the kernel when it
 * exits in any way (kill -9 included) — no stale lock file to clean up.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ChunkStore } from '../chunks/chunk-store.js';
import {
  type ActorFilter, type CanvasStorage, type ChunkTrail, type HistoryPage, type HistoryQuery, type PixelInfo, type PlacementRecord,
  type PlacementScan, type PlacementScanPage, MODERATION_CLIENT_ID, StorageError, StorageStartError,
  checkPixelOnCanvas, checkRecord, resolveHistoryQuery,
} from './canvas-storage.js';
import { removeStamp, stampMatches, writeStamp } from './clean-stamp.js';
import { Checkpointer } from './sqlite-checkpoint.js';
import { HISTORY_PROBE_FACTOR, HISTORY_SCAN_WINDOW, SqliteHistory } from './sqlite-history.js';
import { type LoadStats, loadCanvas } from './sqlite-load.js';
import { LogTimeSearch } from './sqlite-log-search.js';
import { LogWriter } from './sqlite-log-writer.js';
import { MetaTable, addressSalt, startEpoch } from './sqlite-meta.js';
import { SqliteModeration } from './sqlite-moderation.js';
import { DB_FILE, createSchema, migrateSchema } from './sqlite-schema.js';
import { classify, describeOpenError, errMessage, inspectHeader, positive, prepareDataDir, quickCheck } from './sqlite-start-checks.js';
import { readSaltFile } from './salt-file.js';
import { STORAGE_DEFAULTS } from '../defaults.js';

export type { LoadStats } from './sqlite-load.js';

export interface SqliteStorageOptions {
  dataDir: string;
  /**
   * A file holding the salt for address hashes (--ip-salt-file), kept outside the data directory so a copy of
   * canvas.db alone cannot be brute-forced back to addresses. Default: a random salt made once and kept in the
   * database. Changing it makes address filters miss placements hashed with the old one.
   */
  saltFile?: string;
  /** 'FULL' (default) fsyncs every commit and survives power loss; 'NORMAL' survives process crashes only (--synchronous). */
  synchronous?: 'NORMAL' | 'FULL';
  /** Checkpoint after this many placements (default STORAGE_DEFAULTS.checkpointEvery). */
  checkpointEvery?: number;
  /** ...or this long after the previous checkpoint when anything changed (default STORAGE_DEFAULTS.checkpointIntervalMs). */
  checkpointIntervalMs?: number;
  /** Log ids a large-region history page scans at most (default 1M); small values are for tests. */
  historyScanWindow?: number;
  /**
   * Let the canvas size recorded in the database change to the store's at load (growing; shrinking only
   * where nothing is painted). Without it a different size refuses to start. (--allow-resize)
   */
  allowResize?: boolean;
  /**
   * PRAGMA quick_check at open and the crc of every chunk_last blob at load: true always, false never,
   * default (undefined) unless canvas.db is exactly as this server's last clean close left it (clean-stamp.ts).
   */
  integrityCheck?: boolean;
  /** Log ids per requested row a small-region history page scans before merging per chunk (default 8; 0: merge only). For tests. */
  historyProbeFactor?: number;
}

type Db = Database.Database;

/**
 * Opens (creating if needed) the store in `dataDir`. Throws StorageStartError with a one-line message when the
 * directory is unusable, canvas.db is not ours or is damaged, or another process holds it; in every such case
 * nothing in the directory has been written.
 */
export function openSqliteStorage(opts: SqliteStorageOptions): SqliteStorage {
  const dir = path.resolve(opts.dataDir);
  const file = path.join(dir, DB_FILE);
  const salt = opts.saltFile === undefined ? undefined : readSaltFile(opts.saltFile);
  prepareDataDir(dir);
  inspectHeader(file);
  // Before SQLite opens it (opening a WAL database creates its -wal file).
  const vouched = stampMatches(file);

  let db: Db;
  try {
    // timeout 0: a lock held by another server is an immediate, clear failure rather than a 5 s wait.
    db = new Database(file, { timeout: 0 });
  } catch (err) {
    throw new StorageStartError(`cannot open ${file}: ${errMessage(err)}`, { cause: err });
  }
  try {
    // Before the first read, so this connection never creates the shared-memory wal-index (no -shm file) and
    // keeps its lock on the file until it closes.
    db.pragma('locking_mode = EXCLUSIVE');
    const fresh = classify(db, file);
    // Random bytes in a page of the log, an index or a table's tree (almost all of the file) are found by
    // quick_check; in checkpoint blobs (which SQLite does not check) by their crc at load. Both read the whole
    // file, seconds per GB (docs/performance.md). So by default they are skipped when the file is byte for
    // byte as our last clean close left it (same size, mtime and inode as the stamp written then), and run
    // after a crash or when anything else wrote the file.
    const check = opts.integrityCheck ?? !(fresh || vouched);
    if (!fresh && check) quickCheck(db, file);
    // Everything above only read; from here on we write.
    if (db.pragma('journal_mode = WAL', { simple: true }) !== 'wal') {
      throw new StorageStartError(`cannot switch ${file} to WAL mode (is the file system read-only?)`);
    }
    db.pragma(`synchronous = ${opts.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
    // 32 MiB page cache: the hot leaves of the log and of its chunk index stay resident under load.
    db.pragma('cache_size = -32768');
    // WAL checkpoints (copying WAL pages into canvas.db) run from maybeCheckpoint, after the tick has answered,
    // about once a second (WAL_CHECKPOINT_MS) rather than inside whichever commit crosses SQLite's default
    // 1000 pages: a large tick rewrites hundreds of pages (the chunk index's hot leaves), so that was a stall
    // every few ticks, and the same hot pages were copied over and over. SQLite's own checkpoint stays as a
    // backstop at 40 MiB, for a caller that never calls maybeCheckpoint.
    db.pragma('wal_autocheckpoint = 10000');
    // Truncate the WAL back to 64 MiB after checkpoints instead of leaving it at its high-water mark.
    db.pragma('journal_size_limit = 67108864');
    if (fresh) createSchema(db);
    else migrateSchema(db);
    // A write transaction now takes the exclusive lock at start-up, not at the first placement.
    db.exec('BEGIN IMMEDIATE; COMMIT');
    // From here on the file changes: the stamp of the last clean close no longer vouches for it.
    removeStamp(file);
    return new SqliteStorage(db, file, { ...opts, salt }, !fresh && check);
  } catch (err) {
    try { db.close(); } catch { /* already failing */ }
    if (err instanceof StorageStartError) throw err;
    throw new StorageStartError(describeOpenError(file, err), { cause: err });
  }
}

/** Durable storage over one SQLite connection. Made by openSqliteStorage. */
export class SqliteStorage implements CanvasStorage {
  readonly durable = true;
  readonly file: string;
  /** Kept from the previous run if it closed cleanly, else new (see the file comment). */
  readonly epoch: number;
  /** What the last load() did. */
  lastLoad: LoadStats | null = null;
  readonly identitySalt: string;
  /**
   * Whether this open ran the whole-file checks (quick_check, and every chunk_last crc at load); false when
   * the clean stamp vouched for the file or it was new. For logs and tests.
   */
  readonly verifyBlobs: boolean;

  private readonly allowResize: boolean;
  private closed = false;
  /** A storage error happened since open: close then leaves no clean stamp. */
  private failed = false;
  /** Whether anything was committed since open: close() without a store can then not vouch for versions. */
  private committedSinceOpen = false;
  /** Chunks on the canvas last loaded (sizes the history plan); the largest canvas until load. */
  private canvasChunks = 1024 * 1024;

  private readonly meta: MetaTable;
  private readonly log: LogWriter;
  private readonly checkpoints: Checkpointer;
  private readonly historyQueries: SqliteHistory;
  private readonly moderation: SqliteModeration;
  private readonly placementById: Database.Statement;

  /** Use openSqliteStorage. `opts.salt`: the salt read from opts.saltFile, if one was given. */
  constructor(private readonly db: Db, file: string, opts: SqliteStorageOptions & { salt?: string | undefined }, verifyBlobs = true) {
    this.file = file;
    this.verifyBlobs = verifyBlobs;
    const checkpointEvery = positive(opts.checkpointEvery ?? STORAGE_DEFAULTS.checkpointEvery, 'checkpointEvery');
    const checkpointIntervalMs = positive(opts.checkpointIntervalMs ?? STORAGE_DEFAULTS.checkpointIntervalMs, 'checkpointIntervalMs');
    const scanWindow = positive(opts.historyScanWindow ?? HISTORY_SCAN_WINDOW, 'historyScanWindow');
    this.allowResize = opts.allowResize === true;
    const probeFactor = opts.historyProbeFactor ?? HISTORY_PROBE_FACTOR;
    if (!(Number.isInteger(probeFactor) && probeFactor >= 0)) {
      throw new StorageStartError(`historyProbeFactor must be a non-negative integer, got ${probeFactor}`);
    }

    this.meta = new MetaTable(db);
    const salt = addressSalt(this.meta, opts.salt);
    this.epoch = startEpoch(db, this.meta);
    this.log = new LogWriter(db, salt);
    this.checkpoints = new Checkpointer(db, this.meta, { every: checkpointEvery, intervalMs: checkpointIntervalMs });
    const search = new LogTimeSearch(db, this.log);
    this.historyQueries = new SqliteHistory(db, search, { scanWindow, probeFactor });
    this.moderation = new SqliteModeration(db, search, salt, scanWindow);
    this.placementById = db.prepare('SELECT l.time, a.name, a.client_id, a.identity, a.ip_hash FROM pixel_log l JOIN actor a ON a.id = l.actor WHERE l.id = ?').raw();
    this.identitySalt = salt;
  }

  /**
   * The connection, for a layer that keeps its own tables in the same file and writes them in the same
   * transaction as commit (src/cluster: the stream position). commit() nests inside a caller's transaction.
   */
  get database(): Db {
    this.open();
    return this.db;
  }

  /** Rows the last history() read from SQLite (its work; for tests and the bench). */
  get lastHistoryRowsRead(): number {
    return this.historyQueries.rowsRead;
  }

  /** Throws StorageStartError (one line naming the file) when the database does not fit the store or is damaged. */
  load(store: ChunkStore): void {
    this.open();
    try {
      this.canvasChunks = store.chunksX * store.chunksY;
      this.lastLoad = loadCanvas({
        db: this.db, file: this.file, meta: this.meta, checkpoints: this.checkpoints, allowResize: this.allowResize, verifyBlobs: this.verifyBlobs,
      }, store);
    } catch (err) {
      this.failed = true; // no clean stamp for a database that failed to load: the next start checks it all
      if (err instanceof StorageStartError) throw err;
      throw new StorageStartError(describeOpenError(this.file, err), { cause: err });
    }
  }

  commit(batch: readonly PlacementRecord[]): void {
    this.open();
    if (batch.length === 0) return;
    for (let i = 0; i < batch.length; i++) checkRecord(batch[i]!); // before the transaction: all or nothing
    const firstId = this.named('commit', () => this.log.append(batch));
    this.checkpoints.noteCommitted(batch, firstId);
    this.committedSinceOpen = true;
  }

  maybeCheckpoint(store: ChunkStore, nowMs: number): void {
    this.open();
    if (this.checkpoints.walCheckpointDue(nowMs)) this.named('WAL checkpoint', () => this.db.pragma('wal_checkpoint(PASSIVE)'));
    if (this.checkpoints.checkpointDue(nowMs)) this.named('checkpoint', () => this.checkpoints.checkpoint(store, this.log.lastLogId, nowMs));
  }

  pixelInfo(x: number, y: number, store: ChunkStore, painter = false): PixelInfo {
    this.open();
    checkPixelOnCanvas(x, y, store);
    const row = this.named('pixel info', () => {
      const id = this.checkpoints.lastIdOf(x, y);
      return id > 0 ? this.placementById.get(id) as [number, string, number, string, Buffer] | undefined : undefined;
    });
    const info: PixelInfo = { x, y, color: store.get(x, y), placedAt: row?.[0] ?? null, placedBy: row?.[1] ?? null };
    if (row !== undefined && row[2] === MODERATION_CLIENT_ID) info.moderation = true;
    if (row !== undefined && painter) {
      info.identity = row[3];
      info.address = row[4].toString('hex');
    }
    return info;
  }

  history(q: HistoryQuery): HistoryPage {
    this.open();
    const b = resolveHistoryQuery(q);
    return this.named('history', () => this.historyQueries.page(b, this.canvasChunks));
  }

  scanPlacements(q: PlacementScan): PlacementScanPage {
    this.open();
    return this.moderation.scanPlacements(q);
  }

  chunkTrail(cx: number, cy: number, beforeId: number, limit: number, actor?: ActorFilter): ChunkTrail {
    this.open();
    return this.moderation.chunkTrail(cx, cy, beforeId, limit, actor);
  }

  close(store?: ChunkStore): void {
    if (this.closed) return;
    this.named('close', () => this.closeDb(store));
  }

  private closeDb(store?: ChunkStore): void {
    try {
      if (store !== undefined) {
        // Changes applied but not drained would be checkpointed under a version that does not count them;
        // drain them so every checkpointed version is exact. The store serves no one after this.
        if (store.dirtyChunkCount > 0) store.drain();
        this.checkpoints.addChangedVersions(store);
        if (this.checkpoints.pendingChunks === 0) this.meta.set('clean_shutdown', '1');
        else this.checkpoints.checkpoint(store, this.log.lastLogId, 0, true);
      } else if (!this.committedSinceOpen && this.checkpoints.pendingChunks === 0) {
        // Nothing changed since open (which found every checkpoint current): the data still matches the epoch.
        this.meta.set('clean_shutdown', '1');
      }
    } finally {
      this.closed = true;
      this.db.close();
    }
    // Closed without error, after a run without storage errors: the file is consistent and ours alone.
    if (!this.failed) writeStamp(this.file);
  }

  /**
   * Runs fn; an error from it (SQLite's own messages never say which file) is rethrown as a StorageError
   * whose message names the database file and what was being done, keeping SQLite's code and the cause.
   */
  private named<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      this.failed = true;
      if (err instanceof StorageError || err instanceof StorageStartError) throw err;
      throw new StorageError(this.file, `${this.file}: ${what} failed: ${errMessage(err)}`, err);
    }
  }

  private open(): void {
    if (this.closed) throw new Error(`${this.file}: storage is closed`);
  }
}
