/**
 * The checks before the server trusts a data directory: that it can be written, that canvas.db is a SQLite
 * database of ours (looked at before SQLite opens it for writing), of a schema this server knows, and
 * undamaged; and the one-line messages an operator gets when it is not. Each check only reads.
 */
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { StorageStartError } from './canvas-storage.js';
import { APPLICATION_ID, SCHEMA_VERSION, TABLES } from './sqlite-schema.js';

/** Creates the data directory if needed; throws StorageStartError unless it is a writable directory. */
export function prepareDataDir(dir: string): void {
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
export function inspectHeader(file: string): void {
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
export function classify(db: Database.Database, file: string): boolean {
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

/** Throws StorageStartError naming the file and SQLite's first complaint unless PRAGMA quick_check says ok. */
export function quickCheck(db: Database.Database, file: string): void {
  const problems = db.prepare('PRAGMA quick_check(3)').pluck().all() as string[];
  if (problems.length === 1 && problems[0] === 'ok') return;
  throw new StorageStartError(`${file} is corrupt (quick_check: ${errMessage(problems.join('; ')).slice(0, 160)}); refusing to start — move it aside or restore a backup`);
}

/** One line for an error met while opening or loading, by SQLite's code: locked, corrupt, not writable… */
export function describeOpenError(file: string, err: unknown): string {
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

/** An error's message on one line. */
export function errMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ');
}

/** Throws StorageStartError unless n is a positive finite number; returns it. */
export function positive(n: number, name: string): number {
  if (!(Number.isFinite(n) && n > 0)) throw new StorageStartError(`${name} must be a positive number, got ${n}`);
  return n;
}
