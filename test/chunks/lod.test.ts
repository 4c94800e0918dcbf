/**
 * Levels of detail: after any sequence of placements (and drains, and a restart that rebuilds the levels
 * from the full store), every level-L chunk equals the downsampling of the full-resolution canvas, and a
 * replica fed only level L's snapshots and deltas converges to it. fast-check prints the seed on failure.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChunkStore } from '../../src/chunks/chunk-store.js';
import { LodLevels } from '../../src/chunks/lod.js';
import { downsampleChunk, levelRect, lodLevelForZoom, lodSide, topLodLevel } from '../../src/chunks/lod-geometry.js';
import { decodeServerMessages, type Snapshot, type Delta } from '../../src/net/protocol.js';
import { Replica } from '../../src/client/replica.js';

const PALETTE = 8;

function checkLevels(full: ChunkStore, levels: LodLevels): void {
  const get = (x: number, y: number) => full.get(x, y);
  for (let l = 1; l <= levels.top; l++) {
    const store = levels.level(l);
    for (let cy = 0; cy < store.chunksY; cy++) {
      for (let cx = 0; cx < store.chunksX; cx++) {
        const want = downsampleChunk(get, full.width, full.height, l, cx, cy, full.background);
        const have = store.chunkPixels(cx, cy) ?? new Uint8Array(4096).fill(full.background);
        expect(Buffer.from(have).equals(Buffer.from(want)), `level ${l} chunk ${cx},${cy}`).toBe(true);
      }
    }
  }
}

/** A level's messages as the client library sees them (LOD_* decoded and applied like SNAPSHOT / DELTA). */
function feed(replica: Replica, bytes: Uint8Array): void {
  for (const m of decodeServerMessages(bytes)) {
    if (m.type === 'lodSnapshot') replica.applySnapshot({ ...m, type: 'snapshot' } as Snapshot);
    else if (m.type === 'lodDelta') replica.applyDelta({ ...m, type: 'delta' } as Delta);
  }
}

describe('level-of-detail geometry', () => {
  it('sizes, top level and the level for a zoom', () => {
    expect(topLodLevel(1024, 1024)).toBe(4);
    expect(topLodLevel(64, 64)).toBe(0);
    expect(topLodLevel(4096, 1024)).toBe(6);
    expect(topLodLevel(65536, 65536)).toBe(10);
    expect(lodSide(1024, 1)).toBe(512);
    expect(lodSide(1088, 1)).toBe(576); // 544 rounded up to whole chunks
    expect(lodSide(1024, 4)).toBe(64);
    expect(lodLevelForZoom(1, 4)).toBe(0);
    expect(lodLevelForZoom(0.5, 4)).toBe(1);
    expect(lodLevelForZoom(0.3, 4)).toBe(1);
    expect(lodLevelForZoom(0.25, 4)).toBe(2);
    expect(lodLevelForZoom(0.001, 4)).toBe(4);
    expect(levelRect({ x: 3, y: 4, w: 10, h: 1 }, 2)).toEqual({ x: 0, y: 1, w: 4, h: 1 });
  });
});

describe('levels equal the downsampling of the full canvas', () => {
  it('after any sequence of placements and drains', () => {
    const side = fc.constantFrom(64, 128, 192, 256);
    fc.assert(
      fc.property(
        side, side,
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: PALETTE - 1 }), fc.boolean()), { maxLength: 300 }),
        (w, h, ops) => {
          const full = new ChunkStore({ width: w, height: h, paletteSize: PALETTE });
          const levels = new LodLevels(full);
          const replicas = levels.stores.map((s, l) => {
            const r = new Replica();
            r.reset(s.width, s.height, 0, 1);
            // Start every replica from the level's snapshots, then only deltas.
            if (l > 0) for (let cy = 0; cy < s.chunksY; cy++) for (let cx = 0; cx < s.chunksX; cx++) feed(r, s.snapshot(cx, cy));
            return r;
          });
          for (const [a, b, color, drain] of ops) {
            // Bias towards aligned pixels, the ones that reach the levels.
            const x = (a % 2 === 0 ? (a >> 1) * 8 : a) % w;
            const y = (b % 2 === 0 ? (b >> 1) * 8 : b) % h;
            full.set(x, y, color);
            if (drain) for (const [l, ds] of levels.apply(full.drain()).entries()) if (l > 0) for (const d of ds) feed(replicas[l]!, d.bytes);
          }
          for (const [l, ds] of levels.apply(full.drain()).entries()) if (l > 0) for (const d of ds) feed(replicas[l]!, d.bytes);
          checkLevels(full, levels);
          for (let l = 1; l <= levels.top; l++) {
            const s = levels.level(l);
            for (let cy = 0; cy < s.chunksY; cy++) for (let cx = 0; cx < s.chunksX; cx++) {
              const have = replicas[l]!.chunk(cx, cy)!.pixels;
              const want = s.chunkPixels(cx, cy) ?? new Uint8Array(4096);
              expect(Buffer.from(have).equals(Buffer.from(want))).toBe(true);
            }
          }
          // A restart: levels rebuilt from the full store agree too.
          checkLevels(full, new LodLevels(full));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('LOD messages carry the level and are encoded once per tick and level', () => {
    const full = new ChunkStore({ width: 256, height: 256, paletteSize: PALETTE });
    const levels = new LodLevels(full);
    full.set(8, 8, 3);
    full.set(9, 9, 4); // unaligned: no level sees it
    const out = levels.apply(full.drain());
    expect(out[0]!.length).toBe(1);
    for (let l = 1; l <= levels.top; l++) {
      expect(out[l]!.length, `level ${l}`).toBe(l <= 3 ? 1 : 0);
      if (l <= 3) {
        const [m] = decodeServerMessages(out[l]![0]!.bytes);
        expect(m).toMatchObject({ type: 'lodDelta', level: l, cx: 0, cy: 0, version: 1 });
        expect(m!.type === 'lodDelta' && [...m.offsets]).toEqual([(8 >> l) * 64 + (8 >> l)]);
      }
    }
    const [snap] = decodeServerMessages(levels.level(2).snapshot(0, 0));
    expect(snap).toMatchObject({ type: 'lodSnapshot', level: 2, cx: 0, cy: 0, version: 1 });
  });
});
