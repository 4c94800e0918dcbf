/**
 * The schema's pieces on their own: the chunk-key SQL agrees with geometry.pixelChunkKey and keeps the exact
 * text databases on disk were indexed with; the chunk_last blob round-trips; the row checksums see a change.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { CHUNK_AREA, MAX_CANVAS_SIDE, pixelChunkKey } from '../../src/chunks/geometry.js';
import { CHUNK_KEY_SQL, checkpointCrc, decodeLastIds, encodeLastIds, lastIdsCrc } from '../../src/storage/sqlite-schema.js';
import { prng } from '../../bench/prng.js';

describe('sqlite-schema', () => {
  it('spells the chunk key exactly as the index of existing databases does', () => {
    // SQLite matches an expression index by its text: a different spelling would break INDEXED BY on old files.
    expect(CHUNK_KEY_SQL).toBe('(y >> 6) * 1024 + (x >> 6)');
  });

  it('computes in SQL the same chunk key as pixelChunkKey (seeded)', () => {
    const seed = Date.now() >>> 0;
    console.log(`sqlite-schema chunk key seed ${seed}`);
    const rnd = prng(seed);
    const db = new Database(':memory:');
    const stmt = db.prepare(`SELECT ${CHUNK_KEY_SQL} FROM (SELECT ? AS x, ? AS y)`).pluck();
    const corners = [[0, 0], [MAX_CANVAS_SIDE - 1, MAX_CANVAS_SIDE - 1], [63, 64], [64, 63]];
    for (let i = 0; i < 500; i++) corners.push([(rnd() * MAX_CANVAS_SIDE) | 0, (rnd() * MAX_CANVAS_SIDE) | 0]);
    for (const [x, y] of corners) expect(stmt.get(x, y), `(${x}, ${y}) seed ${seed}`).toBe(pixelChunkKey(x!, y!));
    db.close();
  });

  it('round-trips a chunk_last blob and refuses one of the wrong size', () => {
    const ids = new Float64Array(CHUNK_AREA);
    for (let i = 0; i < CHUNK_AREA; i += 7) ids[i] = 2 ** 53 - i;
    const blob = encodeLastIds(ids);
    expect(blob.length).toBe(CHUNK_AREA * 8);
    expect(decodeLastIds(blob)).toEqual(ids);
    expect(() => decodeLastIds(blob.subarray(8))).toThrow(/expected 32768/);
  });

  it('gives a different checksum when the key, log id, version or any byte differs', () => {
    const pixels = new Uint8Array(CHUNK_AREA).fill(3);
    const base = checkpointCrc(5, 100, 7, pixels);
    expect(checkpointCrc(6, 100, 7, pixels)).not.toBe(base);
    expect(checkpointCrc(5, 101, 7, pixels)).not.toBe(base);
    expect(checkpointCrc(5, 100, 8, pixels)).not.toBe(base);
    const changed = pixels.slice();
    changed[4095] = 4;
    expect(checkpointCrc(5, 100, 7, changed)).not.toBe(base);
    const blob = encodeLastIds(new Float64Array(CHUNK_AREA));
    expect(lastIdsCrc(1, blob)).not.toBe(lastIdsCrc(2, blob));
  });
});
