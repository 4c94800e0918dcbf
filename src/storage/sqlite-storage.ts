/**
 * Durable canvas storage in one SQLite file, `<dataDir>/canvas.db`.
 *
 * Layout (schema version 2, stamped with our application_id so a foreign database is never mistaken for ours):
 * - `pixel_log`: append-only, one row per placement; its rowid is the log order (the order of commits), and
 *   its `time` never decreases along it (commit clamps a clock that steps back), so a time bound is a log
 *   position found by binary search. Who placed it is a small `actor` id, not the name and address hash
 *   repeated on every row. One secondary index, by chunk (and so by chunk, then id), serves history over
 *   small regions in log order.
 * - `actor`: (client id, display name, salted address hash) — one row per client session, not per pixel.
 * - `chunk_checkpoint`: per chunk, its 4096 pixels and its ChunkStore version as of log id `log_id`.
 * - `chunk_last`: per chunk, the log id of each pixel's latest placement (4096 × f64 LE, 0 = never) as of the
 *   same checkpoint. Pixel info needs it; keeping it per row (a pixel → log id table updated on every commit)
 *   cost 5 µs per placement in random-page WAL writes, several times the log insert itself.
 * - Both blob tables carry a `crc` (crc32 of the row), checked at load: SQLite's own checks (quick_check at
 *   open) cover every page's structure but not what a blob holds.
 * - `meta`: salt, retention setting, the canvas `width` and `height` it was made for, `checkpoint_log_id`: the log id up to which *every* chunk's
 *   checkpoint is current, so a restart replays only the rows after it; `epoch` and `clean_shutdown` (below).
 * Between checkpoints, what changed since (chunks, and each pixel's latest log id) is kept in memory; a
 * restart rebuilds it from the replayed tail.
 *
 * Epoch: chunk versions are only comparable within one epoch (see WELCOME). Open sets `clean_shutdown` to
 * '0' before anything is served; close(store) writes the final checkpoint, with every chunk's exact version,
 * and sets it to '1' in the same transaction. So a clean stop and start keeps the epoch and the versions
 * (connected browsers resume without re-downloading), while any other end (kill -9, power loss, close
 * without a store) leaves '0' and the next open draws a new epoch: versions rebuilt from a log tail may
 * differ from what clients hold, so clients must not trust them.
 *
 * Durability: WAL + synchronous=FULL by default: every commit (one per tick, however many placements) fsyncs
 * the WAL, so an accepted placement survives power loss and kernel crashes too. Measured here (bench/
 * storage.bench.ts) that costs +0.15–0.5 ms per tick at 1–100 placements per tick, a few % of a 16.7 ms tick.
 * `synchronous: 'NORMAL'` is for disks with slow fsync: a commit has then written its WAL frames with
 * write(2) before it returns, so it still survives the process crashing or being killed (kill -9: the kernel
 * has the data), but NOT the machine losing power or the kernel crashing before the OS flushes: the
 * transactions since the last WAL checkpoint (about a second, see WAL_CHECKPOINT_MS) can be lost, though the
 * database stays consistent.
 *
 * One server per data directory: the connection uses locking_mode=EXCLUSIVE and takes a write lock at open,
 * so the OS-level lock on canvas.db is held for the life of the process and released by the kernel when it
 * exits in any way (kill -9 included) — no stale lock file to clean up.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { crc32 } from 'node:zlib';
import Database from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { CHUNK_AREA, CHUNK_SHIFT, MAX_CANVAS_SIDE, chunkKey, keyCx, keyCy, pixelOffset } from '../chunks/geometry.js';
import {
  type ActorFilter, type CanvasStorage, type HistoryBounds, type HistoryEntry, type HistoryPage, type HistoryQuery, type LogEntry,
  type PixelInfo, type ChunkTrail, type PlacementRecord, type PlacementScan, type PlacementScanPage, MODERATION_CLIENT_ID,
  STORAGE_DEFAULTS, StorageError, StorageStartError, checkPixelOnCanvas, checkRecord, encodeHistoryCursor, hashIp, pixelPos, resolveHistoryQuery,
} from './canvas-storage.js';
import { type MergeSource, mergeFirst } from './history-merge.js';

/** 'PXCV': marks a database as a pixel-canvas store (PRAGMA application_id, header offset 68). */
export const APPLICATION_ID = 0x50584356;
/**
 * PRAGMA user_version of the schema below. A database with a newer version is refused, never downgraded.
 * 2: chunk_checkpoint.crc and chunk_last.crc (a version 1 database gains them at open; its rows keep NULL,
 * unchecked, until rewritten). An older server refuses a version 2 database, so none ever rewrites a blob
 * without its checksum.
 */
export const SCHEMA_VERSION = 2;
export const DB_FILE = 'canvas.db';

/**
 * The chunk key (geometry.chunkKey) of a log row, as SQL. The index over it and the queries that use it must
 * spell it identically: SQLite matches expression indexes by their text. History queries name the index
 * (INDEXED BY), so a mismatch is an error, not a silent full scan.
 */
