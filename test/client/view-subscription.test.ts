/**
 * fitViewport, the view a client sends for a requested one at a level of detail (the project's client and the
 * load test's lean client both send it): on the canvas, inside what was asked, and within the server's
 * area limit counted in level pixels, so the server never refuses it.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { levelRect } from '../../src/chunks/lod-geometry.js';
import { effectiveViewport, fitViewport } from '../../src/client/view-subscription.js';

const side = fc.integer({ min: 1, max: 1024 }).map((n) => n * 64);
const coord = fc.double({ min: -5000, max: 70000, noNaN: true });
const extent = fc.double({ min: 0, max: 70000, noNaN: true });

describe('fitViewport', () => {
  it('is on the canvas, inside the request, and within the area limit in level pixels', () => {
    fc.assert(fc.property(coord, coord, extent, extent, side, side, fc.integer({ min: 4096, max: 1 << 22 }), fc.integer({ min: 0, max: 6 }),
      (x, y, w, h, W, H, maxArea, level) => {
        const v = fitViewport({ x, y, w, h }, W, H, maxArea, level);
        const full = effectiveViewport({ x, y, w, h }, W, H, maxArea);
        if (level === 0) expect(v).toEqual(full);
        expect(v.w * v.h === 0).toBe(full.w * full.h === 0); // empty only when nothing of it is on the canvas
        if (v.w * v.h === 0) return;
        expect(v.x).toBeGreaterThanOrEqual(Math.max(Math.floor(x), 0));
        expect(v.y).toBeGreaterThanOrEqual(Math.max(Math.floor(y), 0));
        expect(v.x + v.w).toBeLessThanOrEqual(Math.min(Math.ceil(x + w), W));
        expect(v.y + v.h).toBeLessThanOrEqual(Math.min(Math.ceil(y + h), H));
        const l = levelRect(v, level);
        expect(l.w * l.h).toBeLessThanOrEqual(maxArea);
      }));
  });

  it('at a level, keeps the whole request when its level pixels fit, and shrinks about the centre when not', () => {
    // 1024² at level 2 is 256² = 65,536 level pixels: fits a 65,536 limit whole.
    expect(fitViewport({ x: 0, y: 0, w: 1024, h: 1024 }, 1024, 1024, 65_536, 2)).toEqual({ x: 0, y: 0, w: 1024, h: 1024 });
    const v = fitViewport({ x: 0, y: 0, w: 1024, h: 1024 }, 1024, 1024, 16_384, 2);
    const l = levelRect(v, 2);
    expect(l.w * l.h).toBeLessThanOrEqual(16_384);
    expect(l.w * l.h).toBeGreaterThan(16_384 * 0.9);
    expect(v.x + v.w / 2).toBeCloseTo(512, -1);
  });
});
