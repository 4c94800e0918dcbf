/**
 * Durable storage costs:
 *   - commit(): µs per tick at 1, 10, 100 and 1000 placements per tick, synchronous=NORMAL and FULL (the
 *     default), in 60 Hz ticks with the maybeCheckpoint() after each (it runs the WAL checkpoints);
 *   - sustained placements/s through the whole tick (commit, apply, drain, maybeCheckpoint): SQLite NORMAL,
 *     SQLite FULL, memory;
 *   - bytes on disk per logged placement (real commits, after close);
 *   - restart (open + load) of a 1024x1024 canvas with 10M logged placements (quick: 100k), with the
 *     checkpoint state just before the next checkpoint is due (worst-case tail), and with no checkpoint at all;
 *   - a checkpoint of 256 dirty chunks, pixel info and history pages on that database.
 * Runs in the same process that wrote the files, so the OS page cache is warm: a cold restart reads more.
 *
 *   node scripts/build.mjs && node dist/bench/storage.bench.js [--quick]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { ChunkStore } from '../src/chunks/chunk-store.js';
import { CHUNK_AREA, CHUNK_SIZE, chunkKey, pixelOffset } from '../src/chunks/geometry.js';
import { DEFAULT_PALETTE } from '../src/chunks/palette.js';
import type { CanvasStorage, PlacementRecord } from '../src/storage/canvas-storage.js';
import { STORAGE_DEFAULTS } from '../src/defaults.js';
import { MemoryStorage } from '../src/storage/memory-storage.js';
import { openSqliteStorage } from '../src/storage/sqlite-storage.js';
import { DB_FILE } from '../src/storage/sqlite-schema.js';
import { prng } from './prng.js';

const SIDE = 1024;
const COLORS = DEFAULT_PALETTE.length;


/** Placements from 500 clients (names and addresses), uniform over the canvas. */
function makeBatch(rand: () => number, n: number, time: number): PlacementRecord[] {
  const batch: PlacementRecord[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const client = (rand() * 500) | 0;
    batch[i] = {
      x: (rand() * SIDE) | 0, y: (rand() * SIDE) | 0, color: (rand() * COLORS) | 0, time,
      clientId: client, name: `painter${client}`, ip: `10.1.${client >> 8}.${client & 255}`,
    };
  }
  return batch;
}

function newStore(): ChunkStore {
  return new ChunkStore({ width: SIDE, height: SIDE, paletteSize: COLORS });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pc-storage-bench-'));
}

/**
 * Per tick of `size` placements at 60 Hz (simulated clock), as the server runs them: commit (timed), apply,
 * drain, maybeCheckpoint (timed separately: it holds the WAL and chunk checkpoints).
 */