const CHUNK_KEY_SQL = '(y >> 6) * 1024 + (x >> 6)';

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE actor (
  id INTEGER PRIMARY KEY,
  client_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  ip_hash BLOB NOT NULL
);
CREATE UNIQUE INDEX actor_identity ON actor (client_id, name, ip_hash);
-- No AUTOINCREMENT: rows are only ever appended, so max(id) + 1 is already monotonic, without the extra
-- sqlite_sequence write per insert.
CREATE TABLE pixel_log (
  id INTEGER PRIMARY KEY,
  x INTEGER NOT NULL,
  y INTEGER NOT NULL,
  color INTEGER NOT NULL,
  time INTEGER NOT NULL,
  actor INTEGER NOT NULL
);
CREATE INDEX pixel_log_by_chunk ON pixel_log (${CHUNK_KEY_SQL});
-- Rowid tables, not WITHOUT ROWID: rows are 4 and 32 KiB blobs, far past where WITHOUT ROWID pays off.
CREATE TABLE chunk_checkpoint (
  chunk INTEGER PRIMARY KEY,
  cx INTEGER NOT NULL,
  cy INTEGER NOT NULL,
  log_id INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 0,
  pixels BLOB NOT NULL,
  crc INTEGER
);
CREATE TABLE chunk_last (chunk INTEGER PRIMARY KEY, log_ids BLOB NOT NULL, crc INTEGER);
`;
/** Version 1 → 2. */
const MIGRATE_1_TO_2 = `
ALTER TABLE chunk_checkpoint ADD COLUMN crc INTEGER;
ALTER TABLE chunk_last ADD COLUMN crc INTEGER;
`;
const TABLES = ['meta', 'actor', 'pixel_log', 'chunk_checkpoint', 'chunk_last'];
/** A ChunkStore version is a u32 that wraps past 0 (which means "never changed") to 1. */
const MAX_VERSION = 0xffffffff;

/**
 * History over at most this many chunks merges per-chunk index scans (each stops at the page size); a
 * larger region scans the log in order. Also at most √(canvas chunks): past that, the region is a large
 * enough share of the canvas that the log scan fills a page sooner than the per-chunk scans would.
 */
const HISTORY_MERGE_MAX_CHUNKS = 256;
/**
 * History over a small region first scans this many log ids per requested row right after the cursor:
 * ~0.3 µs an id, so at most ~1 ms for a 1000-row page, and when the region holds more than 1/8 of the
 * placements there, the page is full without the per-chunk merge (a few µs per chunk per statement).
 */
const HISTORY_PROBE_FACTOR = 8;
/** How often maybeCheckpoint copies the WAL into canvas.db (see the wal_autocheckpoint comment). */
const WAL_CHECKPOINT_MS = 1000;
/** Decoded chunk_last blobs kept for pixel info (32 KiB each). */
const LAST_IDS_CACHE_CHUNKS = 256;
/**
 * A log scan for history looks at most this many log ids per page, so a request over a quiet region of a
 * long log costs a bounded ~100 ms; the page then holds fewer than `limit` entries but `next` is not null.
 */
const HISTORY_SCAN_WINDOW = 1_000_000;
/** Actor ids cached by (client id, name, address). A miss costs one indexed lookup. */
const ACTOR_CACHE_MAX = 10_000;

export interface SqliteStorageOptions {
  dataDir: string;
  /** Salt for address hashes. Default: a random salt made once and kept in the database. */
  salt?: string;
  /** Days to keep placement details. Recorded in meta only: nothing prunes yet. */
  retentionDays?: number;
  /** 'FULL' (default) fsyncs every commit and survives power loss; 'NORMAL' survives process crashes only. */
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
   * default (undefined) unless canvas.db is exactly as this server's last clean close left it (CLEAN_STAMP).
   */
  integrityCheck?: boolean;
  /** Log ids per requested row a small-region history page scans before merging per chunk (default 8; 0: merge only). For tests. */
  historyProbeFactor?: number;
}

/** What the last load() did; for logs and the bench. */
export interface LoadStats {
  checkpoints: number;
  replayed: number;
  ms: number;
}

type Db = Database.Database;
type Stmt = Database.Statement;

/**
 * Opens (creating if needed) the store in `dataDir`. Throws StorageStartError with a one-line message when the
 * directory is unusable, canvas.db is not ours or is damaged, or another process holds it; in every such case
 * nothing in the directory has been written.
 */
export function openSqliteStorage(opts: SqliteStorageOptions): SqliteStorage {
  const dir = path.resolve(opts.dataDir);
  const file = path.join(dir, DB_FILE);
  if (opts.retentionDays !== undefined && !(Number.isInteger(opts.retentionDays) && opts.retentionDays > 0)) {
    throw new StorageStartError(`retentionDays must be a positive integer, got ${opts.retentionDays}`);
  }
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
    // file: 4–7 s for quick_check and ~1 s for the blobs on 1 GB here (docs/performance.md). So by default
    // they are skipped when the file is byte for byte as our last clean close left it (same size, mtime
    // and inode as the stamp written then), and run after a crash or when anything else wrote the file.
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
    // 1000 pages: a tick of 1000 placements rewrites ~260 pages (the chunk index's hot leaves), so that was
    // a 10–25 ms stall every fourth tick, and the same hot pages were copied over and over. SQLite's own
    // checkpoint stays as a backstop at 40 MiB, for a caller that never calls maybeCheckpoint.
    db.pragma('wal_autocheckpoint = 10000');
    // Truncate the WAL back to 64 MiB after checkpoints instead of leaving it at its high-water mark.
    db.pragma('journal_size_limit = 67108864');
    if (fresh) {
      db.transaction(() => {
        db.exec(SCHEMA);
        db.pragma(`application_id = ${APPLICATION_ID}`);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
        db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('created_at', String(Date.now()));
      })();
    } else if ((db.pragma('user_version', { simple: true }) as number) === 1) {
      db.transaction(() => {
        db.exec(MIGRATE_1_TO_2);
        db.pragma('user_version = 2');
      })();
    }
    // A write transaction now takes the exclusive lock at start-up, not at the first placement.
    db.exec('BEGIN IMMEDIATE; COMMIT');
    // From here on the file changes: the stamp of the last clean close no longer vouches for it.
    fs.rmSync(stampFile(file), { force: true });
    return new SqliteStorage(db, file, opts, !fresh && check);
  } catch (err) {
    try { db.close(); } catch { /* already failing */ }
    if (err instanceof StorageStartError) throw err;
    throw new StorageStartError(describeOpenError(file, err), { cause: err });
  }
}

function prepareDataDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new StorageStartError(`data directory ${dir} is not a directory (a file is in its place)`, { cause: err });
    throw new StorageStartError(`data directory ${dir} cannot be created: ${fsReason(err)}`, { cause: err });
  }
  try {
    // Catches chmod 555 and the like for ordinary users (root passes; a read-only mount fails later, clearly).
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    throw new StorageStartError(`data directory ${dir} is not writable: ${fsReason(err)}`, { cause: err });
  }
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Looks at canvas.db's header bytes before SQLite touches the file, so that random bytes or another
 * application's database are refused without SQLite ever opening them for writing (or recovering their
 * journals). A missing or empty file, our application_id, or none (0: possibly our own new database whose
 * first transaction is still only in the WAL) pass, and SQLite has the last word (classify).
 */
function inspectHeader(file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new StorageStartError(`cannot read ${file}: ${errMessage(err)}`, { cause: err });
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw new StorageStartError(`${file} is not a regular file`);
    const header = Buffer.alloc(100);
    const n = fs.readSync(fd, header, 0, 100, 0);
    if (n === 0) return; // an empty file is an empty database to SQLite too
    if (n < 100 || !header.subarray(0, 16).equals(SQLITE_MAGIC)) {
      throw new StorageStartError(`${file} is not a SQLite database (corrupt or a different file); refusing to start — move it aside or restore a backup`);
    }
    const appId = header.readUInt32BE(68);
    if (appId !== APPLICATION_ID && appId !== 0) throw foreign(file, `application_id 0x${appId.toString(16)}`);
  } finally {
    fs.closeSync(fd);
  }
}

function foreign(file: string, why: string): StorageStartError {
  return new StorageStartError(`${file} is a SQLite database of another application (${why}); refusing to use it — give the server another data directory`);
}

/** Decides from SQLite's view whether the database is new (true), ours (false), or neither (throws). Reads only. */
function classify(db: Db, file: string): boolean {
  const appId = db.pragma('application_id', { simple: true }) as number;
  const version = db.pragma('user_version', { simple: true }) as number;
  const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all() as string[]);
  if (appId === 0 && tables.length === 0 && version === 0) return true;
  if (appId !== APPLICATION_ID) throw foreign(file, appId === 0 ? `no application_id, tables: ${tables.slice(0, 5).join(', ') || 'none'}` : `application_id 0x${appId.toString(16)}`);
  if (version > SCHEMA_VERSION) {
    throw new StorageStartError(`${file} has schema version ${version}, newer than this server's ${SCHEMA_VERSION}; refusing to start — run a newer server`);
  }
  const missing = TABLES.filter((t) => !tables.includes(t));
  if (version < 1 || missing.length > 0) {
    throw new StorageStartError(`${file} is a damaged pixel-canvas database (schema version ${version}, missing: ${missing.join(', ') || 'none'}); refusing to start`);
  }
  // Schema 1 gained chunk_checkpoint.version before its release; a database from a build before that lacks it.
  const columns = db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('chunk_checkpoint') as string[];
  if (!columns.includes('version')) {
    throw new StorageStartError(`${file} was made by a pre-release build (chunk_checkpoint has no version column); refusing to start — move it aside`);
  }
  return false;
}

