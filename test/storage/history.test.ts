/**
 * Pixel info and history, for both storages, against a naive model (the log as an array).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CanvasStorage, HistoryEntry, HistoryQuery, PlacementRecord } from '../../src/storage/canvas-storage.js';
import { decodeHistoryCursor, encodeHistoryCursor } from '../../src/storage/canvas-storage.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { openSqliteStorage } from '../../src/storage/sqlite-storage.js';
import { newStore, record, tempDir, tick } from './fixtures.js';

const kinds: [string, (opts?: { window?: number }) => CanvasStorage][] = [
  ['sqlite', (opts) => openSqliteStorage({ dataDir: tempDir(), historyScanWindow: opts?.window })],
  // The per-chunk merge alone, and the probe scan handing over to it after a few ids.
  ['sqlite (merge only)', (opts) => openSqliteStorage({ dataDir: tempDir(), historyScanWindow: opts?.window, historyProbeFactor: 0 })],
  ['sqlite (short probe)', (opts) => openSqliteStorage({ dataDir: tempDir(), historyScanWindow: opts?.window, historyProbeFactor: 1 })],
  ['memory', () => new MemoryStorage()],
];

function expected(log: readonly PlacementRecord[], q: Omit<HistoryQuery, 'limit' | 'after'>): HistoryEntry[] {
  return log
    .filter((r) => r.x >= q.x0 && r.x <= q.x1 && r.y >= q.y0 && r.y <= q.y1 && r.time >= (q.since ?? -Infinity) && r.time < (q.until ?? Infinity))
    .map((r) => ({ x: r.x, y: r.y, color: r.color, placedAt: r.time, placedBy: r.name }));
}

/** Follows `next` to the end; also checks that no page is longer than the limit. */
function allPages(storage: CanvasStorage, q: Omit<HistoryQuery, 'after'>): { entries: HistoryEntry[]; pages: number } {
  const entries: HistoryEntry[] = [];
  let after: string | undefined;
  let pages = 0;
  for (;;) {
    const page = storage.history({ ...q, after });
    pages++;
    expect(page.placements.length).toBeLessThanOrEqual(q.limit);
    entries.push(...page.placements);
    if (page.next === null) return { entries, pages };
    after = page.next;
  }
}

describe('history cursors', () => {
  it('round-trip and reject garbage', () => {
    fc.assert(fc.property(fc.maxSafeNat(), (id) => decodeHistoryCursor(encodeHistoryCursor(id)) === id));
    for (const bad of ['x1', 'h', 'h-1', 'hZZ', 'h1.5', 'h' + 'z'.repeat(20)]) expect(() => decodeHistoryCursor(bad)).toThrow(RangeError);
    expect(decodeHistoryCursor(undefined)).toBe(0);
  });
});

