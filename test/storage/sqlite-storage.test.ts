import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChunkStore } from '../../src/chunks/chunk-store.js';
import { type CanvasStorage, type PlacementRecord, hashIp } from '../../src/storage/canvas-storage.js';
import { openSqliteStorage } from '../../src/storage/sqlite-storage.js';
import { APPLICATION_ID, SCHEMA_VERSION } from '../../src/storage/sqlite-schema.js';
import {
  CanvasModel, firstDifference, newStore, readLog, record, runChild, storePixels, tempDir, tick,
} from './fixtures.js';
import { prng } from '../../bench/prng.js';

/** Deterministic pseudo-random batches (mulberry32), so a child process and the test agree on them. */
function batches(seed: number, count: number, size: number, width: number, height: number, palette: number): PlacementRecord[][] {
  const rnd = prng(seed);
  const out: PlacementRecord[][] = [];
  for (let b = 0; b < count; b++) {
    const batch: PlacementRecord[] = [];
    for (let i = 0; i < size; i++) {
      batch.push(record((rnd() * width) | 0, (rnd() * height) | 0, (rnd() * palette) | 0, 1_700_000_000_000 + b * 1000 + i, `u${(rnd() * 5) | 0}`, b % 7, `10.0.0.${b % 3}`));
    }
    out.push(batch);
  }
  return out;
}