/**
 * Written next to canvas.db after a clean close: its size, mtime (ns) and inode then. A start that finds them
 * unchanged may skip the whole-file integrity checks; any write to the file (dd, a copy, a crash mid-write)
 * changes the mtime. (Someone who writes and then resets the mtime on purpose defeats it.)
 */
const CLEAN_STAMP_SUFFIX = '.clean';

function stampFile(file: string): string {
  return file + CLEAN_STAMP_SUFFIX;
}

function fileStamp(file: string): string {
  const st = fs.statSync(file, { bigint: true });
  return JSON.stringify({ size: String(st.size), mtimeNs: String(st.mtimeNs), ino: String(st.ino), dev: String(st.dev) });
}

function stampMatches(file: string): boolean {
  try {
    if (fs.existsSync(file + '-wal')) return false;
    return fs.readFileSync(stampFile(file), 'utf8') === fileStamp(file);
  } catch {
    return false;
  }
}

/** Throws StorageStartError naming the file and SQLite's first complaint unless PRAGMA quick_check says ok. */
function quickCheck(db: Db, file: string): void {
  const problems = db.prepare('PRAGMA quick_check(3)').pluck().all() as string[];
  if (problems.length === 1 && problems[0] === 'ok') return;
  throw new StorageStartError(`${file} is corrupt (quick_check: ${errMessage(problems.join('; ')).slice(0, 160)}); refusing to start — move it aside or restore a backup`);
}

/** crc32 of a checkpoint row: its chunk key, log id and version, then its pixels. */
export function checkpointCrc(key: number, logId: number, version: number, pixels: Uint8Array): number {
  return crc32(pixels, crc32(`${key},${logId},${version}`));
}

/** crc32 of a chunk_last row: its chunk key, then its blob. */
export function lastIdsCrc(key: number, blob: Uint8Array): number {
  return crc32(blob, crc32(String(key)));
}

function describeOpenError(file: string, err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED') {
    return `${file} is locked: another server is using data directory ${path.dirname(file)}`;
  }
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || code.startsWith('SQLITE_CORRUPT_')) {
    return `${file} is corrupt (${errMessage(err)}); refusing to start — move it aside or restore a backup`;
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_IOERR') || code === 'SQLITE_PERM') {
    return `cannot write ${file} (${code}): check permissions and free space of ${path.dirname(file)}`;
  }
  return `cannot open ${file}: ${errMessage(err)}`;
}

function fsReason(err: unknown): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOTDIR': return 'a file is in its path (ENOTDIR)';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EROFS': return 'read-only file system';
    case 'ENOSPC': return 'no space left on device';
    default: return errMessage(err);
  }
}

function errMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ');
}

/** Durable storage over one SQLite connection. Made by openSqliteStorage. */
export class SqliteStorage implements CanvasStorage {
  readonly durable = true;
  readonly file: string;
  /** Kept from the previous run if it closed cleanly, else new (see the file comment). */
  readonly epoch: number;
  /** What the last load() did. */
  lastLoad: LoadStats | null = null;
  /** Rows the last history() read from SQLite (its work; for tests and the bench). */
  lastHistoryRowsRead = 0;

  private readonly salt: string;
  private readonly checkpointEvery: number;
  private readonly checkpointIntervalMs: number;
  private readonly historyScanWindow: number;
  private readonly historyProbeFactor: number;
  private readonly allowResize: boolean;
  /**
   * Whether this open ran the whole-file checks (quick_check, and every chunk_last crc at load); false when
   * the clean stamp vouched for the file or it was new. For logs and tests.
   */
  readonly verifyBlobs: boolean;
  private closed = false;
  /** A storage error happened since open: close then leaves no clean stamp. */
  private failed = false;
  /** Whether anything was committed since open: close() without a store can then not vouch for versions. */
  private committedSinceOpen = false;
  /** Chunks on the canvas last loaded (sizes the history plan); the largest canvas until load. */
  private canvasChunks = 1024 * 1024;

