/**
 * Every bad start is a StorageStartError with a one-line message, and leaves what it found untouched.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { StorageStartError } from '../../src/storage/canvas-storage.js';
import { openSqliteStorage } from '../../src/storage/sqlite-storage.js';
import { newStore, record, runChild, tempDir } from './fixtures.js';

function startError(dataDir: string): StorageStartError {
  try {
    openSqliteStorage({ dataDir }).close();
  } catch (err) {
    expect(err).toBeInstanceOf(StorageStartError);
    const e = err as StorageStartError;
    expect(e.message).not.toMatch(/\n/);
    expect(e.message.length).toBeLessThan(300);
    return e;
  }
  throw new Error(`openSqliteStorage(${dataDir}) did not fail`);
}

/** Name → sha256 of every file in a directory, to prove nothing was written. */
function snapshotDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).sort()) out[f] = createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex');
  return out;
}

/** The start is refused with a message matching `pattern`, and every file in the dir is left byte for byte. */
function expectRefusedUntouched(dir: string, pattern: RegExp): void {
  const before = snapshotDir(dir);
  expect(startError(dir).message).toMatch(pattern);
  expect(snapshotDir(dir)).toEqual(before);
}

describe('openSqliteStorage: bad starts', () => {
  it('creates a missing data directory (and parents)', () => {
    const dir = path.join(tempDir(), 'a', 'b');
    openSqliteStorage({ dataDir: dir }).close();
    expect(fs.existsSync(path.join(dir, 'canvas.db'))).toBe(true);
  });

  it('refuses a data directory that cannot be created (a regular file on its path)', () => {
    const base = tempDir();
    fs.writeFileSync(path.join(base, 'file'), 'x');
    // Tests run as root, for whom chmod 555 does not stop writes; a file in the path stops everyone.
    expect(startError(path.join(base, 'file', 'data')).message).toMatch(/data directory .*file\/data cannot be created/);
    expect(startError(path.join(base, 'file')).message).toMatch(/is not a directory/);
    expect(fs.readFileSync(path.join(base, 'file'), 'utf8')).toBe('x');
  });

  it('refuses a chmod 555 data directory (checked as an unprivileged user: root ignores modes)', async () => {
    const base = tempDir();
    const dir = path.join(base, 'data');
    fs.mkdirSync(dir);
    fs.chmodSync(base, 0o755);
    fs.chmodSync(dir, 0o555);
    const script = `
      const { openSqliteStorage } = await import(process.env.LIB);
      try { openSqliteStorage({ dataDir: process.env.DIR }); console.log('opened'); }
      catch (err) { console.log(err.name + ': ' + err.message); }
    `;
    const isRoot = process.getuid?.() === 0;
    const child = runChild(script, { DIR: dir }, isRoot ? { uid: 65534, gid: 65534 } : undefined);
    const { stdout, stderr } = await child.exited;
    expect(stderr).toBe('');
    expect(stdout.trim()).toMatch(/^StorageStartError: data directory .*\/data is not writable: permission denied$/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('refuses canvas.db full of random bytes, without touching it', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'canvas.db'), randomBytes(16384));
    expectRefusedUntouched(dir, /canvas\.db is not a SQLite database/);
  });

  it('refuses canvas.db with a SQLite header but garbage pages, without touching it', () => {
    const dir = tempDir();
    const bytes = randomBytes(16384);
    Buffer.from('SQLite format 3\0', 'latin1').copy(bytes, 0);
    bytes.fill(0, 16, 100); // a zero application_id: only SQLite itself can judge the rest
    fs.writeFileSync(path.join(dir, 'canvas.db'), bytes);
    expectRefusedUntouched(dir, /canvas\.db is (corrupt|not a SQLite database|a SQLite database of another application)/);
  });

  it('refuses a foreign SQLite database (no application_id, other tables), without writing to it', () => {
    const dir = tempDir();
    const db = new Database(path.join(dir, 'canvas.db'));
    db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT); INSERT INTO users (email) VALUES ('a@example.com')");
    db.close();
    expectRefusedUntouched(dir, /of another application \(no application_id, tables: users\); refusing/);
  });

  it('refuses a foreign SQLite database in WAL mode with another application_id, without writing to it', () => {
    const dir = tempDir();
    const db = new Database(path.join(dir, 'canvas.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('application_id = 1234');
    db.exec('CREATE TABLE t (x)');
    db.close();
    expectRefusedUntouched(dir, /application_id 0x4d2/);
  });

  it('refuses our database from a newer schema version', () => {
    const dir = tempDir();
    openSqliteStorage({ dataDir: dir }).close();
    const db = new Database(path.join(dir, 'canvas.db'));
    db.pragma('user_version = 99');
    db.close();
    expectRefusedUntouched(dir, /schema version 99, newer than this server's 3/);
  });

  it('refuses a database from a pre-release build whose chunk_checkpoint has no version column', () => {
    const dir = tempDir();
    openSqliteStorage({ dataDir: dir }).close();
    const db = new Database(path.join(dir, 'canvas.db'));
    db.exec('ALTER TABLE chunk_checkpoint DROP COLUMN version');
    db.close();
    expectRefusedUntouched(dir, /pre-release build \(chunk_checkpoint has no version column\)/);
  });

  it('refuses a second server on the same data directory in the same process', () => {
    const dir = tempDir();
    const first = openSqliteStorage({ dataDir: dir });
    first.commit([record(1, 1, 1)]);
    expect(startError(dir).message).toMatch(/is locked: another server is using data directory/);
    first.commit([record(2, 2, 2)]); // the first is unaffected
    first.close();
    openSqliteStorage({ dataDir: dir }).close(); // and the lock went with it
  });

  it('refuses a second server while another process holds the directory, and starts once that process is killed', async () => {
    const dir = tempDir();
    openSqliteStorage({ dataDir: dir }).close(); // an existing database, as after a first run
    const child = runChild(`
      const { openSqliteStorage } = await import(process.env.LIB);
      const storage = openSqliteStorage({ dataDir: process.env.DIR });
      process.stdout.write('holding\\n');
      setInterval(() => {}, 1000);
    `, { DIR: dir });
    try {
      await child.waitFor('holding');
      expect(startError(dir).message).toMatch(/is locked/);
    } finally {
      child.proc.kill('SIGKILL');
    }
    expect((await child.exited).signal).toBe('SIGKILL');
    // No stale lock after kill -9: the kernel released it with the process.
    const storage = openSqliteStorage({ dataDir: dir });
    storage.load(newStore());
    storage.close();
  });

  it('refuses while a fresh (just created) directory is held by another process', async () => {
    const dir = path.join(tempDir(), 'new');
    const child = runChild(`
      const { openSqliteStorage } = await import(process.env.LIB);
      openSqliteStorage({ dataDir: process.env.DIR });
      process.stdout.write('holding\\n');
      setInterval(() => {}, 1000);
    `, { DIR: dir });
    try {
      await child.waitFor('holding');
      expect(startError(dir).message).toMatch(/is locked/);
    } finally {
      child.proc.kill('SIGKILL');
      await child.exited;
    }
  });

  it('rejects a missing or too short address salt file before touching the directory', () => {
    const root = tempDir();
    const dir = path.join(root, 'never');
    const missing = path.join(root, 'no-such-salt');
    expect(() => openSqliteStorage({ dataDir: dir, saltFile: missing })).toThrow(/cannot read the address salt file .*no-such-salt/);
    const short = path.join(root, 'short-salt');
    fs.writeFileSync(short, 'abc\n');
    expect(() => openSqliteStorage({ dataDir: dir, saltFile: short })).toThrow(/holds 3 characters; it needs at least 16/);
    expect(() => openSqliteStorage({ dataDir: dir, saltFile: short })).toThrow(StorageStartError);
    expect(fs.existsSync(dir)).toBe(false);
  });
});