for (const [kind, make] of kinds) {
  describe(`${kind}: pixel info`, () => {
    it('reports the last placement of a painted pixel and nulls for a never painted one', () => {
      const storage = make();
      const store = newStore();
      storage.load(store);
      tick(storage, store, [record(3, 4, 7, 1000, 'ann'), record(3, 4, 9, 1001, 'bob'), record(100, 100, 1, 1002, '')], 0);
      expect(storage.pixelInfo(3, 4, store)).toEqual({ x: 3, y: 4, color: 9, placedAt: 1001, placedBy: 'bob' });
      expect(storage.pixelInfo(100, 100, store)).toEqual({ x: 100, y: 100, color: 1, placedAt: 1002, placedBy: '' });
      expect(storage.pixelInfo(5, 5, store)).toEqual({ x: 5, y: 5, color: 0, placedAt: null, placedBy: null });
      expect(() => storage.pixelInfo(256, 0, store)).toThrow(RangeError);
      expect(() => storage.pixelInfo(-1, 0, store)).toThrow(RangeError);
      storage.close();
    });
  });

  describe(`${kind}: history`, () => {
    it('pages through placements in commit order, with filters', () => {
      const storage = make();
      const log: PlacementRecord[] = [];
      for (let i = 0; i < 250; i++) log.push(record((i * 37) % 256, (i * 11) % 256, i % 16, 1000 + i, `n${i % 4}`));
      storage.commit(log.slice(0, 100));
      storage.commit(log.slice(100));
      const queries: Omit<HistoryQuery, 'after'>[] = [
        { x0: 0, y0: 0, x1: 255, y1: 255, limit: 7 },
        { x0: 0, y0: 0, x1: 255, y1: 255, limit: 1000 },
        { x0: 10, y0: 20, x1: 130, y1: 200, limit: 3 },
        { x0: 0, y0: 0, x1: 255, y1: 255, since: 1100, until: 1150, limit: 9 },
        { x0: 5, y0: 5, x1: 5, y1: 5, limit: 1 },
        { x0: 0, y0: 0, x1: 4095, y1: 4095, limit: 13 }, // 4096 chunks: the sqlite log scan path
      ];
      for (const q of queries) expect(allPages(storage, q).entries).toEqual(expected(log, q));
      const first = storage.history({ x0: 0, y0: 0, x1: 255, y1: 255, limit: 5 });
      expect(first.placements.map((p) => p.placedAt)).toEqual([1000, 1001, 1002, 1003, 1004]);
      expect(first.next).not.toBeNull();
      expect(storage.history({ x0: 0, y0: 0, x1: 255, y1: 255, limit: 1000 }).next).toBeNull();
      storage.close();
    });

    it('rejects malformed queries with RangeError', () => {
      const storage = make();
      const ok: HistoryQuery = { x0: 0, y0: 0, x1: 10, y1: 10, limit: 10 };
      for (const bad of [
        { ...ok, limit: 0 }, { ...ok, limit: 1001 }, { ...ok, limit: 1.5 }, { ...ok, x0: -1 }, { ...ok, x1: 65536 },
        { ...ok, x0: 11 }, { ...ok, y1: NaN }, { ...ok, after: 'nope' }, { ...ok, since: 1.5 },
      ]) expect(() => storage.history(bad), JSON.stringify(bad)).toThrow(RangeError);
      storage.close();
    });

    it('matches the naive model for random logs and queries (property)', () => {
      const rec = fc.tuple(fc.nat(383), fc.nat(255), fc.nat(15), fc.nat(50), fc.constantFrom('', 'a', 'b'));
      const query = fc.record({
        x0: fc.nat(383), y0: fc.nat(255), w: fc.nat(400), h: fc.nat(300),
        since: fc.option(fc.nat(2000), { nil: undefined }), until: fc.option(fc.nat(2000), { nil: undefined }),
        limit: fc.integer({ min: 1, max: 40 }),
      });
      fc.assert(
        fc.property(fc.array(fc.array(rec, { maxLength: 30 }), { maxLength: 8 }), fc.array(query, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 60 }), (batches, queries, window) => {
          const storage = make({ window });
          const log: PlacementRecord[] = [];
          let time = 0;
          for (const b of batches) {
            const batch = b.map(([x, y, c, dt, name]) => record(x, y, c, (time += dt), name));
            storage.commit(batch);
            log.push(...batch);
          }
          for (const q of queries) {
            const hq = { x0: q.x0, y0: q.y0, x1: Math.min(65535, q.x0 + q.w), y1: Math.min(65535, q.y0 + q.h), since: q.since, until: q.until, limit: q.limit };
            expect(allPages(storage, hq).entries).toEqual(expected(log, hq));
          }
          storage.close();
        }),
        { numRuns: 60 },
      );
    });
  });
}