describe('SqliteStorage: restart', () => {
  it('restores identical pixels and an identical log after close and reopen', () => {
    const dir = tempDir();
    const model = new CanvasModel(256, 256, 0);
    const committed: PlacementRecord[] = [];
    let storage = openSqliteStorage({ dataDir: dir, checkpointEvery: 300 });
    let store = newStore();
    storage.load(store);
    const all = batches(1, 40, 25, 256, 256, 16);
    all.forEach((b, i) => {
      tick(storage, store, b, i);
      model.apply(b);
      committed.push(...b);
    });
    storage.close(store);

    storage = openSqliteStorage({ dataDir: dir });
    store = newStore();
    storage.load(store);
    expect(firstDifference(storePixels(store), model.pixels)).toBe(-1);
    expect(readLog(storage, 256, 256, 37)).toEqual(committed.map((r) => ({ x: r.x, y: r.y, color: r.color, placedAt: r.time, placedBy: r.name })));
    storage.close();
  });

  it('restarts from the log alone when no checkpoint was ever written', () => {
    const dir = tempDir();
    const storage = openSqliteStorage({ dataDir: dir });
    const all = batches(2, 5, 50, 256, 256, 16);
    const model = new CanvasModel(256, 256, 3);
    for (const b of all) { storage.commit(b); model.apply(b); }
    storage.close(); // no store: no final checkpoint

    const again = openSqliteStorage({ dataDir: dir });
    const store = newStore(256, 256, 16, 3);
    again.load(store);
    expect(again.lastLoad).toMatchObject({ checkpoints: 0, replayed: 250 });
    expect(firstDifference(storePixels(store), model.pixels)).toBe(-1);
    again.close();
  });

  it('replays only the tail after the last checkpoint', () => {
    const dir = tempDir();
    const storage = openSqliteStorage({ dataDir: dir, checkpointEvery: 100, checkpointIntervalMs: 1e12 });
    const store = newStore();
    storage.load(store);
    const all = batches(3, 13, 10, 256, 256, 16);
    all.forEach((b, i) => tick(storage, store, b, i)); // checkpoints at 10 batches = 100 placements; 30 in the tail
    storage.close();

    const again = openSqliteStorage({ dataDir: dir });
    const restored = newStore();
    again.load(restored);
    expect(again.lastLoad?.replayed).toBe(30);
    expect(firstDifference(storePixels(restored), storePixels(store))).toBe(-1);
    again.close();
  });

  it('checkpoints a chunk painted back to the background (never allocated) as no checkpoint', () => {
    const dir = tempDir();
    const storage = openSqliteStorage({ dataDir: dir, checkpointEvery: 1 });
    let store = newStore();
    storage.load(store);
    tick(storage, store, [record(5, 5, 0)], 0); // background on an unallocated chunk: the store allocates nothing
    tick(storage, store, [record(70, 5, 4)], 1);
    storage.close(store);
    const again = openSqliteStorage({ dataDir: dir });
    store = newStore();
    again.load(store);
    expect(store.get(70, 5)).toBe(4);
    expect(store.chunkPixels(0, 0)).toBeNull();
    again.close();
  });

  it('does not take a checkpoint between commit and apply (it would claim rows the store lacks)', () => {
    const dir = tempDir();
    const storage = openSqliteStorage({ dataDir: dir, checkpointEvery: 1 });
    const store = newStore();
    storage.load(store);
    tick(storage, store, [record(1, 1, 2)], 0);
    storage.commit([record(2, 2, 5)]);
    storage.maybeCheckpoint(store, 1); // wrong order: must not checkpoint now
    storage.close(store); // nor here
    const again = openSqliteStorage({ dataDir: dir });
    const restored = newStore();
    again.load(restored);
    expect(restored.get(1, 1)).toBe(2);
    expect(restored.get(2, 2)).toBe(5);
    again.close();
  });

  it('refuses to load into a canvas the data does not fit, with a clear message', () => {
    const dir = tempDir();
    const storage = openSqliteStorage({ dataDir: dir });
    storage.commit([record(200, 200, 12)]);
    storage.close();
    const again = openSqliteStorage({ dataDir: dir });
    expect(() => again.load(newStore(128, 128, 16))).toThrow(/does not fit the configured 128x128 canvas/);
    expect(() => again.load(newStore(256, 256, 8))).toThrow(/does not fit/);
    again.load(newStore(512, 512, 16)); // a larger canvas is fine
    expect(() => again.load(newStore(256, 256, 16, 1))).toThrow(/made with background colour 0, not 1/);
    again.close();
  });

  it('stamps application_id and user_version, uses WAL, and keeps addresses only as salted hashes', () => {
    const dir = tempDir();
    const storage = openSqliteStorage({ dataDir: dir });
    const own = (storage as unknown as { db: Database.Database }).db;
    expect(own.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(own.pragma('locking_mode', { simple: true })).toBe('exclusive');
    storage.commit([record(1, 1, 1, 5, 'bob', 9, '198.51.100.23')]);
    storage.close();
    const db = new Database(path.join(dir, 'canvas.db'), { readonly: true });
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const actor = db.prepare('SELECT client_id, name, ip_hash FROM actor').get() as { client_id: number; name: string; ip_hash: Buffer };
    expect(actor.client_id).toBe(9);
    expect(actor.name).toBe('bob');
    expect(actor.ip_hash.length).toBe(8);
    const bytes = fs.readFileSync(path.join(dir, 'canvas.db'));
    expect(bytes.includes(Buffer.from('198.51.100.23'))).toBe(false);
    db.close();
  });

  it('keeps the salt across restarts, so the same address hashes the same', () => {
    const dir = tempDir();
    let s = openSqliteStorage({ dataDir: dir });
    s.commit([record(1, 1, 1, 5, 'a', 1, '192.0.2.1')]);
    s.close();
    s = openSqliteStorage({ dataDir: dir });
    s.commit([record(1, 1, 1, 5, 'a', 2, '192.0.2.1')]);
    s.close();
    const db = new Database(path.join(dir, 'canvas.db'), { readonly: true });
    const hashes = db.prepare('SELECT ip_hash FROM actor ORDER BY id').pluck().all() as Buffer[];
    expect(hashes).toHaveLength(2);
    expect(hashes[0]!.equals(hashes[1]!)).toBe(true);
    db.close();
  });
});

describe('SqliteStorage: address salt file', () => {
  it('hashes with the salt from the file, keeps it out of the database, and finds the address by it', () => {
    const root = tempDir();
    const dir = path.join(root, 'data');
    const saltFile = path.join(root, 'salt');
    const secret = 'a-secret-salt-of-32-characters!!';
    fs.writeFileSync(saltFile, `${secret}\n`);
    const s = openSqliteStorage({ dataDir: dir, saltFile });
    s.commit([record(1, 1, 1, 5, 'a', 1, '192.0.2.1'), record(2, 2, 2, 6, 'b', 2, '192.0.2.2')]);
    const page = s.scanPlacements({ x0: 0, y0: 0, x1: 10, y1: 10, since: 0, afterId: 0, limit: 10, actor: { ip: '192.0.2.1' } });
    expect(page.entries.map((e) => [e.x, e.byActor])).toEqual([[1, true]]);
    s.close();
    const db = new Database(path.join(dir, 'canvas.db'), { readonly: true });
    const hashes = db.prepare('SELECT ip_hash FROM actor ORDER BY id').pluck().all() as Buffer[];
    expect(hashes[0]!.equals(hashIp(secret, '192.0.2.1'))).toBe(true);
    expect(db.prepare("SELECT value FROM meta WHERE key = 'ip_salt'").pluck().get()).toBeUndefined();
    db.close();
    expect(fs.readFileSync(path.join(dir, 'canvas.db')).includes(Buffer.from(secret))).toBe(false);
  });
});

describe('SqliteStorage: commit', () => {
  it('writes nothing when a record is unstorable, and throws', () => {
    const dir = tempDir();
    const storage = openSqliteStorage({ dataDir: dir });
    storage.commit([record(1, 1, 1)]);
    expect(() => storage.commit([record(2, 2, 2), record(-1, 0, 1)])).toThrow(RangeError);
    expect(() => storage.commit([record(2, 2, 2), record(3, 3, 256)])).toThrow(RangeError);
    expect(readLog(storage, 256, 256)).toHaveLength(1);
    storage.close();
  });

  it('rolls back the whole batch when the transaction fails midway, and stays usable', () => {
    const dir = tempDir();
    const storage = openSqliteStorage({ dataDir: dir });
    storage.commit([record(1, 1, 1, 1, 'a', 1, '192.0.2.1')]);
    // Make the second insert of the next batch fail inside the transaction.
    const db = (storage as unknown as { db: Database.Database }).db;
    db.exec("CREATE TRIGGER fail BEFORE INSERT ON pixel_log WHEN NEW.x = 99 BEGIN SELECT RAISE(ABORT, 'injected'); END");
    expect(() => storage.commit([record(2, 2, 2, 2, 'new-actor', 5, '192.0.2.9'), record(99, 1, 1)])).toThrow(/injected/);
    db.exec('DROP TRIGGER fail');
    expect(readLog(storage, 256, 256).map((p) => p.x)).toEqual([1]);
    // The actor inserted in the rolled-back transaction must not be cached as existing.
    storage.commit([record(3, 3, 3, 3, 'new-actor', 5, '192.0.2.9')]);
    expect(readLog(storage, 256, 256).map((p) => p.placedBy)).toEqual(['a', 'new-actor']);
    storage.close();
  });

  it('an empty batch is a no-op', () => {
    const storage = openSqliteStorage({ dataDir: tempDir() });
    storage.commit([]);
    expect(readLog(storage, 256, 256)).toEqual([]);
    storage.close();
  });
});

describe('SqliteStorage: crash', () => {
  it('keeps every committed placement when the process is killed with SIGKILL (no close)', async () => {
    const dir = tempDir();
    const all = batches(7, 60, 40, 256, 256, 16);
    const batchFile = path.join(dir, 'batches.json');
    fs.writeFileSync(batchFile, JSON.stringify(all));
    const child = runChild(`
      import fs from 'node:fs';
      const { openSqliteStorage, ChunkStore } = await import(process.env.LIB);
      const all = JSON.parse(fs.readFileSync(process.env.BATCHES, 'utf8'));
      const storage = openSqliteStorage({ dataDir: process.env.DIR, checkpointEvery: 500 });
      const store = new ChunkStore({ width: 256, height: 256, paletteSize: 16 });
      storage.load(store);
      all.forEach((batch, i) => {
        storage.commit(batch);
        process.stdout.write('accepted ' + i + '\\n');
        for (const r of batch) store.set(r.x, r.y, r.color);
        store.drain();
        storage.maybeCheckpoint(store, i);
      });
      process.stdout.write('done\\n');
      process.kill(process.pid, 'SIGKILL');
    `, { DIR: dir, BATCHES: batchFile });
    const exit = await child.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(exit.stdout).toContain('done');
    expect(fs.existsSync(path.join(dir, 'canvas.db-wal'))).toBe(true); // it really died without closing

    const model = new CanvasModel(256, 256, 0);
    for (const b of all) model.apply(b);
    const storage = openSqliteStorage({ dataDir: dir });
    const store = newStore();
    storage.load(store);
    expect(storage.lastLoad!.checkpoints).toBeGreaterThan(0);
    expect(storage.lastLoad!.replayed).toBeGreaterThan(0);
    expect(firstDifference(storePixels(store), model.pixels)).toBe(-1);
    expect(readLog(storage, 256, 256)).toHaveLength(60 * 40);
    storage.close();
  });
});

/** Pixel info of every painted pixel and a few never painted ones matches the model. */
function expectPixelInfo(storage: CanvasStorage, store: ChunkStore, model: CanvasModel): void {
  for (const pos of model.last.keys()) {
    const x = pos % model.width, y = Math.floor(pos / model.width);
    expect(storage.pixelInfo(x, y, store)).toEqual(model.info(x, y));
  }
  for (const [x, y] of [[0, 0], [model.width - 1, model.height - 1], [65, 70]] as const) {
    expect(storage.pixelInfo(x, y, store)).toEqual(model.info(x, y));
  }
}

describe('SqliteStorage: checkpoint + tail replay (property)', () => {
  type Step = { kind: 'batch'; batch: [number, number, number][] } | { kind: 'advance'; ms: number } | { kind: 'restart' };
  const W = 192, H = 128, P = 8;
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('batch' as const), batch: fc.array(fc.tuple(fc.nat(W - 1), fc.nat(H - 1), fc.nat(P - 1)), { minLength: 1, maxLength: 12 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.nat(2000) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const) }) },
  );

  it('load and pixel info always equal the naive model, whatever the checkpoint moments', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), fc.integer({ min: 1, max: 40 }), fc.nat(P - 1), (steps, every, background) => {
        const dir = tempDir();
        const model = new CanvasModel(W, H, background);
        const open = () => openSqliteStorage({ dataDir: dir, checkpointEvery: every, checkpointIntervalMs: 1000 });
        let storage = open();
        let store = newStore(W, H, P, background);
        storage.load(store);
        let now = 0;
        let time = 1;
        try {
          for (const s of steps) {
            if (s.kind === 'batch') {
              const batch = s.batch.map(([x, y, c]) => record(x, y, c, time++, `n${time % 5}`));
              tick(storage, store, batch, now);
              model.apply(batch);
            } else if (s.kind === 'advance') {
              now += s.ms;
              storage.maybeCheckpoint(store, now);
            } else {
              storage.close(); // without the store: no final checkpoint, the tail must be replayed
              storage = open();
              store = newStore(W, H, P, background);
              storage.load(store);
              expect(firstDifference(storePixels(store), model.pixels)).toBe(-1);
            }
            expectPixelInfo(storage, store, model);
          }
        } finally {
          storage.close();
        }
        const check = open();
        const restored = newStore(W, H, P, background);
        check.load(restored);
        expect(firstDifference(storePixels(restored), model.pixels)).toBe(-1);
        expectPixelInfo(check, restored, model);
        check.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 40 },
    );
  });
});
