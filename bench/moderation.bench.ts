/**
 * Moderation and timelapse work on a busy log: a rollback and an undo planned over 100k placements
 * (src/storage/rollback-plan.ts), a timelapse's start state and placements, and its GIF encode
 * (src/http/timelapse.ts), for in-memory and SQLite storage.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChunkStore } from '../src/chunks/chunk-store.js';
import { DEFAULT_PALETTE } from '../src/chunks/palette.js';
import type { CanvasStorage, PlacementRecord } from '../src/storage/canvas-storage.js';
import { MemoryStorage } from '../src/storage/memory-storage.js';
import { openSqliteStorage } from '../src/storage/sqlite-storage.js';
import { planRollback } from '../src/storage/rollback-plan.js';
import { TIMELAPSE_LIMITS } from '../src/defaults.js';
import { collectTimelapse } from '../src/http/timelapse-data.js';
import { timelapseGif } from '../src/http/timelapse-encode.js';
import { prng } from './prng.js';

export async function run({ quick = false } = {}): Promise<Record<string, unknown>> {
  const n = quick ? 10_000 : 100_000;
  const out: Record<string, unknown> = {};
  for (const kind of ['memory', 'sqlite'] as const) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-bench-mod-'));
    const storage: CanvasStorage = kind === 'memory' ? new MemoryStorage() : openSqliteStorage({ dataDir: dir, synchronous: 'NORMAL' });
    const store = new ChunkStore({ width: 1024, height: 1024, paletteSize: 32 });
    storage.load(store);
    const rnd = prng(7);
    for (let b = 0; b < n / 1000; b++) {
      const batch: PlacementRecord[] = [];
      for (let i = 0; i < 1000; i++) {
        batch.push({ x: (rnd() * 256) | 0, y: (rnd() * 256) | 0, color: (rnd() * 32) | 0, time: 1000 + b * 1000 + i,
          clientId: 1 + (i % 50), name: `u${i % 50}`, ip: `10.0.0.${i % 50}` });
      }
      storage.commit(batch);
      for (const r of batch) store.set(r.x, r.y, r.color);
      store.drain();
    }
    const end = 1000 + n;
    const time = <T>(f: () => T): [T, number] => {
      const t = performance.now();
      const r = f();
      return [r, performance.now() - t];
    };
    const timeAsync = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
      const t = performance.now();
      const r = await f();
      return [r, performance.now() - t];
    };
    const [roll, rollMs] = time(() => planRollback(storage, store, { x0: 0, y0: 0, x1: 255, y1: 255, since: end - n / 10 }));
    const [undo, undoMs] = time(() => planRollback(storage, store, { x0: 0, y0: 0, x1: 1023, y1: 1023, since: end - n / 2, actor: { name: 'u7' } }));
    const [data, dataMs] = await timeAsync(() => collectTimelapse(storage, store, 0, 0, 128, 128, end - n / 10, end, TIMELAPSE_LIMITS));
    const [gif, gifMs] = time(() => timelapseGif(data, DEFAULT_PALETTE, 60, 100, 2));
    const r = {
      placements: n,
      rollbackLast10pct: { pixels: roll.candidates, rowsExamined: roll.scanned, ms: +rollMs.toFixed(1) },
      undoOneOf50NamesLastHalf: { pixels: undo.candidates, rowsExamined: undo.scanned, ms: +undoMs.toFixed(1) },
      timelapse128Last10pct: { placements: data.xs.length, ms: +dataMs.toFixed(1) },
      gif60x256sq: { bytes: gif.length, ms: +gifMs.toFixed(1) },
    };
    console.log(`moderation (${kind}): ${JSON.stringify(r)}`);
    out[kind] = r;
    storage.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
