/**
 * The SQLite file's layout: identity stamps, tables, the one migration, and the byte formats of its blob rows.
 *
 * Layout (schema version 3, stamped with our application_id so a foreign database is never mistaken for ours):
 * - `pixel_log`: append-only, one row per placement; its rowid is the log order (the order of commits), and
 *   its `time` never decreases along it (commit clamps a clock that steps back), so a time bound is a log
 *   position found by binary search. Who placed it is a small `actor` id, not the name and address hash
 *   repeated on every row. One secondary index, by chunk (and so by chunk, then id), serves history over
 *   small regions in log order.
 * - `actor`: (client id, display name, salted address hash, identity, name key) — one row per client session,
 *   not per pixel. `identity` is the painter's (painter-identity.ts; '' on rows from before version 3), the one
 *   moderation acts on; `name_key` the name as moderation compares it (nameKey).
 * - `chunk_checkpoint`: per chunk, its pixels and its ChunkStore version as of log id `log_id`.
 * - `chunk_last`: per chunk, the log id of each pixel's latest placement (CHUNK_AREA × f64 LE, 0 = never) as
 *   of the same checkpoint. Pixel info needs it; keeping it per row (a pixel → log id table updated on every
 *   commit) cost random-page WAL writes on every placement, several times the log insert itself.
 * - Both blob tables carry a `crc` (crc32 of the row), checked at load: SQLite's own checks (quick_check at
 *   open) cover every page's structure but not what a blob holds.
 * - `meta`: salt, the canvas `width` and `height` it was made for, `checkpoint_log_id`: the log id up to which
 *   *every* chunk's checkpoint is current, so a restart replays only the rows after it; `epoch` and
 *   `clean_shutdown` (see sqlite-storage.ts).
 */
import { crc32 } from 'node:zlib';
import type Database from 'better-sqlite3';
import { CHUNK_AREA, CHUNK_SHIFT, MAX_CHUNKS_PER_SIDE } from '../chunks/geometry.js';
import { nameKey } from './painter-identity.js';

/** 'PXCV': marks a database as a pixel-canvas store (PRAGMA application_id, header offset 68). */
export const APPLICATION_ID = 0x50584356;
/**
 * PRAGMA user_version of the schema below. A database with a newer version is refused, never downgraded.
 * 2: chunk_checkpoint.crc and chunk_last.crc (a version 1 database gains them at open; its rows keep NULL,
 * unchecked, until rewritten). An older server refuses a version 2 database, so none ever rewrites a blob
 * without its checksum.
 * 3: actor.identity and actor.name_key (a version 2 database gains them at open: identity '' for its old rows,
 * name_key computed from each row's name), and the actor lookup index includes the identity.
 */
export const SCHEMA_VERSION = 3;
export const DB_FILE = 'canvas.db';

/**
 * The chunk key (geometry.chunkKey) of a log row, as SQL, spelled from the chunk geometry. The index over it
 * and the queries that use it must spell it identically: SQLite matches expression indexes by their text, and
 * databases already on disk hold this text in their schema. History queries name the index (INDEXED BY), so
 * a mismatch is an error, not a silent full scan.
 */
export const CHUNK_KEY_SQL = `(y >> ${CHUNK_SHIFT}) * ${MAX_CHUNKS_PER_SIDE} + (x >> ${CHUNK_SHIFT})`;

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE actor (
  id INTEGER PRIMARY KEY,
  client_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  ip_hash BLOB NOT NULL,
  identity TEXT NOT NULL DEFAULT '',
  name_key TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX actor_by_identity ON actor (client_id, name, ip_hash, identity);
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
/**
 * Version 2 → 3. Client ids restart with the process, so (client id, name, address) no longer names one
 * session: the identity joins the lookup key. name_key is filled in by migrateSchema (it needs nameKey).
 */
const MIGRATE_2_TO_3_COLUMNS: Record<string, string> = {
  identity: "ALTER TABLE actor ADD COLUMN identity TEXT NOT NULL DEFAULT ''",
  name_key: "ALTER TABLE actor ADD COLUMN name_key TEXT NOT NULL DEFAULT ''",
};
const MIGRATE_2_TO_3_INDEX = `
DROP INDEX IF EXISTS actor_identity;
CREATE UNIQUE INDEX IF NOT EXISTS actor_by_identity ON actor (client_id, name, ip_hash, identity);
`;
/** Every table a database of ours has (classify refuses one missing any). */
export const TABLES = ['meta', 'actor', 'pixel_log', 'chunk_checkpoint', 'chunk_last'];

/** Makes the schema in a new, empty database, in one transaction. */
export function createSchema(db: Database.Database): void {
  db.transaction(() => {
    db.exec(SCHEMA);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('created_at', String(Date.now()));
  })();
}

/** Brings a database of ours (already classified) up to SCHEMA_VERSION. */
export function migrateSchema(db: Database.Database): void {
  if ((db.pragma('user_version', { simple: true }) as number) === 1) {
    db.transaction(() => {
      db.exec(MIGRATE_1_TO_2);
      db.pragma('user_version = 2');
    })();
  }
  if ((db.pragma('user_version', { simple: true }) as number) === 2) {
    db.transaction(() => {
      const have = new Set((db.prepare('PRAGMA table_info(actor)').all() as { name: string }[]).map((c) => c.name));
      for (const [column, sql] of Object.entries(MIGRATE_2_TO_3_COLUMNS)) if (!have.has(column)) db.exec(sql);
      db.exec(MIGRATE_2_TO_3_INDEX);
      // One row per session ever seen, not per pixel: a loop over them is cheap.
      const update = db.prepare('UPDATE actor SET name_key = ? WHERE id = ?');
      for (const [id, name] of db.prepare('SELECT id, name FROM actor').raw().all() as [number, string][]) update.run(nameKey(name), id);
      db.pragma('user_version = 3');
    })();
  }
}

/** crc32 of a checkpoint row: its chunk key, log id and version, then its pixels. */
export function checkpointCrc(key: number, logId: number, version: number, pixels: Uint8Array): number {
  return crc32(pixels, crc32(`${key},${logId},${version}`));
}

/** crc32 of a chunk_last row: its chunk key, then its blob. */
export function lastIdsCrc(key: number, blob: Uint8Array): number {
  return crc32(blob, crc32(String(key)));
}

/** chunk_last blob: CHUNK_AREA little-endian f64 log ids (exact to 2^53; 0 = never painted). */
export function encodeLastIds(ids: Float64Array): Buffer {
  const buf = Buffer.allocUnsafe(CHUNK_AREA * 8);
  for (let i = 0; i < CHUNK_AREA; i++) buf.writeDoubleLE(ids[i]!, i * 8);
  return buf;
}

export function decodeLastIds(blob: Buffer): Float64Array {
  if (blob.length !== CHUNK_AREA * 8) throw new Error(`chunk_last blob of ${blob.length} bytes, expected ${CHUNK_AREA * 8}`);
  const ids = new Float64Array(CHUNK_AREA);
  for (let i = 0; i < CHUNK_AREA; i++) ids[i] = blob.readDoubleLE(i * 8);
  return ids;
}