  /** Highest log id written (rows are appended by this connection only: it holds the lock). */
  private lastLogId: number;
  /** Time of the last logged placement; commit never logs an earlier one. */
  private lastTime: number;
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
  private readonly actors = new LRUCache<string, number>({ max: ACTOR_CACHE_MAX });

  private readonly insertLog: Stmt;
  private readonly findActor: Stmt;
  private readonly insertActor: Stmt;
  private readonly upsertCheckpoint: Stmt;
  private readonly deleteCheckpoint: Stmt;
  private readonly upsertLastIds: Stmt;
  private readonly selectLastIds: Stmt;
  private readonly setMeta: Stmt;
  private readonly getMeta: Stmt;
  private readonly placementById: Stmt;
  private readonly firstFrom: Stmt;
  private readonly historyInChunk: Stmt;
  private readonly historyScan: Stmt;
  private readonly historyFirstInChunks: Stmt;
  private readonly actorName: Stmt;
  /** Actor id → [display name, client id], for history pages. */
  private readonly actorNames = new LRUCache<number, [string, number]>({ max: ACTOR_CACHE_MAX });
  private readonly readTx: <T>(fn: () => T) => T;
  private readonly trailStmt: Stmt;
  private readonly scanStmt: Stmt;
  private readonly commitTx: (batch: readonly PlacementRecord[], fresh: Map<string, number>) => void;
  private readonly checkpointTx: (store: ChunkStore, lastIds: Map<number, Float64Array>, clean: boolean) => void;

