/** The banded PNG renderer against a naive per-pixel model, and the render gate over a live server. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import pngjs from 'pngjs';
import { ChunkStore } from '../../src/chunks/chunk-store.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import { RenderGate, paletteLut, renderRegionPng } from '../../src/http/png-render.js';
import { testResources } from '../helpers/server.js';

const { PNG } = pngjs;

describe('renderRegionPng', () => {
  it('decodes to exactly the palette colours of every pixel of the region (property)', async () => {
    const lut = paletteLut(DEFAULT_PALETTE);
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ x: fc.nat(191), y: fc.nat(191), c: fc.nat(DEFAULT_PALETTE.length - 1) }), { maxLength: 300 }),
      fc.record({ x: fc.nat(191), y: fc.nat(191), w: fc.integer({ min: 1, max: 192 }), h: fc.integer({ min: 1, max: 192 }) }),
      async (paints, r) => {
        const store = new ChunkStore({ width: 192, height: 192, paletteSize: DEFAULT_PALETTE.length });
        for (const p of paints) store.set(p.x, p.y, p.c);
        const w = Math.min(r.w, 192 - r.x), h = Math.min(r.h, 192 - r.y);
        const png = PNG.sync.read(await renderRegionPng(store, lut, r.x, r.y, w, h));
        expect([png.width, png.height]).toEqual([w, h]);
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const rgb = DEFAULT_PALETTE[store.get(r.x + x, r.y + y)]!;
            const o = (y * w + x) * 4;
            if (png.data[o] !== rgb >>> 16 || png.data[o + 1] !== ((rgb >>> 8) & 0xff) || png.data[o + 2] !== (rgb & 0xff)) {
              throw new Error(`pixel ${r.x + x},${r.y + y} differs`);
            }
          }
        }
      }), { numRuns: 40, verbose: 1 });
  });

  it('is the state at the call: painting while it compresses does not leak into the image', async () => {
    const store = new ChunkStore({ width: 256, height: 256, paletteSize: DEFAULT_PALETTE.length });
    store.set(10, 10, 3);
    const pending = renderRegionPng(store, paletteLut(DEFAULT_PALETTE), 0, 0, 256, 256);
    store.set(10, 10, 5);
    store.set(200, 200, 5);
    const png = PNG.sync.read(await pending);
    const at = (x: number, y: number) => (png.data[(y * 256 + x) * 4]! << 16) | (png.data[(y * 256 + x) * 4 + 1]! << 8) | png.data[(y * 256 + x) * 4 + 2]!;
    expect(at(10, 10)).toBe(DEFAULT_PALETTE[3]);
    expect(at(200, 200)).toBe(DEFAULT_PALETTE[store.background]);
  });
});

describe('RenderGate', () => {
  it('admits at most max at once and admits again after leave', () => {
    const g = new RenderGate(2);
    expect([g.tryEnter(), g.tryEnter(), g.tryEnter()]).toEqual([true, true, false]);
    g.leave();
    expect(g.tryEnter()).toBe(true);
    expect(() => new RenderGate(0)).toThrow(RangeError);
  });
});

describe('/canvas.png under concurrent large renders', () => {
  const t = testResources();
  it('renders at most two at once; the rest get 503 with Retry-After, and it admits again after', async () => {
    const s = await t.server({ width: 8192, height: 8192, maxViewportArea: 4096 * 4096 });
    // 16 distinct regions, so the shared-encode path does not hide the bound.
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) =>
      fetch(`${s.url}/canvas.png?x=${(i % 4) * 1024}&y=${Math.floor(i / 4) * 1024}&w=4096&h=4096`).then(async (r) => ({
        status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.arrayBuffer(),
      }))));
    const ok = answers.filter((a) => a.status === 200);
    const busy = answers.filter((a) => a.status === 503);
    expect(ok.length + busy.length).toBe(16);
    expect(ok.length).toBeGreaterThanOrEqual(2);
    expect(busy.length).toBeGreaterThan(0);
    for (const b of busy) expect(b.retryAfter).toBe('1');
    const png = PNG.sync.read(Buffer.from(ok[0]!.body));
    expect([png.width, png.height]).toEqual([4096, 4096]);
    // Once they are done, a render is admitted again.
    expect((await fetch(`${s.url}/canvas.png?x=0&y=0&w=64&h=64`)).status).toBe(200);
  }, 60_000);
});
