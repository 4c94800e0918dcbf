/** loadtest/view-geometry.ts keeps copies of the client's view rules: they must agree with src/ on any input. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as g from '../../loadtest/view-geometry.js';
import { effectiveViewport } from '../../src/client/canvas-client.js';
import { viewChunkRange } from '../../src/client/replica.js';
import { chunkKey, keyCx, keyCy } from '../../src/chunks/geometry.js';
import { levelRect, lodLevelForZoom, topLodLevel } from '../../src/chunks/lod-geometry.js';

const side = fc.integer({ min: 1, max: 1024 }).map((n) => n * 64);
const coord = fc.double({ min: -5000, max: 70000, noNaN: true });
const extent = fc.double({ min: 0, max: 70000, noNaN: true });

describe('view geometry copies', () => {
  it('agree with src/ (seeded)', () => {
    const seed = Number(process.env.FC_SEED ?? Date.now() % 1e9);
    console.log(`view-geometry seed ${seed}`);
    fc.assert(fc.property(coord, coord, extent, extent, side, side, fc.integer({ min: 4096, max: 1 << 26 }), (x, y, w, h, W, H, area) => {
      expect(g.viewChunkRange(x, y, w, h, W, H)).toEqual(viewChunkRange(x, y, w, h, W, H));
      const v = g.effectiveViewport({ x, y, w, h }, W, H, area);
      expect(v).toEqual(effectiveViewport({ x, y, w, h }, W, H, area));
      for (const level of [0, 1, 3]) expect(g.levelRect(v, level)).toEqual(levelRect(v, level));
      expect(g.topLodLevel(W, H)).toBe(topLodLevel(W, H));
    }), { seed, numRuns: 300 });
    fc.assert(fc.property(fc.double({ min: 0.001, max: 64, noNaN: true }), fc.integer({ min: 0, max: 10 }), (z, top) => {
      expect(g.lodLevelForZoom(z, top)).toBe(lodLevelForZoom(z, top));
    }), { seed });
    fc.assert(fc.property(fc.integer({ min: 0, max: 1023 }), fc.integer({ min: 0, max: 1023 }), (cx, cy) => {
      const k = g.chunkKey(cx, cy);
      expect(k).toBe(chunkKey(cx, cy));
      expect([g.keyCx(k), g.keyCy(k)]).toEqual([keyCx(k), keyCy(k)]);
    }), { seed });
  });
});
