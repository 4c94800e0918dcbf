/**
 * Restart equivalence for resuming clients: a clean close and reopen gives back the epoch and every chunk's
 * version; a kill -9 gives a new epoch, and chunks changed by the replayed log tail get versions above their
 * checkpointed ones.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChunkStore } from '../../src/chunks/chunk-store.js';
import type { PlacementRecord } from '../../src/storage/canvas-storage.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { openSqliteStorage } from '../../src/storage/sqlite-storage.js';
import { CanvasModel, firstDifference, newStore, record, runChild, storePixels, tempDir, tick } from './fixtures.js';
import { prng } from '../../bench/prng.js';

/** "cx,cy" → version of every allocated chunk. */
function versions(store: ChunkStore): Record<string, number> {
  const out: Record<string, number> = {};
  store.forEachChunk((cx, cy, _pixels, version) => { out[`${cx},${cy}`] = version; });
  return out;
}

/** Deterministic batches over the whole 256×256 canvas (mulberry32). */
function batches(seed: number, count: number, size: number): PlacementRecord[][] {
  const rnd = prng(seed);
  return Array.from({ length: count }, (_, b) => Array.from({ length: size }, (_, i) =>
    record((rnd() * 256) | 0, (rnd() * 256) | 0, 1 + ((rnd() * 15) | 0), 1_700_000_000_000 + b * 1000 + i)));
}

describe('SqliteStorage: clean restart keeps epoch and versions', () => {
  it('gives back the same epoch, pixels and version of every chunk, across several clean restarts', () => {
    const dir = tempDir();
    const model = new CanvasModel(256, 256, 0);
    const all = batches(3, 90, 20);
    let storage = openSqliteStorage({ dataDir: dir, checkpointEvery: 170 });
    let store = newStore();
    storage.load(store);
    const epoch = storage.epoch;
    expect(Number.isInteger(epoch) && epoch >= 0 && epoch <= 0xffffffff).toBe(true);
    for (let run = 0; run < 3; run++) {
      all.slice(run * 30, run * 30 + 30).forEach((b, i) => {
        tick(storage, store, b, i);
        model.apply(b);
      });
      const before = versions(store);
      expect(Object.values(before).some((v) => v > 1)).toBe(true); // versions really moved
      storage.close(store);

      storage = openSqliteStorage({ dataDir: dir, checkpointEvery: 170 });
      store = newStore();
      storage.load(store);
      expect(storage.epoch).toBe(epoch);
      expect(storage.lastLoad!.replayed).toBe(0); // the final checkpoint covered everything
      expect(firstDifference(storePixels(store), model.pixels)).toBe(-1);
      expect(versions(store)).toEqual(before);
    }
    storage.close(store);
  });

  it('a checkpoint taken between apply and drain does not leave a stale version behind', () => {
    const dir = tempDir();
    const storage = openSqliteStorage({ dataDir: dir, checkpointEvery: 1 });
    const store = newStore();
    storage.load(store);
    tick(storage, store, [record(1, 1, 2)], 0);
    storage.commit([record(2, 2, 5)]);
    store.set(2, 2, 5);
    storage.maybeCheckpoint(store, 1); // before the drain: records the version before it
    store.drain();
    const before = versions(store);
    storage.close(store);
    const again = openSqliteStorage({ dataDir: dir });
    const restored = newStore();
    again.load(restored);
    expect(again.epoch).toBe(storage.epoch);
    expect(versions(restored)).toEqual(before);
    expect(restored.get(2, 2)).toBe(5);
    again.close();
  });

  it('close(store) counts changes applied but not drained in the version', () => {
    const dir = tempDir();
    const storage = openSqliteStorage({ dataDir: dir });
    const store = newStore();
    storage.load(store);
    tick(storage, store, [record(1, 1, 2)], 0);
    const held = store.version(0, 0);
    storage.commit([record(3, 3, 7)]);
    store.set(3, 3, 7); // applied, not drained: a client holding `held` has not seen it
    storage.close(store);
    const again = openSqliteStorage({ dataDir: dir });
    const restored = newStore();
    again.load(restored);
    expect(again.epoch).toBe(storage.epoch);
    expect(restored.version(0, 0)).toBeGreaterThan(held);
    expect(restored.get(3, 3)).toBe(7);
    again.close();
  });

  it('close() without the store after commits is not clean: the next open draws a new epoch', () => {
    const dir = tempDir();
    const storage = openSqliteStorage({ dataDir: dir });
    const store = newStore();
    storage.load(store);
    tick(storage, store, [record(1, 1, 2)], 0);
    storage.close();
    const again = openSqliteStorage({ dataDir: dir });
    expect(again.epoch).not.toBe(storage.epoch);
    again.close(); // nothing committed since open: clean
    const third = openSqliteStorage({ dataDir: dir });
    expect(third.epoch).toBe(again.epoch);
    third.close();
  });

  it('MemoryStorage draws an epoch per instance', () => {
    const epochs = new Set(Array.from({ length: 8 }, () => new MemoryStorage().epoch));
    for (const e of epochs) expect(Number.isInteger(e) && e >= 0 && e <= 0xffffffff).toBe(true);
    expect(epochs.size).toBeGreaterThan(1);
  });
});