function commitCost(sync: 'NORMAL' | 'FULL', size: number, ticks: number): { p50: number; p99: number; maintP99: number } {
  const dir = tempDir();
  try {
    const storage = openSqliteStorage({ dataDir: dir, synchronous: sync });
    const store = newStore();
    storage.load(store);
    const rand = prng(size);
    const batches = Array.from({ length: ticks + 10 }, (_, i) => makeBatch(rand, size, 1_700_000_000_000 + i * 16));
    const times: number[] = [];
    const maint: number[] = [];
    for (let i = 0; i < batches.length; i++) {
      const batch = batches[i]!;
      const t0 = performance.now();
      storage.commit(batch);
      const t1 = performance.now();
      for (const r of batch) store.set(r.x, r.y, r.color);
      store.drain();
      const t2 = performance.now();
      storage.maybeCheckpoint(store, i * (1000 / 60));
      const t3 = performance.now();
      if (i >= 10) { // the first 10: warm-up
        times.push((t1 - t0) * 1000);
        maint.push((t3 - t2) * 1000);
      }
    }
    storage.close();
    times.sort((a, b) => a - b);
    maint.sort((a, b) => a - b);
    return { p50: percentile(times, 0.5), p99: percentile(times, 0.99), maintP99: percentile(maint, 0.99) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Whole ticks of `size` placements for `budgetMs`: placements per second. */
function sustained(make: (dir: string) => CanvasStorage, size: number, budgetMs: number): number {
  const dir = tempDir();
  try {
    const storage = make(dir);
    const store = newStore();
    storage.load(store);
    const rand = prng(42);
    const pool = Array.from({ length: 64 }, (_, i) => makeBatch(rand, size, 1_700_000_000_000 + i));
    let placed = 0;
    let i = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      const batch = pool[i++ % pool.length]!;
      storage.commit(batch);
      for (const r of batch) store.set(r.x, r.y, r.color);
      store.drain();
      storage.maybeCheckpoint(store, performance.now());
      placed += batch.length;
      elapsed = performance.now() - start;
    } while (elapsed < budgetMs);
    storage.close(store);
    return (placed / elapsed) * 1000;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `total` placements committed for real (ticks of 500, checkpoints as configured by default), then closed:
 * bytes on disk per placement, overall and for the log alone (table + chunk index, from dbstat).
 */
function diskUse(total: number): { file: number; log: number; breakdown: Record<string, number> } {
  const dir = tempDir();
  try {
    const storage = openSqliteStorage({ dataDir: dir });
    const store = newStore();
    storage.load(store);
    const rand = prng(9);
    for (let done = 0, t = 0; done < total; done += 500, t++) {
      const batch = makeBatch(rand, 500, 1_700_000_000_000 + t * 16);
      storage.commit(batch);
      for (const r of batch) store.set(r.x, r.y, r.color);
      store.drain();
      storage.maybeCheckpoint(store, t * 16);
    }
    storage.close(store);
    const file = path.join(dir, DB_FILE);
    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name').all() as { name: string; bytes: number }[];
    db.close();
    const breakdown = Object.fromEntries(rows.map((r) => [r.name, r.bytes / total]));
    return { file: fs.statSync(file).size / total, log: (breakdown['pixel_log'] ?? 0) + (breakdown['pixel_log_by_chunk'] ?? 0), breakdown };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A 1024² canvas database with `rows` logged placements, written in bulk (straight SQL, one transaction,
 * the chunk index built after the rows), checkpointed at `rows - tail`. Placement i is a fixed function of i,
 * so the expected canvas is computed without reading the log back. Returns the expected pixels.
 */
function buildLargeDb(dir: string, rows: number, tail: number): Uint8Array {
  openSqliteStorage({ dataDir: dir }).close(); // our schema, stamped
  const db = new Database(path.join(dir, DB_FILE));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144');
  // Placement i: h = 48271·i mod (2^31 − 1) (a Lehmer sequence), x = h mod 1024, y = ⌊h / 1024⌋ mod 1024,
  // colour = ⌊h / 2^20⌋ mod 32, actor = i mod 1000 + 1. Exact in both SQLite and JS doubles (48271·10^7 < 2^53).
  const posOf = (i: number): { x: number; y: number; color: number } => {
    const h = (48271 * i) % 2147483647;
    return { x: h % 1024, y: Math.floor(h / 1024) % 1024, color: Math.floor(h / 1048576) % COLORS };
  };
  const indexSql = db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'pixel_log_by_chunk'").pluck().get() as string;
  db.transaction(() => {
    const actor = db.prepare('INSERT INTO actor (id, client_id, name, ip_hash) VALUES (?, ?, ?, ?)');
    for (let a = 1; a <= 1000; a++) actor.run(a, a, `painter${a}`, Buffer.alloc(STORAGE_DEFAULTS.ipHashBytes, a & 255));
    db.exec('DROP INDEX pixel_log_by_chunk');
    db.prepare(`
      WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?)
      INSERT INTO pixel_log (id, x, y, color, time, actor)
      SELECT i, ((48271 * i) % 2147483647) % 1024, (((48271 * i) % 2147483647) / 1024) % 1024,
             (((48271 * i) % 2147483647) / 1048576) % ${COLORS}, 1700000000000 + i * 5, i % 1000 + 1 FROM s`).run(rows);
    db.exec(indexSql);
  })();

  // The checkpoint at `horizon`, as SqliteStorage writes it: pixels and each pixel's latest log id per chunk.
  const pixels = new Uint8Array(SIDE * SIDE);
  const lastIds = new Float64Array(SIDE * SIDE);
  const horizon = rows - tail;
  const chunks = new Map<number, { pixels: Buffer; ids: Buffer }>();
  for (let i = 1; i <= rows; i++) {
    const { x, y, color } = posOf(i);
    pixels[y * SIDE + x] = color;
    lastIds[y * SIDE + x] = i;
    if (i === horizon) {
      for (let cy = 0; cy < SIDE / CHUNK_SIZE; cy++) {
        for (let cx = 0; cx < SIDE / CHUNK_SIZE; cx++) {
          const c = Buffer.alloc(CHUNK_AREA);
          const ids = Buffer.alloc(CHUNK_AREA * 8);
          for (let ly = 0; ly < CHUNK_SIZE; ly++) {
            for (let lx = 0; lx < CHUNK_SIZE; lx++) {
              const at = (cy * CHUNK_SIZE + ly) * SIDE + cx * CHUNK_SIZE + lx;
              c[ly * CHUNK_SIZE + lx] = pixels[at]!;
              ids.writeDoubleLE(lastIds[at]!, (ly * CHUNK_SIZE + lx) * 8);
            }
          }
          chunks.set(chunkKey(cx, cy), { pixels: c, ids });
        }
      }
    }
  }
  if (horizon > 0) {
    db.transaction(() => {
      const cp = db.prepare('INSERT INTO chunk_checkpoint (chunk, cx, cy, log_id, pixels) VALUES (?, ?, ?, ?, ?)');
      const last = db.prepare('INSERT INTO chunk_last (chunk, log_ids) VALUES (?, ?)');
      for (const [key, c] of chunks) {
        cp.run(key, key % 1024, Math.floor(key / 1024), horizon, c.pixels);
        last.run(key, c.ids);
      }
      db.prepare("INSERT INTO meta (key, value) VALUES ('checkpoint_log_id', ?)").run(String(horizon));
    })();
  }
  db.close();
  return pixels;
}

function samePixels(store: ChunkStore, want: Uint8Array): boolean {
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const c = store.chunkPixels(x >> 6, y >> 6);
      if ((c === null ? 0 : c[pixelOffset(x, y)]!) !== want[y * SIDE + x]) return false;
    }
  }
  return true;
}

/** open + load, ms; checks the result against the expected canvas. */
function restart(dir: string, want: Uint8Array): { ms: number; replayed: number } {
  const t0 = performance.now();
  const storage = openSqliteStorage({ dataDir: dir });
  const store = newStore();
  storage.load(store);
  const ms = performance.now() - t0;
  const replayed = storage.lastLoad!.replayed;
  storage.close();
  if (!samePixels(store, want)) throw new Error('restart bench: restored canvas differs from the expected one');
  return { ms, replayed };
}

export async function run(opts: { quick?: boolean } = {}): Promise<Record<string, number>> {
  const quick = opts.quick ?? false;
  const results: Record<string, number> = {};

  // 1. Commit cost per tick.
  const commitRows: Record<string, Record<string, string>> = {};
  for (const size of [1, 10, 100, 1000]) {
    const row: Record<string, string> = {};
    for (const sync of ['NORMAL', 'FULL'] as const) {
      const ticks = quick ? 120 : size >= 1000 ? 600 : 1200;
      const c = commitCost(sync, size, ticks);
      results[`commit.${sync}.${size}px.p50_us`] = c.p50;
      results[`commit.${sync}.${size}px.p99_us`] = c.p99;
      results[`maybeCheckpoint.${sync}.${size}px.p99_us`] = c.maintP99;
      row[`${sync} p50 µs`] = c.p50.toFixed(0);
      row[`${sync} p99 µs`] = c.p99.toFixed(0);
      row[`${sync} maybeCheckpoint p99 µs`] = c.maintP99.toFixed(0);
      if (sync === 'NORMAL') row['NORMAL µs/px'] = (c.p50 / size).toFixed(1);
    }
    commitRows[`${size} px/tick`] = row;
  }

  // 2. Sustained throughput through whole ticks of 500 placements.
  const budget = quick ? 400 : 3000;
  const normal = sustained((dir) => openSqliteStorage({ dataDir: dir, synchronous: 'NORMAL' }), 500, budget);
  const full = sustained((dir) => openSqliteStorage({ dataDir: dir, synchronous: 'FULL' }), 500, budget);
  const memory = sustained(() => new MemoryStorage(), 500, budget);
  results['sustained.sqlite_normal.placements_per_s'] = normal;
  results['sustained.sqlite_full.placements_per_s'] = full;
  results['sustained.memory.placements_per_s'] = memory;
  const disk = diskUse(quick ? 200_000 : 2_000_000);
  results['disk.bytes_per_placement'] = disk.file;
  results['disk.log_bytes_per_placement'] = disk.log;

  // 3. Restart with a long log.
  const rows = quick ? 100_000 : 10_000_000;
  const tail = Math.min(rows, STORAGE_DEFAULTS.checkpointEvery);
  const dir = tempDir();
  let restartRows: Record<string, Record<string, string>>;
  try {
    let t0 = performance.now();
    const want = buildLargeDb(dir, rows, tail);
    const buildMs = performance.now() - t0;
    const dbBytes = fs.statSync(path.join(dir, DB_FILE)).size;
    const first = restart(dir, want);
    const second = restart(dir, want);
    results['restart.rows'] = rows;
    results['restart.with_checkpoints_ms'] = Math.min(first.ms, second.ms);
    results['restart.tail_rows'] = first.replayed;
    results['disk.bulk_db_bytes_per_placement'] = dbBytes / rows;

    // 4. Operations on the large database.
    const storage = openSqliteStorage({ dataDir: dir });
    const store = newStore();
    storage.load(store);
    storage.maybeCheckpoint(store, 0); // starts the clock; the replayed tail left every chunk dirty
    t0 = performance.now();
    storage.close(store); // final checkpoint: all 256 chunks
    const checkpointMs = performance.now() - t0;
    const s2 = openSqliteStorage({ dataDir: dir });
    s2.load(store);
    const rand = prng(7);
    const n = quick ? 2000 : 20000;
    t0 = performance.now();
    for (let i = 0; i < n; i++) s2.pixelInfo((rand() * SIDE) | 0, (rand() * SIDE) | 0, store);
    const pixelInfoUs = ((performance.now() - t0) / n) * 1000;
    const page = (q: { x0: number; y0: number; x1: number; y1: number }, since?: number): number => {
      const t = performance.now();
      for (let i = 0; i < 10; i++) s2.history({ ...q, since, limit: 1000 });
      return (performance.now() - t) / 10;
    };
    const historySmall = page({ x0: 100, y0: 100, x1: 163, y1: 163 });
    const historyLarge = page({ x0: 0, y0: 0, x1: SIDE - 1, y1: SIDE - 1 });
    const historyRecent = page({ x0: 0, y0: 0, x1: SIDE - 1, y1: SIDE - 1 }, 1_700_000_000_000 + (rows - 500) * 5);
    s2.close();
    results['checkpoint.256_chunks_ms'] = checkpointMs;
    results['pixel_info_us'] = pixelInfoUs;
    results['history.64x64_region_page_ms'] = historySmall;
    results['history.whole_canvas_page_ms'] = historyLarge;
    results['history.whole_canvas_recent_since_page_ms'] = historyRecent;

    // 5. The same database without its checkpoints: the whole log is replayed.
    const raw = new Database(path.join(dir, DB_FILE));
    raw.exec("DELETE FROM chunk_checkpoint; DELETE FROM chunk_last; DELETE FROM meta WHERE key = 'checkpoint_log_id'");
    raw.close();
    const noCheckpoint = restart(dir, want);
    results['restart.no_checkpoint_ms'] = noCheckpoint.ms;

    restartRows = {
      [`${rows.toLocaleString('en-US')} rows, tail ${first.replayed.toLocaleString('en-US')}`]: { 'open+load ms': Math.min(first.ms, second.ms).toFixed(0) },
      [`${rows.toLocaleString('en-US')} rows, no checkpoint`]: { 'open+load ms': noCheckpoint.ms.toFixed(0) },
    };
    console.log(`(bulk-built ${rows.toLocaleString('en-US')} rows in ${(buildMs / 1000).toFixed(1)} s, ${(dbBytes / 1e6).toFixed(0)} MB)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  console.log(`Storage${quick ? ' (quick)' : ''}: commit() per tick, in 60 Hz ticks (and the maybeCheckpoint() after it)`);
  console.table(commitRows);
  console.log('Sustained, whole ticks of 500 placements (commit + apply + drain + maybeCheckpoint):');
  console.table({
    'SQLite NORMAL': { 'placements/s': Math.round(normal).toLocaleString('en-US') },
    'SQLite FULL': { 'placements/s': Math.round(full).toLocaleString('en-US') },
    memory: { 'placements/s': Math.round(memory).toLocaleString('en-US') },
  });
  const parts = Object.entries(disk.breakdown).filter(([, b]) => b >= 0.05).map(([n, b]) => `${n} ${b.toFixed(1)}`).join(', ');
  console.log(
    `Disk, ${(quick ? 200_000 : 2_000_000).toLocaleString('en-US')} real commits on 1024²: ${disk.file.toFixed(1)} bytes per placement in canvas.db ` +
      `(log + chunk index ${disk.log.toFixed(1)}; by table: ${parts}); ${results['disk.bulk_db_bytes_per_placement']!.toFixed(1)} in the bulk-built 1024² log`,
  );
  console.log('Restart (open + load), 1024x1024:');
  console.table(restartRows);
  console.log(
    `Checkpoint of 256 chunks ${results['checkpoint.256_chunks_ms']!.toFixed(1)} ms; pixel info ${results['pixel_info_us']!.toFixed(1)} µs; ` +
      `history page of 1000: 64x64 region ${results['history.64x64_region_page_ms']!.toFixed(1)} ms, whole canvas ` +
      `${results['history.whole_canvas_page_ms']!.toFixed(1)} ms, whole canvas since the last 500 ${results['history.whole_canvas_recent_since_page_ms']!.toFixed(1)} ms`,
  );
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run({ quick: process.argv.includes('--quick') });
}