  /** Use openSqliteStorage. */
  constructor(private readonly db: Db, file: string, opts: SqliteStorageOptions, verifyBlobs = true) {
    this.file = file;
    this.verifyBlobs = verifyBlobs;
    this.checkpointEvery = positive(opts.checkpointEvery ?? STORAGE_DEFAULTS.checkpointEvery, 'checkpointEvery');
    this.checkpointIntervalMs = positive(opts.checkpointIntervalMs ?? STORAGE_DEFAULTS.checkpointIntervalMs, 'checkpointIntervalMs');
    this.historyScanWindow = positive(opts.historyScanWindow ?? HISTORY_SCAN_WINDOW, 'historyScanWindow');
    this.allowResize = opts.allowResize === true;
    this.historyProbeFactor = opts.historyProbeFactor ?? HISTORY_PROBE_FACTOR;
    if (!(Number.isInteger(this.historyProbeFactor) && this.historyProbeFactor >= 0)) {
      throw new StorageStartError(`historyProbeFactor must be a non-negative integer, got ${this.historyProbeFactor}`);
    }

    this.getMeta = db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
    this.setMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.insertLog = db.prepare('INSERT INTO pixel_log (id, x, y, color, time, actor) VALUES (?, ?, ?, ?, ?, ?)');
    this.findActor = db.prepare('SELECT id FROM actor WHERE client_id = ? AND name = ? AND ip_hash = ?').pluck();
    this.insertActor = db.prepare('INSERT INTO actor (client_id, name, ip_hash) VALUES (?, ?, ?)');
    this.upsertCheckpoint = db.prepare(
      'INSERT INTO chunk_checkpoint (chunk, cx, cy, log_id, version, pixels, crc) VALUES (?, ?, ?, ?, ?, ?, ?) ' +
      'ON CONFLICT (chunk) DO UPDATE SET log_id = excluded.log_id, version = excluded.version, pixels = excluded.pixels, crc = excluded.crc');
    this.deleteCheckpoint = db.prepare('DELETE FROM chunk_checkpoint WHERE chunk = ?');
    this.upsertLastIds = db.prepare('INSERT INTO chunk_last (chunk, log_ids, crc) VALUES (?, ?, ?) ON CONFLICT (chunk) DO UPDATE SET log_ids = excluded.log_ids, crc = excluded.crc');
    this.selectLastIds = db.prepare('SELECT log_ids, crc FROM chunk_last WHERE chunk = ?').raw();
    this.placementById = db.prepare('SELECT l.time, a.name, a.client_id FROM pixel_log l JOIN actor a ON a.id = l.actor WHERE l.id = ?').raw();
    this.firstFrom = db.prepare('SELECT id, time FROM pixel_log WHERE id >= ? ORDER BY id LIMIT 1').raw();
    // History reads actor ids, not names: the merge reads more rows than it returns, and a name is looked up
    // (and cached: actor rows never change) only for the rows of the page.
    const columns = 'SELECT l.id, l.x, l.y, l.color, l.time, l.actor FROM pixel_log';
    const filters = 'l.id > ? AND l.id <= ? AND l.x BETWEEN ? AND ? AND l.y BETWEEN ? AND ?';
    // Walks one chunk's index entries in log order from the cursor and stops at the limit. The key expression
    // reads exactly like the index's.
    this.historyInChunk = db.prepare(
      `${columns} l INDEXED BY pixel_log_by_chunk WHERE ${CHUNK_KEY_SQL} = ? AND ${filters} ORDER BY l.id LIMIT ?`).raw();
    this.historyScan = db.prepare(`${columns} l WHERE ${filters} ORDER BY l.id LIMIT ?`).raw();
    // historyInChunk's first LIMIT rows for each chunk key of a JSON array, in one statement.
    this.historyFirstInChunks = db.prepare(
      'SELECT o.id, o.x, o.y, o.color, o.time, o.actor FROM json_each(?) k JOIN pixel_log o ON o.id IN ' +
      `(SELECT l.id FROM pixel_log l INDEXED BY pixel_log_by_chunk WHERE ${CHUNK_KEY_SQL} = k.value AND ${filters} ORDER BY l.id LIMIT ?)`).raw();
    this.actorName = db.prepare('SELECT name, client_id FROM actor WHERE id = ?').raw();
    // Moderation: one chunk's rows newest first (its index walked backwards), and a bounded scan of the
    // log by region, time and optionally actor (name and/or address hash; NULL = any).
    const modColumns = 'SELECT l.id, l.x, l.y, l.color, l.time, a.client_id, a.name, a.ip_hash FROM pixel_log';
    this.trailStmt = db.prepare(
      `${modColumns} l INDEXED BY pixel_log_by_chunk JOIN actor a ON a.id = l.actor ` +
      `WHERE ${CHUNK_KEY_SQL} = ? AND l.id < ? ORDER BY l.id DESC LIMIT ?`).raw();
    this.scanStmt = db.prepare(
      `${modColumns} l JOIN actor a ON a.id = l.actor WHERE ${filters} AND l.time >= ? ` +
      'AND (? IS NULL OR a.name = ?) AND (? IS NULL OR a.ip_hash = ?) ORDER BY l.id LIMIT ?').raw();

    // Salt: given (e.g. from a secret outside the data dir, so a stolen canvas.db cannot be brute-forced back
    // to addresses), or made once and kept so hashes stay comparable across restarts.
    let salt = opts.salt;
    if (salt === undefined) {
      salt = this.getMeta.get('ip_salt') as string | undefined;
      if (salt === undefined) {
        salt = randomBytes(16).toString('hex');
        this.setMeta.run('ip_salt', salt);
      }
    }
    this.salt = salt;
    // Retention is a flag for now: it records the operator's intent (and what a pruning job must honour).
    // Pruning may only ever remove rows at or below meta.checkpoint_log_id.
    if (opts.retentionDays !== undefined) this.setMeta.run('retention_days', String(opts.retentionDays));

    // The epoch survives only a clean close. Marked unclean at once, in one durable transaction, so a crash
    // from here on (before or after serving) makes the next open draw a new epoch.
    const previous = this.getMeta.get('epoch') as string | undefined;
    const kept = previous !== undefined && this.getMeta.get('clean_shutdown') === '1' ? parseEpoch(previous) : null;
    let epoch = kept;
    if (epoch === null) {
      // Never the previous one: a client holding it must not resume against versions it cannot trust.
      do {
        epoch = randomInt(0, MAX_VERSION + 1);
      } while (String(epoch) === previous);
    }
    this.epoch = epoch;
    db.transaction(() => {
      this.setMeta.run('epoch', String(epoch));
      this.setMeta.run('clean_shutdown', '0');
    })();

    const last = db.prepare('SELECT id, time FROM pixel_log ORDER BY id DESC LIMIT 1').raw().get() as [number, number] | undefined;
    this.lastLogId = last?.[0] ?? 0;
    this.lastTime = last?.[1] ?? Number.MIN_SAFE_INTEGER;

    const readTx = db.transaction((fn: () => unknown) => fn());
    this.readTx = <T>(fn: () => T): T => readTx(fn) as T;

    // Ids are assigned here rather than by SQLite so the commit needs no result object per row.
    this.commitTx = db.transaction((batch: readonly PlacementRecord[], fresh: Map<string, number>): void => {
      let id = this.lastLogId;
      let time = this.lastTime;
      for (let i = 0; i < batch.length; i++) {
        const r = batch[i]!;
        time = Math.max(time, Math.floor(r.time));
        this.insertLog.run(++id, r.x, r.y, r.color, time, this.actorId(r, fresh));
      }
    });

    this.checkpointTx = db.transaction((store: ChunkStore, lastIds: Map<number, Float64Array>, clean: boolean) => {
      for (const key of this.dirty) {
        const cx = keyCx(key);
        const cy = keyCy(key);
        if (cx >= store.chunksX || cy >= store.chunksY) continue;
        const pixels = store.chunkPixels(cx, cy);
        // Never allocated means every pixel is the background: no checkpoint is the same as an empty one.
        if (pixels === null) this.deleteCheckpoint.run(key);
        else {
          const version = store.version(cx, cy);
          this.upsertCheckpoint.run(key, cx, cy, this.lastLogId, version, Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), checkpointCrc(key, this.lastLogId, version, pixels));
        }
      }
      for (const [key, ids] of lastIds) {
        const blob = encodeLastIds(ids);
        this.upsertLastIds.run(key, blob, lastIdsCrc(key, blob));
      }
      this.setMeta.run('checkpoint_log_id', String(this.lastLogId));
      if (clean) this.setMeta.run('clean_shutdown', '1');
    });
  }

  /**
   * The connection, for a layer that keeps its own tables in the same file and writes them in the same
   * transaction as commit (src/cluster: the stream position). commit() nests inside a caller's transaction.
   */
  get database(): Db {
    this.open();
    return this.db;
  }

  /** Throws StorageStartError (one line naming the file) when the database does not fit the store or is damaged. */
  load(store: ChunkStore): void {
    this.open();
    try {
      this.loadInto(store);
    } catch (err) {
      this.failed = true; // no clean stamp for a database that failed to load: the next start checks it all
      if (err instanceof StorageStartError) throw err;
      throw new StorageStartError(describeOpenError(this.file, err), { cause: err });
    }
  }

  private loadInto(store: ChunkStore): void {
    const started = performance.now();
    this.canvasChunks = store.chunksX * store.chunksY;
    // Checkpoints hold background pixels literally, so another background would leave a patchwork.
    const background = this.getMeta.get('background') as string | undefined;
    if (background === undefined) this.setMeta.run('background', String(store.background));
    else if (Number(background) !== store.background) throw this.mismatch(store, `it was made with background colour ${background}, not ${store.background}`);
    // The canvas size it was made for (recorded since schema 2's build; an older database records it now).
    const width = this.getMeta.get('width') as string | undefined;
    const height = this.getMeta.get('height') as string | undefined;
    const resized = width !== undefined && height !== undefined && (Number(width) !== store.width || Number(height) !== store.height);
    if (resized && !this.allowResize) {
      throw new StorageStartError(`${this.file} holds a ${width}x${height} canvas, but the server is configured for ${store.width}x${store.height}; refusing to start — start with --width ${width} --height ${height}, or add --allow-resize to resize it`);
    }
    const bufs = new Map<number, { pixels: Uint8Array; logId: number; version: number }>();
    const rows = this.db.prepare('SELECT chunk, cx, cy, log_id, version, pixels, crc FROM chunk_checkpoint').raw().iterate() as IterableIterator<[number, number, number, number, number, Buffer, number | null]>;
    let checkpoints = 0;
    for (const [key, cx, cy, logId, version, pixels, crc] of rows) {
      if (pixels.length !== CHUNK_AREA || key !== chunkKey(cx, cy) || (crc !== null && checkpointCrc(key, logId, version, pixels) !== crc)) {
        throw new StorageStartError(`${this.file} is corrupt (checkpoint of chunk (${cx}, ${cy}) fails its checksum); refusing to start — move it aside or restore a backup`);
      }
      if (cx >= store.chunksX || cy >= store.chunksY) {
        if (pixels.some((c) => c !== store.background)) throw this.mismatch(store, `chunk (${cx}, ${cy}) has painted pixels`);
        continue;
      }
      bufs.set(key, { pixels: new Uint8Array(pixels), logId, version });
      checkpoints++;
    }

    const horizon = Number(this.getMeta.get('checkpoint_log_id') ?? 0);
    const tail = this.db.prepare('SELECT id, x, y, color FROM pixel_log WHERE id > ? ORDER BY id').raw().iterate(horizon) as IterableIterator<[number, number, number, number]>;
    let replayed = 0;
    /** Chunks the tail changed: each gets its checkpointed version + 1, as one more drain would have. */
    const bumped = new Set<number>();
    for (const [id, x, y, color] of tail) {
      if (store.check(x, y, color) !== null) throw this.mismatch(store, `log row ${id} paints (${x}, ${y}) colour ${color}`);
      const key = chunkKey(x >>> CHUNK_SHIFT, y >>> CHUNK_SHIFT);
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
      // As commit would have: the next checkpoint covers the tail, so the next restart skips it.
      this.dirty.add(key);
      this.recent.set(pixelPos(x, y), id);
      replayed++;
    }
    this.sinceCheckpoint += replayed;

    for (const [key, { pixels, version }] of bufs) {
      try {
        store.loadChunk(keyCx(key), keyCy(key), pixels, version);
      } catch (err) {
        throw this.mismatch(store, `chunk (${keyCx(key)}, ${keyCy(key)}): ${errMessage(err)}`);
      }
    }
    // Every blob pixel info may read later is checked now, so damage refuses the start rather than showing
    // up as a wrong "placed by" weeks later.
    const lastRows = this.verifyBlobs ? this.db.prepare('SELECT chunk, log_ids, crc FROM chunk_last').raw().iterate() as IterableIterator<[number, Buffer, number | null]> : [];
    for (const [key, blob, crc] of lastRows) {
      if (crc !== null && lastIdsCrc(key, blob) !== crc) throw new StorageStartError(`${this.file} is corrupt (chunk_last row of chunk (${keyCx(key)}, ${keyCy(key)}) fails its checksum); refusing to start — move it aside or restore a backup`);
    }
    if (width === undefined || height === undefined || resized) {
      this.setMeta.run('width', String(store.width));
      this.setMeta.run('height', String(store.height));
    }
    this.lastLoad = { checkpoints, replayed, ms: performance.now() - started };
  }

  commit(batch: readonly PlacementRecord[]): void {
    this.open();
    if (batch.length === 0) return;
    for (let i = 0; i < batch.length; i++) checkRecord(batch[i]!); // before the transaction: all or nothing
    const fresh = new Map<string, number>();
    this.named('commit', () => this.commitTx(batch, fresh));
    // Only now that the transaction is committed do its effects reach in-memory state.
    for (const [k, id] of fresh) this.actors.set(k, id);
    let id = this.lastLogId;
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      this.dirty.add(chunkKey(r.x >>> CHUNK_SHIFT, r.y >>> CHUNK_SHIFT));
      this.recent.set(pixelPos(r.x, r.y), ++id);
      this.lastTime = Math.max(this.lastTime, Math.floor(r.time));
    }
    this.lastLogId = id;
    this.committedSinceOpen = true;
    this.sinceCheckpoint += batch.length;
    this.walDirty = true;
    const last = batch[batch.length - 1]!;
    this.lastX = last.x;
    this.lastY = last.y;
    this.lastColor = last.color;
  }

  maybeCheckpoint(store: ChunkStore, nowMs: number): void {
    this.open();
    this.lastCheckpointAt ??= nowMs;
    this.lastWalCheckpointAt ??= nowMs;
    if (this.walDirty && nowMs - this.lastWalCheckpointAt >= WAL_CHECKPOINT_MS) {
      this.lastWalCheckpointAt = nowMs;
      this.walDirty = false;
      this.named('WAL checkpoint', () => this.db.pragma('wal_checkpoint(PASSIVE)'));
    }
    if (this.dirty.size === 0) return;
    if (this.sinceCheckpoint < this.checkpointEvery && nowMs - this.lastCheckpointAt < this.checkpointIntervalMs) return;
    this.named('checkpoint', () => this.checkpoint(store, nowMs));
  }

  pixelInfo(x: number, y: number, store: ChunkStore): PixelInfo {
    this.open();
    checkPixelOnCanvas(x, y, store);
    const row = this.named('pixel info', () => {
      const id = this.recent.get(pixelPos(x, y)) ?? this.lastIds(chunkKey(x >>> CHUNK_SHIFT, y >>> CHUNK_SHIFT))?.[pixelOffset(x, y)] ?? 0;
      return id > 0 ? this.placementById.get(id) as [number, string, number] | undefined : undefined;
    });
    const info: PixelInfo = { x, y, color: store.get(x, y), placedAt: row?.[0] ?? null, placedBy: row?.[1] ?? null };
    if (row !== undefined && row[2] === MODERATION_CLIENT_ID) info.moderation = true;
    return info;
  }

  scanPlacements(q: PlacementScan): PlacementScanPage {
    this.open();
    const from = Math.max(q.afterId, this.firstIdAtOrAfter(q.since) - 1);
    if (from >= this.lastLogId) return { entries: [], next: null };
    const end = Math.min(this.lastLogId, from + this.historyScanWindow);
    const name = q.actor?.name ?? null;
    const ip = q.actor?.ip === undefined ? null : hashIp(this.salt, q.actor.ip);
    const rows = this.scanStmt.all(from, end, q.x0, q.x1, q.y0, q.y1, q.since, name, name, ip, ip, q.limit + 1) as ModRow[];
    const entries = rows.slice(0, q.limit).map((r) => this.logEntry(r, q.actor));
    if (rows.length > q.limit) return { entries, next: entries[entries.length - 1]!.id };
    return { entries, next: end < this.lastLogId ? end : null };
  }

  history(q: HistoryQuery): HistoryPage {
    this.open();
    const b = resolveHistoryQuery(q);
    this.lastHistoryRowsRead = 0;
    return this.named('history', () => this.historyPage(b));
  }

  private historyPage(b: HistoryBounds): HistoryPage {
    // Time bounds become log positions: time never decreases along the log.
    const from = Math.max(b.afterId, b.since > Number.MIN_SAFE_INTEGER ? this.firstIdAtOrAfter(b.since) - 1 : 0);
    const to = b.until < Number.MAX_SAFE_INTEGER ? this.firstIdAtOrAfter(b.until) - 1 : this.lastLogId;
    if (from >= to) return { placements: [], next: null };
    const cx0 = b.x0 >>> CHUNK_SHIFT, cx1 = b.x1 >>> CHUNK_SHIFT;
    const cy0 = b.y0 >>> CHUNK_SHIFT, cy1 = b.y1 >>> CHUNK_SHIFT;
    const chunks = (cx1 - cx0 + 1) * (cy1 - cy0 + 1);
    const mergeMax = Math.min(HISTORY_MERGE_MAX_CHUNKS, Math.max(4, Math.sqrt(this.canvasChunks)));
    // One read transaction for the page's statements: each would otherwise begin and end its own.
    return this.readTx(() => chunks <= mergeMax ? this.historyMerge(b, from, to, cx0, cx1, cy0, cy1) : this.historyScanPage(b, from, to));
  }

  chunkTrail(cx: number, cy: number, beforeId: number, limit: number, actor?: ActorFilter): ChunkTrail {
    this.open();
    const rows = this.trailStmt.all(chunkKey(cx, cy), beforeId, limit) as ModRow[];
    return { entries: rows.map((r) => this.logEntry(r, actor)), complete: true };
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
        this.addChangedVersions(store);
        if (this.dirty.size === 0) this.setMeta.run('clean_shutdown', '1');
        else this.checkpoint(store, 0, true);
      } else if (!this.committedSinceOpen && this.dirty.size === 0) {
        // Nothing changed since open (which found every checkpoint current): the data still matches the epoch.
        this.setMeta.run('clean_shutdown', '1');
      }
    } finally {
      this.closed = true;
      this.db.close();
    }
    // Closed without error, after a run without storage errors: the file is consistent and ours alone.
    if (!this.failed) {
      try {
        fs.writeFileSync(stampFile(this.file), fileStamp(this.file));
      } catch { /* no stamp: the next start checks the whole file */ }
    }
  }

  // -------------------------------------------------------------------------------------------------------

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

  /**
   * Adds to `dirty` every chunk whose version in the store differs from its checkpointed one (a checkpoint
   * taken between a store's apply and drain recorded the version before that drain). For close(): after it,
   * the final checkpoint leaves every chunk's version exact.
   */
  private addChangedVersions(store: ChunkStore): void {
    const saved = new Map<number, number>();
    for (const [key, version] of this.db.prepare('SELECT chunk, version FROM chunk_checkpoint').raw().iterate() as IterableIterator<[number, number]>) {
      saved.set(key, version);
    }
    store.forEachChunk((cx, cy, _pixels, version) => {
      const key = chunkKey(cx, cy);
      if ((saved.get(key) ?? 0) !== version) this.dirty.add(key);
    });
  }

  /** Returns false when it wrote nothing (not yet safe); throws when the transaction fails. */
  private checkpoint(store: ChunkStore, nowMs: number, clean = false): boolean {
    // The store must already show the last committed batch, or the checkpoint would claim log rows it lacks
    // and a restart would lose them. If the caller checkpoints between commit and apply, wait for next time.
    if (this.lastX >= 0 && (this.lastX >= store.width || this.lastY >= store.height || store.get(this.lastX, this.lastY) !== this.lastColor)) return false;
    // New chunk_last arrays: copies, so a failed transaction leaves the cache as it was.
    const lastIds = new Map<number, Float64Array>();
    for (const [pos, id] of this.recent) {
      const x = pos % MAX_CANVAS_SIDE, y = Math.floor(pos / MAX_CANVAS_SIDE);
      const key = chunkKey(x >>> CHUNK_SHIFT, y >>> CHUNK_SHIFT);
      let ids = lastIds.get(key);
      if (ids === undefined) {
        const old = this.lastIds(key);
        ids = old === undefined ? new Float64Array(CHUNK_AREA) : old.slice();
        lastIds.set(key, ids);
      }
      ids[pixelOffset(x, y)] = id;
    }
    try {
      this.checkpointTx(store, lastIds, clean);
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

  /** The first log id whose time is >= t (lastLogId + 1 if none): binary search, ~log2(n) point reads. */
  private firstIdAtOrAfter(t: number): number {
    let lo = 1;
    let hi = this.lastLogId + 1; // answer in [lo, hi]
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const row = this.firstFrom.get(mid) as [number, number] | undefined; // first row at or after mid
      // A position in a gap of ids (none today; a pruned prefix one day) stands for the next id after it.
      if (row === undefined || row[1] >= t) hi = mid;
      else lo = row[0] + 1;
    }
    return lo;
  }

  /**
   * Oldest-first history over a region of at most HISTORY_MERGE_MAX_CHUNKS chunks. First a short scan of the
   * log right after the cursor (HISTORY_PROBE_FACTOR × page ids, one statement): when the region is busy
   * relative to the canvas, that alone fills the page. Otherwise, from where the probe stopped, a k-way merge
   * of per-chunk index scans (each walks its chunk in log order), read lazily in small batches
   * (history-merge.ts): about chunks × firstBatch + 2 × (limit + 1) rows, where reading limit + 1 rows from
   * every chunk and sorting them read up to 256 × 1001.
   */
  private historyMerge(b: HistoryBounds, from: number, to: number, cx0: number, cx1: number, cy0: number, cy1: number): HistoryPage {
    const want = b.limit + 1;
    const probeEnd = Math.min(to, from + this.historyProbeFactor * want);
    const probed = probeEnd > from ? this.historyScan.all(from, probeEnd, b.x0, b.x1, b.y0, b.y1, want) as unknown[][] : [];
    this.lastHistoryRowsRead = probed.length;
    if (probed.length === want || probeEnd === to) return this.page(probed, b.limit, null);
    const sources: MergeSource<unknown[]>[] = [];
    const keys: number[] = [];
    /** chunk key → index in sources */
    const index = new Map<number, number>();
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const key = chunkKey(cx, cy);
        index.set(key, keys.length);
        keys.push(key);
        sources.push((afterId, n) => this.historyInChunk.all(key, afterId, to, b.x0, b.x1, b.y0, b.y1, n) as unknown[][]);
      }
    }
    const rest = want - probed.length;
    const first = Math.min(rest, Math.ceil(rest / sources.length) + 1);
    // Every chunk's first batch in one statement (the per-chunk statements cost more than their seeks).
    const prefetched: unknown[][][] = keys.map(() => []);
    for (const r of this.historyFirstInChunks.all(JSON.stringify(keys), probeEnd, to, b.x0, b.x1, b.y0, b.y1, first) as unknown[][]) {
      prefetched[index.get(chunkKey((r[1] as number) >>> CHUNK_SHIFT, (r[2] as number) >>> CHUNK_SHIFT))!]!.push(r);
    }
    for (const rows of prefetched) if (rows.length > 1) rows.sort((a, c) => (a[0] as number) - (c[0] as number));
    const { rows, fetched } = mergeFirst(sources, probeEnd, rest, first, prefetched);
    this.lastHistoryRowsRead += fetched;
    return this.page(probed.length === 0 ? rows : probed.concat(rows), b.limit, null);
  }

  /** Oldest-first scan of the log, bounded to historyScanWindow ids per page. */
  private historyScanPage(b: HistoryBounds, from: number, to: number): HistoryPage {
    const end = Math.min(to, from + this.historyScanWindow);
    const rows = this.historyScan.all(from, end, b.x0, b.x1, b.y0, b.y1, b.limit + 1) as unknown[][];
    this.lastHistoryRowsRead = rows.length;
    return this.page(rows, b.limit, end < to ? end : null);
  }

  /** rows: [id, x, y, color, time, actor], ascending id, possibly one more than the limit. */
  private page(rows: unknown[][], limit: number, resumeAt: number | null): HistoryPage {
    const n = Math.min(rows.length, limit);
    const placements: HistoryEntry[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      const [name, clientId] = this.actorOf(r[5] as number);
      const e: HistoryEntry = { x: r[1] as number, y: r[2] as number, color: r[3] as number, placedAt: r[4] as number, placedBy: name };
      if (clientId === MODERATION_CLIENT_ID) e.moderation = true;
      placements[i] = e;
    }
    let next: string | null = null;
    if (rows.length > limit) next = encodeHistoryCursor(rows[limit - 1]![0] as number);
    else if (resumeAt !== null) next = encodeHistoryCursor(resumeAt);
    return { placements, next };
  }

  /** An actor's [display name, client id] (cached: actor rows never change). */
  private actorOf(actor: number): [string, number] {
    let row = this.actorNames.get(actor);
    if (row === undefined) {
      row = this.actorName.get(actor) as [string, number] | undefined;
      if (row === undefined) throw new Error(`log row names actor ${actor}, which does not exist`);
      this.actorNames.set(actor, row);
    }
    return row;
  }

  private logEntry(r: ModRow, actor: ActorFilter | undefined): LogEntry {
    const byActor = actor !== undefined && (actor.name === undefined || r[6] === actor.name) &&
      (actor.ip === undefined || this.ipHashOf(actor.ip).equals(r[7]));
    return { id: r[0], x: r[1], y: r[2], color: r[3], time: r[4], byActor, moderation: r[5] === MODERATION_CLIENT_ID };
  }

  private lastIpHash: [string, Buffer] | null = null;

  /** hashIp for the moderation filter's address, kept for the next row (a query asks about one address). */
  private ipHashOf(ip: string): Buffer {
    if (this.lastIpHash === null || this.lastIpHash[0] !== ip) this.lastIpHash = [ip, hashIp(this.salt, ip)];
    return this.lastIpHash[1];
  }

  /** The actor row for a record's (client, name, address), inserting it inside the running transaction. */
  private actorId(r: PlacementRecord, fresh: Map<string, number>): number {
    const k = `${r.clientId}\u0000${r.name}\u0000${r.ip}`;
    const cached = this.actors.get(k) ?? fresh.get(k);
    if (cached !== undefined) return cached;
    const ipHash = hashIp(this.salt, r.ip);
    let id = this.findActor.get(r.clientId, r.name, ipHash) as number | undefined;
    if (id === undefined) id = Number(this.insertActor.run(r.clientId, r.name, ipHash).lastInsertRowid);
    // Cached only after the commit: a rolled-back transaction must not leave ids of rows that do not exist.
    fresh.set(k, id);
    return id;
  }

  private mismatch(store: ChunkStore, what: string): Error {
    return new StorageStartError(`${this.file} does not fit the configured ${store.width}x${store.height} canvas with ${store.paletteSize} colours: ${what}; start with the canvas size and palette it was made with`);
  }

  private open(): void {
    if (this.closed) throw new Error(`${this.file}: storage is closed`);
  }
}

