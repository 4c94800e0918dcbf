/**
 * The Redis snapshot's pure core: encode → parse round trip, and the diff that brings any store to the
 * snapshot's canvas and versions (fast-check; seed and path printed on failure, replay with
 * `fc.assert(prop, { seed, path })`).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChunkStore } from '../../src/chunks/chunk-store.js';
import { CHUNK_AREA, chunkKey, keyCx, keyCy } from '../../src/chunks/geometry.js';
import { diffToSnapshot, parseSnapshot, snapshotFields } from '../../src/cluster/canvas-snapshot.js';
import type { PlacementRecord } from '../../src/storage/canvas-storage.js';

const SIDE = 192; // 3 × 3 chunks
const paint = fc.array(fc.record({ x: fc.nat({ max: SIDE - 1 }), y: fc.nat({ max: SIDE - 1 }), color: fc.nat({ max: 3 }) }), { maxLength: 60 });

function storeWith(pixels: Array<{ x: number; y: number; color: number }>, versionBase: number): ChunkStore {
  const s = new ChunkStore({ width: SIDE, height: SIDE, paletteSize: 4 });
  for (const p of pixels) s.set(p.x, p.y, p.color);
  for (const d of s.drain()) s.loadChunk(d.cx, d.cy, s.chunkPixels(d.cx, d.cy)!.slice(), versionBase + d.key % 97);
  return s;
}

function hashOf(fieldsList: Array<Array<string | Buffer>>): Record<string, Buffer> {
  const raw: Record<string, Buffer> = {};
  for (const fields of fieldsList) for (let i = 0; i < fields.length; i += 2) {
    const v = fields[i + 1]!;
    raw[String(fields[i])] = typeof v === 'string' ? Buffer.from(v) : v;
  }
  return raw;
}

describe('canvas snapshot', () => {
  it('parse(encode(store)) gives every chunk its pixels and version', () => {
    fc.assert(fc.property(paint, (px) => {
      const s = storeWith(px, 1000);
      const snap = parseSnapshot(hashOf(snapshotFields(s, 77, 5, 2)), 5);
      expect(snap.seq).toBe(77);
      expect(snap.chunks.size).toBe(s.allocatedChunks);
      s.forEachChunk((cx, cy, pixels, version) => {
        const c = snap.chunks.get(chunkKey(cx, cy));
        expect(c?.version).toBe(version);
        expect(Buffer.from(c!.pixels).equals(Buffer.from(pixels))).toBe(true);
      });
    }), { numRuns: 100 });
  });

  it('another epoch, or no snapshot, is the empty canvas at seq 0; a damaged field throws', () => {
    const s = storeWith([{ x: 1, y: 1, color: 2 }], 10);
    const raw = hashOf(snapshotFields(s, 9, 5));
    expect(parseSnapshot(raw, 6)).toEqual({ seq: 0, epoch: 6, chunks: new Map() });
    expect(parseSnapshot({}, 6).seq).toBe(0);
    const key = Object.keys(raw).find((k) => k.startsWith('c:'))!;
    expect(() => parseSnapshot({ ...raw, [key]: Buffer.alloc(10) }, 5)).toThrow(/damaged/);
  });

  // Regression (seed -1020353677): a chunk painted back to the background elsewhere kept version 0 here.
  it('a chunk painted back to the background elsewhere gets its version, though this node never allocated it', () => {
    diffCase([], [{ x: 6, y: 4, color: 1 }, { x: 6, y: 4, color: 0 }]);
  });

  it('the diff, applied as placements and drained, turns any store into the snapshot: pixels and versions', () => {
    fc.assert(fc.property(paint, paint, (mine, theirs) => diffCase(mine, theirs)), { numRuns: 200 });
  });
});

function diffCase(mine: Array<{ x: number; y: number; color: number }>, theirs: Array<{ x: number; y: number; color: number }>): void {
  {
    {
      const local = storeWith(mine, 10);
      const remote = storeWith(theirs, 5000);
      const snap = parseSnapshot(hashOf(snapshotFields(remote, 42, 1)), 1);
      const records: PlacementRecord[] = [];
      const pins = diffToSnapshot(local, snap, records, 0);
      // What the room's commit stage does with a batch: apply the records, pin the changed chunks, drain.
      for (const r of records) local.set(r.x, r.y, r.color);
      for (const [key, v] of pins) if (v !== 0) local.pinVersion(keyCx(key), keyCy(key), v);
      local.drain();
      for (let cy = 0; cy < 3; cy++) for (let cx = 0; cx < 3; cx++) {
        const want = remote.chunkPixels(cx, cy) ?? new Uint8Array(CHUNK_AREA);
        const got = local.chunkPixels(cx, cy) ?? new Uint8Array(CHUNK_AREA);
        expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
        // Versions agree wherever the snapshot has the chunk (a chunk it lacks cannot be pinned to 0).
        if (remote.chunkPixels(cx, cy) !== null) expect(local.version(cx, cy)).toBe(remote.version(cx, cy));
      }
    }
  }
}