describe('SqliteStorage: a crash gives a new epoch', () => {
  it('kill -9 after a checkpoint: new epoch, correct pixels, tail chunks above their checkpointed versions', async () => {
    const dir = tempDir();
    const early = batches(11, 20, 30);
    // The tail after the checkpoint touches only the left half, so some chunks keep their checkpointed state.
    const late = batches(12, 15, 10).map((b) => b.map((r) => ({ ...r, x: r.x & 127, time: r.time + 1e6 })));
    const batchFile = path.join(dir, 'batches.json');
    fs.writeFileSync(batchFile, JSON.stringify({ early, late }));
    const child = runChild(`
      import fs from 'node:fs';
      const { openSqliteStorage, ChunkStore } = await import(process.env.LIB);
      const { early, late } = JSON.parse(fs.readFileSync(process.env.BATCHES, 'utf8'));
      const storage = openSqliteStorage({ dataDir: process.env.DIR, checkpointIntervalMs: 1000 });
      const store = new ChunkStore({ width: 256, height: 256, paletteSize: 16 });
      storage.load(store);
      const versions = () => {
        const out = {};
        store.forEachChunk((cx, cy, _p, v) => { out[cx + ',' + cy] = v; });
        return out;
      };
      const tick = (batch, now) => {
        storage.commit(batch);
        for (const r of batch) store.set(r.x, r.y, r.color);
        store.drain();
        storage.maybeCheckpoint(store, now);
      };
      early.forEach((b, i) => tick(b, i));
      storage.maybeCheckpoint(store, 10_000); // due by time: every chunk checkpointed
      process.stdout.write('checkpointed ' + JSON.stringify({ epoch: storage.epoch, versions: versions() }) + '\\n');
      late.forEach((b, i) => tick(b, 10_001 + i)); // not due again: these stay in the log tail
      process.stdout.write('done ' + JSON.stringify(versions()) + '\\n');
      process.kill(process.pid, 'SIGKILL');
    `, { DIR: dir, BATCHES: batchFile });
    const checkpointed = JSON.parse((await child.waitFor('checkpointed ')).slice('checkpointed '.length)) as { epoch: number; versions: Record<string, number> };
    const exit = await child.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(exit.stdout).toContain('done ');

    const model = new CanvasModel(256, 256, 0);
    for (const b of [...early, ...late]) model.apply(b);
    const touched = new Set(late.flat().map((r) => `${r.x >> 6},${r.y >> 6}`));
    const storage = openSqliteStorage({ dataDir: dir });
    const store = newStore();
    storage.load(store);
    expect(storage.epoch).not.toBe(checkpointed.epoch);
    expect(storage.lastLoad!.replayed).toBe(late.flat().length);
    expect(firstDifference(storePixels(store), model.pixels)).toBe(-1);
    const restored = versions(store);
    expect(touched.size).toBeGreaterThan(0);
    for (const key of touched) expect(restored[key] ?? 0).toBeGreaterThan(checkpointed.versions[key] ?? 0);
    for (const [key, v] of Object.entries(checkpointed.versions)) {
      if (!touched.has(key)) expect(restored[key]).toBe(v);
    }
    expect(Object.keys(restored).length).toBeGreaterThan(touched.size); // some chunks were not in the tail
    storage.close();
  });

  it('kill -9 of a run that reused the epoch after a clean stop: the next open draws a new one', async () => {
    const dir = tempDir();
    const first = openSqliteStorage({ dataDir: dir });
    const store = newStore();
    first.load(store);
    tick(first, store, [record(5, 5, 3)], 0);
    first.close(store);
    const child = runChild(`
      const { openSqliteStorage, ChunkStore } = await import(process.env.LIB);
      const storage = openSqliteStorage({ dataDir: process.env.DIR });
      storage.load(new ChunkStore({ width: 256, height: 256, paletteSize: 16 }));
      process.stdout.write('epoch ' + storage.epoch + '\\n');
      process.kill(process.pid, 'SIGKILL');
    `, { DIR: dir });
    const reused = Number((await child.waitFor('epoch ')).slice('epoch '.length));
    expect((await child.exited).signal).toBe('SIGKILL');
    expect(reused).toBe(first.epoch);
    const after = openSqliteStorage({ dataDir: dir });
    expect(after.epoch).not.toBe(first.epoch);
    after.close();
  });
});