/** A moderation query's row: id, x, y, color, time, client id, name, address hash. */
type ModRow = [number, number, number, number, number, number, string, Buffer];

/** chunk_last blob: 4096 little-endian f64 log ids (exact to 2^53; 0 = never painted). */
function encodeLastIds(ids: Float64Array): Buffer {
  const buf = Buffer.allocUnsafe(CHUNK_AREA * 8);
  for (let i = 0; i < CHUNK_AREA; i++) buf.writeDoubleLE(ids[i]!, i * 8);
  return buf;
}

function decodeLastIds(blob: Buffer): Float64Array {
  if (blob.length !== CHUNK_AREA * 8) throw new Error(`chunk_last blob of ${blob.length} bytes, expected ${CHUNK_AREA * 8}`);
  const ids = new Float64Array(CHUNK_AREA);
  for (let i = 0; i < CHUNK_AREA; i++) ids[i] = blob.readDoubleLE(i * 8);
  return ids;
}

/** A stored epoch, or null when it is not a u32 (then a new one is drawn). */
function parseEpoch(text: string): number | null {
  const n = Number(text);
  return /^[0-9]+$/.test(text) && n <= MAX_VERSION ? n : null;
}

function positive(n: number, name: string): number {
  if (!(Number.isFinite(n) && n > 0)) throw new StorageStartError(`${name} must be a positive number, got ${n}`);
  return n;
}
