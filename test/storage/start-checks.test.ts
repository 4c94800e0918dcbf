/**
 * Start-up checks of the database's fit and integrity (issue 10, defect 7): a database made for another
 * canvas size, random bytes written into the file, and errors that name the file.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { prng } from '../../bench/prng.js';
import { DEFAULTS, parseConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer } from '../../src/server.js';
import { StorageError, StorageStartError } from '../../src/storage/canvas-storage.js';
import { openSqliteStorage } from '../../src/storage/sqlite-storage.js';
import { newStore, record, storePixels, tempDir, tick } from './fixtures.js';

/**
 * open + load as the server does; returns the StorageStartError (checked to be one short line naming the
 * file) or null when it started (then `loaded` gets the pixels it loaded).
 */
function startFails(dataDir: string, width: number, height: number, opts: { allowResize?: boolean } = {}, loaded?: (pixels: Uint8Array) => void): StorageStartError | null {
  let storage;
  try {
    storage = openSqliteStorage({ dataDir, ...opts });
    const store = newStore(width, height, 32);
    storage.load(store);
    loaded?.(storePixels(store));
    storage.close(store);
    return null;
  } catch (err) {
    try { storage?.close(); } catch { /* already failing */ }
    expect(err).toBeInstanceOf(StorageStartError);
    const e = err as StorageStartError;
    expect(e.message).not.toMatch(/\n/);
    expect(e.message.length).toBeLessThan(300);
    expect(e.message).toContain(path.join(path.resolve(dataDir), 'canvas.db'));
    return e;
  }
}

/** A database made for a width × height canvas, painted (checkpointed at the clean close). */
function makeDb(width: number, height: number, placements = 2000, seed = 1): string {
  return makeDbWithPixels(width, height, placements, seed).dir;
}

function makeDbWithPixels(width: number, height: number, placements: number, seed: number): { dir: string; pixels: Uint8Array } {
  const dir = tempDir();
  const storage = openSqliteStorage({ dataDir: dir, synchronous: 'NORMAL' });
  const store = newStore(width, height, 32);
  storage.load(store);
  const rnd = prng(seed);
  for (let done = 0; done < placements; done += 500) {
    const batch = Array.from({ length: 500 }, (_, i) => record(Math.floor(rnd() * width), Math.floor(rnd() * height), Math.floor(rnd() * 32), 1000 + done + i, `n${i % 7}`, i % 7));
    tick(storage, store, batch, done);
  }
  const pixels = storePixels(store);
  storage.close(store);
  return { dir, pixels };
}

describe('canvas size recorded in the database', () => {
  it('refuses a database made for 2048² opened as 4096² (and the reverse), naming the file and both sizes', () => {
    const dir = makeDb(2048, 2048);
    expect(startFails(dir, 4096, 4096)?.message).toMatch(/holds a 2048x2048 canvas, but the server is configured for 4096x4096; refusing to start .*--allow-resize/);
    expect(startFails(dir, 2048, 4096)?.message).toMatch(/holds a 2048x2048 canvas.*configured for 2048x4096/);
    expect(startFails(dir, 2048, 2048)).toBeNull(); // the size it was made for still starts
  });

  it('grows with allowResize, keeping every pixel, and records the new size', () => {
    const dir = makeDb(2048, 2048);
    const before = openSqliteStorage({ dataDir: dir });
    const small = newStore(2048, 2048, 32);
    before.load(small);
    before.close(small);
    expect(startFails(dir, 4096, 4096, { allowResize: true })).toBeNull();
    const after = openSqliteStorage({ dataDir: dir });
    const big = newStore(4096, 4096, 32);
    after.load(big);
    after.close(big);
    const a = storePixels(small), b = storePixels(big);
    for (let y = 0; y < 2048; y += 37) expect(b.subarray(y * 4096, y * 4096 + 2048)).toEqual(a.subarray(y * 2048, y * 2048 + 2048));
    expect(startFails(dir, 2048, 2048)?.message).toMatch(/holds a 4096x4096 canvas/);
  });

  it('with allowResize, still refuses to shrink over painted pixels', () => {
    const dir = makeDb(2048, 2048);
    expect(startFails(dir, 1024, 1024, { allowResize: true })?.message).toMatch(/does not fit the configured 1024x1024 canvas/);
  });

  it('the server refuses such a start with the one line; --allow-resize reaches the storage', async () => {
    const dir = makeDb(2048, 2048, 500);
    const config = { ...DEFAULTS, port: 0, host: '127.0.0.1', logLevel: 'silent', dataDir: dir, width: 4096, height: 4096 };
    await expect(startServer(config, { log: createLogger('silent') })).rejects.toThrow(/canvas\.db holds a 2048x2048 canvas, but the server is configured for 4096x4096/);
    expect(parseConfig(['--allow-resize']).allowResize).toBe(true);
    expect(parseConfig([]).allowResize).toBe(false);
    const server = await startServer({ ...config, allowResize: true }, { log: createLogger('silent') });
    await server.close();
  });
});