describe('sqlite: history over a busy region', () => {
  // 256 chunks × 110 placements, interleaved across chunks (as a crowd paints), so every chunk holds more
  // than a page and every page draws on every chunk; `noise` placements elsewhere after each.
  function busyLog(noise: number): PlacementRecord[] {
    const log: PlacementRecord[] = [];
    for (let i = 0; i < 110; i++) {
      for (let c = 0; c < 256; c++) {
        log.push(record(64 * 100 + (c % 16) * 64 + (i % 64), 64 * 200 + (c >> 4) * 64 + ((i * 7) % 64), i % 16, 1000 + log.length, `n${c % 3}`));
        for (let k = 0; k < noise; k++) log.push(record(64 * ((c * 5 + k) % 90), 64 * 300 + ((i + k) % 64), 1, 1000 + log.length, 'z'));
      }
    }
    return log;
  }
  const limit = 100;
  const q = { x0: 6400, y0: 12800, x1: 6400 + 1023, y1: 12800 + 1023, limit };
  // Cut so chunks on the edge are partly outside the region, with since/until.
  const cut = { x0: 6400 + 30, y0: 12800 + 5, x1: 6400 + 1000, y1: 12800 + 1010, since: 1000 + 300, until: 1000 + 6_000, limit };

  it('merges per chunk exactly, reading O(page + chunks) rows, not O(page × chunks)', () => {
    const storage = openSqliteStorage({ dataDir: tempDir(), historyProbeFactor: 0 });
    const log = busyLog(0);
    storage.commit(log);
    expect(storage.history(q).placements).toEqual(expected(log, q).slice(0, limit));
    // Each of 256 chunks read ceil(101 / 256) + 1 = 2 rows first, then the merge at most 2 × 101 more.
    expect(storage.lastHistoryRowsRead).toBeLessThanOrEqual(256 * 2 + 2 * (limit + 1));
    expect(allPages(storage, cut).entries).toEqual(expected(log, cut));
    storage.close();
  });

  it('fills a page from the probe scan when the region is busy, and merges when other regions are busier', () => {
    for (const noise of [0, 12]) {
      const storage = openSqliteStorage({ dataDir: tempDir() });
      const log = busyLog(noise);
      storage.commit(log);
      expect(storage.history(q).placements).toEqual(expected(log, q).slice(0, limit));
      // The probe reads at most a page; the merge after it as above.
      expect(storage.lastHistoryRowsRead, `noise ${noise}`).toBeLessThanOrEqual(limit + 1 + 256 * 2 + 2 * (limit + 1));
      expect(allPages(storage, cut).entries).toEqual(expected(log, cut));
      storage.close();
    }
  });
});

describe('sqlite: history over a long log', () => {
  it('bounds a large-region scan per page: short pages with a cursor, never a skipped placement', () => {
    const storage = openSqliteStorage({ dataDir: tempDir(), historyScanWindow: 100 });
    const log: PlacementRecord[] = [];
    // 950 placements outside the queried region, then 50 inside it.
    for (let i = 0; i < 1000; i++) log.push(record(i < 950 ? 5000 + i : i % 256, (i * 7) % 256, 1, i, 'x'));
    storage.commit(log);
    const q = { x0: 0, y0: 0, x1: 4095, y1: 4095, limit: 1000 }; // 4096 chunks: the log scan
    const { entries, pages } = allPages(storage, q);
    expect(entries).toEqual(expected(log, q));
    expect(pages).toBe(10);
    storage.close();
  });
});

describe('both: logged time never decreases', () => {
  for (const [kind, make] of kinds) {
    it(`${kind}: clamps a clock that stepped back, so time bounds stay exact`, () => {
      const storage = make();
      storage.commit([record(1, 1, 1, 5000), record(2, 2, 2, 4000)]);
      storage.commit([record(3, 3, 3, 3000), record(4, 4, 4, 6000)]);
      const all = storage.history({ x0: 0, y0: 0, x1: 255, y1: 255, limit: 10 }).placements;
      expect(all.map((p) => p.placedAt)).toEqual([5000, 5000, 5000, 6000]);
      expect(storage.history({ x0: 0, y0: 0, x1: 255, y1: 255, since: 5001, limit: 10 }).placements.map((p) => p.x)).toEqual([4]);
      expect(storage.history({ x0: 0, y0: 0, x1: 255, y1: 255, until: 5000, limit: 10 }).placements).toEqual([]);
      storage.close();
    });
  }
});

describe('memory: bounded history', () => {
  it('keeps only the last historyCapacity placements for history, but pixel info for all', () => {
    const storage = new MemoryStorage({ historyCapacity: 10 });
    const store = newStore();
    const log: PlacementRecord[] = [];
    for (let i = 0; i < 25; i++) log.push(record(i, 0, 1, i, 'm'));
    tick(storage, store, log, 0);
    const q = { x0: 0, y0: 0, x1: 255, y1: 255, limit: 4 };
    expect(allPages(storage, q).entries).toEqual(expected(log.slice(15), q));
    expect(storage.pixelInfo(0, 0, store)).toMatchObject({ placedAt: 0, placedBy: 'm' });
    expect(storage.durable).toBe(false);
  });
});
