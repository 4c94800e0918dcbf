/**
 * collectTimelapse reads in slices between which ticks commit: the start state must still be each pixel's
 * colour at `since` (replayed here from the whole log), and the placements exactly those in [since, until)
 * that a final read sees. Seeded fuzz over both storages; the seed is printed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChunkStore } from '../../src/chunks/chunk-store.js';
import type { CanvasStorage, PlacementRecord } from '../../src/storage/canvas-storage.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { openSqliteStorage } from '../../src/storage/sqlite-storage.js';
import { TimelapseTooLarge, collectTimelapse } from '../../src/http/timelapse-data.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('collectTimelapse while the canvas changes', () => {
  for (const kind of ['memory', 'sqlite'] as const) {
    it(`${kind}: the state at since and the placements in range, with ticks committing between slices`, async () => {
      const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 100000);
      console.log(`timelapse-data ${kind} seed ${seed}`);
      const rnd = rng(seed);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-tl-data-'));
      const storage: CanvasStorage = kind === 'memory' ? new MemoryStorage() : openSqliteStorage({ dataDir: dir, synchronous: 'NORMAL' });
      const store = new ChunkStore({ width: 256, height: 256, paletteSize: 32 });
      storage.load(store);
      const log: PlacementRecord[] = [];
      let time = 1000;
      const commit = (n: number) => {
        const batch: PlacementRecord[] = [];
        // A small area, so pixels are painted over and over, across chunk borders.
        for (let i = 0; i < n; i++) batch.push({ x: 50 + ((rnd() * 100) | 0), y: 60 + ((rnd() * 80) | 0), color: (rnd() * 32) | 0, time: time++, clientId: 1, name: 'p', ip: '10.0.0.1' });
        storage.commit(batch);
        for (const r of batch) store.set(r.x, r.y, r.color);
        store.drain();
        log.push(...batch);
      };
      try {
        commit(6000);
        for (let round = 0; round < 4; round++) {
          const x = (rnd() * 80) | 0, y = (rnd() * 80) | 0, w = 40 + ((rnd() * 120) | 0), h = 40 + ((rnd() * 120) | 0);
          const since = 1000 + ((rnd() * (time - 1000)) | 0), until = time + 500;
          const committedBefore = log.length;
          let ticking = true;
          const ticker = (async () => {
            while (ticking) {
              commit(1 + ((rnd() * 40) | 0));
              await new Promise((r) => setImmediate(r));
            }
          })();
          const d = await collectTimelapse(storage, store, x, y, w, h, since, until, { maxScanRows: 1_000_000, maxPlacements: 1_000_000 });
          ticking = false;
          await ticker;
          const expected = new Uint8Array(w * h).fill(store.background);
          for (const r of log) if (r.time < since && r.x >= x && r.x < x + w && r.y >= y && r.y < y + h) expected[(r.y - y) * w + (r.x - x)] = r.color;
          expect(Buffer.from(d.start).equals(Buffer.from(expected)), `round ${round}: start state`).toBe(true);
          // The placements read: a prefix (in log order) of those in range, reaching at least the ones committed before the call.
          const inRange = log.filter((r) => r.time >= since && r.time < until && r.x >= x && r.x < x + w && r.y >= y && r.y < y + h);
          const got = Array.from(d.xs, (px, i) => [px, d.ys[i], d.colors[i], d.times[i]]);
          expect(got, `round ${round}: placements`).toEqual(inRange.slice(0, got.length).map((r) => [r.x, r.y, r.color, r.time]));
          const inRangeBefore = inRange.filter((r) => log.indexOf(r) < committedBefore).length;
          expect(got.length, `round ${round}: placements committed before the call`).toBeGreaterThanOrEqual(inRangeBefore);
        }
      } finally {
        storage.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('refuses past its bounds', async () => {
    const storage = new MemoryStorage();
    const store = new ChunkStore({ width: 64, height: 64, paletteSize: 32 });
    storage.load(store);
    storage.commit(Array.from({ length: 500 }, (_, i) => ({ x: i % 64, y: (i / 64) | 0, color: 1, time: 1000 + i, clientId: 1, name: '', ip: 'a' })));
    await expect(collectTimelapse(storage, store, 0, 0, 64, 64, 0, 5000, { maxScanRows: 100, maxPlacements: 10_000 })).rejects.toBeInstanceOf(TimelapseTooLarge);
    await expect(collectTimelapse(storage, store, 0, 0, 64, 64, 0, 5000, { maxScanRows: 10_000, maxPlacements: 100 })).rejects.toBeInstanceOf(TimelapseTooLarge);
    const ok = await collectTimelapse(storage, store, 0, 0, 64, 64, 0, 5000, { maxScanRows: 10_000, maxPlacements: 500 });
    expect(ok.xs.length).toBe(500);
  });
});