describe('integrity at start', () => {
  it('refuses a database with random bytes written at seeded offsets in its middle, naming the file (or loads it exactly when they hit only slack)', () => {
    const seed = Number(process.env.CORRUPT_SEED ?? Date.now() % 100_000);
    const { dir: src, pixels } = makeDbWithPixels(1024, 1024, 20_000, seed);
    const file = path.join(src, 'canvas.db');
    expect(fs.readdirSync(src).sort()).toEqual(['canvas.db', 'canvas.db.clean']); // a clean close leaves no WAL, and its stamp
    const db = new Database(file, { readonly: true });
    // No free pages (random bytes there would be harmless and unnoticed): every page holds data.
    expect(db.pragma('freelist_count', { simple: true })).toBe(0);
    db.close();
    const size = fs.statSync(file).size;
    const rnd = prng(seed);
    const offsets = Array.from({ length: 12 }, () => Math.floor(size * (0.05 + 0.9 * rnd())));
    let refused = 0;
    for (const offset of offsets) {
      const dir = tempDir();
      fs.copyFileSync(file, path.join(dir, 'canvas.db'));
      const fd = fs.openSync(path.join(dir, 'canvas.db'), 'r+');
      const junk = Buffer.from(Array.from({ length: 64 }, () => Math.floor(rnd() * 256)));
      fs.writeSync(fd, junk, 0, junk.length, offset);
      fs.closeSync(fd);
      const where = `seed ${seed} (CORRUPT_SEED=${seed} to repeat), offset ${offset} of ${size}`;
      // Bytes that land only in slack (the unused tail of an overflow page, the gap inside a b-tree page)
      // change no data: then the start must give back exactly the canvas that was written.
      let got: Uint8Array | null = null;
      const err = startFails(dir, 1024, 1024, {}, (p) => { got = p; });
      if (err === null) {
        expect(got, where).not.toBeNull();
        expect(Buffer.from(got!).equals(Buffer.from(pixels)), `${where}: started with different pixels`).toBe(true);
      } else {
        expect(err.message, where).toMatch(/is corrupt|does not fit|is not a SQLite database/);
        refused++;
      }
    }
    // Slack is ~10% of this file; most writes hit data, and every one of those must be refused.
    expect(refused, `seed ${seed}`).toBeGreaterThanOrEqual(6);
  }, 60_000);

  it('checks the whole file unless it is exactly as the last clean close left it; random bytes written in place are refused', () => {
    const dir = makeDb(1024, 1024, 5000);
    const file = path.join(dir, 'canvas.db');
    const open = () => {
      const storage = openSqliteStorage({ dataDir: dir });
      const store = newStore(1024, 1024, 32);
      storage.load(store);
      return { storage, store };
    };
    let { storage, store } = open();
    expect(storage.verifyBlobs).toBe(false); // makeDb closed it cleanly: the stamp vouches for it
    expect(fs.existsSync(`${file}.clean`)).toBe(false); // gone while the file is in use
    storage.close(store);
    // The reviewers' case: stopped cleanly, then bytes written into the middle of the file, in place.
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, randomBytes(4096), 0, 4096, Math.floor(size / 2 / 4096) * 4096 + 100);
    fs.closeSync(fd);
    const err = startFails(dir, 1024, 1024);
    expect(err?.message).toMatch(/canvas\.db is corrupt/);
    // A refused start leaves no stamp behind: it is refused again, not waved through.
    expect(startFails(dir, 1024, 1024)?.message).toMatch(/canvas\.db is corrupt/);
    // Likewise after a crash (no clean close, so no stamp): checked.
    const fresh = makeDb(256, 256, 500);
    const crashed = openSqliteStorage({ dataDir: fresh });
    crashed.load(newStore(256, 256, 32));
    crashed.commit([record(1, 1, 1)]); // …and never closed, as if killed
    expect(fs.existsSync(path.join(fresh, 'canvas.db.clean'))).toBe(false);
  });

  it('migrates a schema 1 database (no crc columns) at open, leaving its old rows unchecked and loading them', () => {
    const { dir, pixels } = makeDbWithPixels(256, 256, 2000, 3);
    const db = new Database(path.join(dir, 'canvas.db'));
    db.exec('ALTER TABLE chunk_checkpoint DROP COLUMN crc; ALTER TABLE chunk_last DROP COLUMN crc');
    db.pragma('user_version = 1');
    db.close();
    const storage = openSqliteStorage({ dataDir: dir });
    const store = newStore(256, 256, 32);
    storage.load(store);
    expect(Buffer.from(storePixels(store)).equals(Buffer.from(pixels))).toBe(true);
    storage.close(store);
    const after = new Database(path.join(dir, 'canvas.db'), { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(3); // and on through every later migration
    expect(after.prepare('SELECT count(*) FROM chunk_checkpoint WHERE crc IS NULL').pluck().get()).toBeGreaterThan(0);
    after.close();
  });

  it('skips quick_check when asked (integrityCheck: false) and still finds damaged checkpoints by their checksum', () => {
    const src = makeDb(256, 256, 2000);
    const file = path.join(src, 'canvas.db');
    const db = new Database(file);
    // Flip pixels inside a checkpoint blob through SQLite itself: structurally valid, only the crc can tell.
    db.prepare('UPDATE chunk_checkpoint SET pixels = ? WHERE rowid = (SELECT min(rowid) FROM chunk_checkpoint)').run(randomBytes(4096).map((b) => b & 15));
    db.close();
    let caught: unknown = null;
    try {
      const storage = openSqliteStorage({ dataDir: src, integrityCheck: false });
      storage.load(newStore(256, 256, 32));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(StorageStartError);
    expect((caught as Error).message).toMatch(/canvas\.db is corrupt \(checkpoint of chunk \(\d+, \d+\) fails its checksum\)/);
  });
});

describe('errors after start name the database file', () => {
  it('wraps SQLite errors from commit and history in a StorageError naming the file, with SQLite\'s code', () => {
    const dir = tempDir();
    const storage = openSqliteStorage({ dataDir: dir });
    storage.commit([record(1, 1, 1)]);
    const own = (storage as unknown as { db: Database.Database }).db;
    own.exec("CREATE TRIGGER fail BEFORE INSERT ON pixel_log BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
    let err: unknown;
    try { storage.commit([record(2, 2, 2)]); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).message).toBe(`${path.join(dir, 'canvas.db')}: commit failed: disk on fire`);
    expect((err as StorageError).code).toMatch(/^SQLITE_CONSTRAINT/);
    own.exec('DROP TRIGGER fail; DELETE FROM actor');
    expect(() => storage.history({ x0: 0, y0: 0, x1: 10, y1: 10, limit: 10 })).toThrow(`${path.join(dir, 'canvas.db')}: history failed: log row names actor 1, which does not exist`);
    // Bad queries stay RangeErrors (the API answers 400), not storage errors.
    expect(() => storage.history({ x0: 5, y0: 0, x1: 1, y1: 10, limit: 10 })).toThrow(RangeError);
    storage.close();
  });
});
