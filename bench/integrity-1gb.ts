/**
 * What the start-up integrity checks cost on a ~1 GB canvas.db (issue 10, defect 7): builds one (12M log
 * rows, 16384 chunk checkpoints with their chunk_last blobs) in a temp dir, then times openSqliteStorage with
 * and without PRAGMA quick_check, load() (which verifies every blob's crc32), and, for comparison, the full
 * PRAGMA integrity_check. Not part of `npm run bench` (building the file takes minutes):
 *
 *   npm run build && node dist/bench/integrity-1gb.js [--rows 12000000] [--keep DIR]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { ChunkStore } from '../src/chunks/chunk-store.js';
import { CHUNK_AREA, chunkKey } from '../src/chunks/geometry.js';
import { openSqliteStorage } from '../src/storage/sqlite-storage.js';
import { checkpointCrc, lastIdsCrc } from '../src/storage/sqlite-schema.js';

const SIDE = 8192; // 128 × 128 = 16384 chunks

function build(dir: string, rows: number): void {
  const storage = openSqliteStorage({ dataDir: dir, synchronous: 'NORMAL' });
  storage.commit([{ x: 0, y: 0, color: 1, time: 1_700_000_000_000, clientId: 1, name: 'seed', ip: '10.0.0.1' }]);
  storage.close();
  const db = new Database(path.join(dir, 'canvas.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -1000000');
  const t0 = performance.now();
  // Building the chunk index once at the end sorts; keeping it up under random inserts thrashes.
  db.exec('DROP INDEX pixel_log_by_chunk');
  // Log rows in steps of 1M so progress shows; x, y anywhere on the canvas, time increasing.
  for (let done = 1; done < rows; done += 1_000_000) {
    const n = Math.min(1_000_000, rows - done);
    db.prepare(`WITH RECURSIVE s(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM s WHERE i < ?)
      INSERT INTO pixel_log (id, x, y, color, time, actor)
      SELECT i + 1, abs(random()) % ${SIDE}, abs(random()) % ${SIDE}, abs(random()) % 32, 1700000000000 + i, 1 FROM s`).run(done, done + n - 1);
    process.stdout.write(`\r${done + n} log rows, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  db.exec('CREATE INDEX pixel_log_by_chunk ON pixel_log ((y >> 6) * 1024 + (x >> 6))');
  const lastId = db.prepare('SELECT max(id) FROM pixel_log').pluck().get() as number;
  const cp = db.prepare('INSERT INTO chunk_checkpoint (chunk, cx, cy, log_id, version, pixels, crc) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const cl = db.prepare('INSERT INTO chunk_last (chunk, log_ids, crc) VALUES (?, ?, ?)');
  db.transaction(() => {
    const pixels = new Uint8Array(CHUNK_AREA);
    const ids = Buffer.alloc(CHUNK_AREA * 8);
    for (let cy = 0; cy < SIDE / 64; cy++) {
      for (let cx = 0; cx < SIDE / 64; cx++) {
        const key = chunkKey(cx, cy);
        for (let i = 0; i < CHUNK_AREA; i++) pixels[i] = (i * 7 + cx + cy) % 32;
        for (let i = 0; i < CHUNK_AREA; i++) ids.writeDoubleLE(1 + ((i * 131 + key) % lastId), i * 8);
        cp.run(key, cx, cy, lastId, 1, Buffer.from(pixels), checkpointCrc(key, lastId, 1, pixels));
        cl.run(key, ids, lastIdsCrc(key, ids));
      }
    }
    db.prepare("INSERT INTO meta (key, value) VALUES ('checkpoint_log_id', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(lastId));
    db.prepare("INSERT INTO meta (key, value) VALUES ('clean_shutdown', '1') ON CONFLICT (key) DO UPDATE SET value = excluded.value").run();
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  console.log(`\nbuilt ${(fs.statSync(path.join(dir, 'canvas.db')).size / 2 ** 30).toFixed(2)} GiB in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const r = fn();
  return [r, performance.now() - t0];
}

const { values } = parseArgs({ options: { rows: { type: 'string' }, keep: { type: 'string' } } });
const dir = values.keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'pc-1gb-'));
try {
  if (!fs.existsSync(path.join(dir, 'canvas.db'))) build(dir, Number(values.rows ?? 12_000_000));
  const size = fs.statSync(path.join(dir, 'canvas.db')).size;
  console.log(`canvas.db ${(size / 2 ** 30).toFixed(2)} GiB (OS page cache warm: it was just written or read)`);
  const start = (integrityCheck: boolean | undefined, label: string): void => {
    const [storage, openMs] = time(() => openSqliteStorage({ dataDir: dir, integrityCheck }));
    const store = new ChunkStore({ width: SIDE, height: SIDE, paletteSize: 32 });
    const [, loadMs] = time(() => storage.load(store));
    const [, closeMs] = time(() => storage.close(store));
    console.log(`${label}: open ${openMs.toFixed(0)} ms (quick_check ${storage.verifyBlobs ? 'ran' : 'skipped'}), load ${loadMs.toFixed(0)} ms, close ${closeMs.toFixed(0)} ms`);
  };
  for (let round = 0; round < 2; round++) {
    start(false, 'checks off           ');
    start(true, 'checks on            ');
    start(undefined, 'default, after a clean close');
  }
  const db = new Database(path.join(dir, 'canvas.db'), { readonly: true });
  const [, fullMs] = time(() => db.pragma('integrity_check'));
  db.close();
  console.log(`full PRAGMA integrity_check: ${fullMs.toFixed(0)} ms`);
} finally {
  if (values.keep === undefined) fs.rmSync(dir, { recursive: true, force: true });
}
