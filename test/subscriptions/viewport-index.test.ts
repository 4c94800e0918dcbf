import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHUNK_SIZE, chunkKey } from '../../src/chunks/geometry.js';
import { type PixelRect, ViewportError, ViewportIndex } from '../../src/subscriptions/viewport-index.js';

interface Sub {
  readonly name: string;
}
const SUBS: readonly Sub[] = ['a', 'b', 'c', 'd'].map((name) => ({ name }));

const names = (subs: readonly Sub[]): string[] => subs.map((s) => s.name).sort();
const sorted = (keys: Iterable<number>): number[] => [...keys].sort((p, q) => p - q);

// ---- brute-force model: pixel-level definitions, no clamping arithmetic shared with the index ----

function bruteChunks(width: number, height: number, r: PixelRect): Set<number> {
  const out = new Set<number>();
  if (r.w === 0 || r.h === 0) return out; // an empty interval overlaps nothing
  for (let cy = 0; cy < height / CHUNK_SIZE; cy++) {
    for (let cx = 0; cx < width / CHUNK_SIZE; cx++) {
      const px0 = cx * CHUNK_SIZE;
      const py0 = cy * CHUNK_SIZE;
      if (r.x < px0 + CHUNK_SIZE && r.x + r.w > px0 && r.y < py0 + CHUNK_SIZE && r.y + r.h > py0) {
        out.add(chunkKey(cx, cy));
      }
    }
  }
  return out;
}

function bruteSees(width: number, height: number, r: PixelRect, x: number, y: number): boolean {
  return x >= 0 && y >= 0 && x < width && y < height && x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h;
}

function clampedArea(width: number, height: number, r: PixelRect): number {
  const w = Math.max(0, Math.min(r.x + r.w, width) - Math.max(r.x, 0));
  const h = Math.max(0, Math.min(r.y + r.h, height) - Math.max(r.y, 0));
  return w * h;
}

function isBad(r: PixelRect): boolean {
  return ![r.x, r.y, r.w, r.h].every(Number.isInteger) || r.w < 0 || r.h < 0;
}

// ---- generators ----

const coord = fc.oneof(fc.integer({ min: -1200, max: 1200 }), fc.integer({ min: -70, max: 140 }));
const side = fc.oneof(fc.integer({ min: 0, max: 1300 }), fc.integer({ min: 0, max: 130 }));
const badNumber = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1, 1.5, -0.5);
const goodRect = fc.record({ x: coord, y: coord, w: side, h: side });
const badRect = fc
  .tuple(goodRect, fc.constantFrom('x', 'y', 'w', 'h') as fc.Arbitrary<keyof PixelRect>, badNumber)
  .map(([r, field, v]) => ({ ...r, [field]: v }))
  .filter(isBad);
const rectArb = fc.oneof({ weight: 9, arbitrary: goodRect }, { weight: 1, arbitrary: badRect });

type Op =
  | { kind: 'set'; sub: number; rect: PixelRect }
  // Pan or resize the current viewport along one edge: small moves are the common case and
  // the one where the index may skip work, so they get their own op.
  | { kind: 'nudge'; sub: number; field: keyof PixelRect; delta: number }
  | { kind: 'remove'; sub: number };
const subIdx = fc.integer({ min: 0, max: SUBS.length - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('set' as const), sub: subIdx, rect: rectArb }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('nudge' as const),
      sub: subIdx,
      field: fc.constantFrom('x', 'y', 'w', 'h') as fc.Arbitrary<keyof PixelRect>,
      delta: fc.integer({ min: -70, max: 70 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), sub: subIdx }) },
);
const chunksPerSide = fc.integer({ min: 1, max: 16 });
const scenario = fc.record({
  width: chunksPerSide.map((n) => n * CHUNK_SIZE),
  height: chunksPerSide.map((n) => n * CHUNK_SIZE),
  maxArea: fc.integer({ min: 1, max: 1024 * 1024 }),
  ops: fc.array(opArb, { maxLength: 30 }),
  points: fc.array(fc.tuple(fc.integer({ min: -2, max: 1030 }), fc.integer({ min: -2, max: 1030 })), {
    maxLength: 20,
  }),
});

// ---- property ----

/**
 * Compares every query against the model. Results are gathered into two parallel lists and
 * compared once: one expect() per query would dominate the run time.
 */
function checkAgainstModel(
  index: ViewportIndex<Sub>,
  width: number,
  height: number,
  model: Map<Sub, PixelRect>,
  points: readonly (readonly [number, number])[],
): void {
  const actual: unknown[] = [index.size];
  const expected: unknown[] = [model.size];
  const chunkSets = new Map<Sub, Set<number>>();
  for (const sub of SUBS) {
    const r = model.get(sub);
    const set = r === undefined ? new Set<number>() : bruteChunks(width, height, r);
    chunkSets.set(sub, set);
    actual.push(['has', sub.name, index.has(sub)], ['rangeOf', sub.name, index.rangeOf(sub)]);
    actual.push(['rectOf', sub.name, index.rectOf(sub)]);
    expected.push(['has', sub.name, model.has(sub)]);
    if (set.size === 0) {
      expected.push(['rangeOf', sub.name, null], ['rectOf', sub.name, null]);
      continue;
    }
    // rangeOf is the bounding range of the brute-force chunk set, which must fill it.
    const keys = [...set];
    const cxs = keys.map((k) => k % 1024);
    const cys = keys.map((k) => Math.floor(k / 1024));
    const range = { cx0: Math.min(...cxs), cy0: Math.min(...cys), cx1: Math.max(...cxs), cy1: Math.max(...cys) };
    expected.push(['rangeOf', sub.name, range]);
    expect(set.size).toBe((range.cx1 - range.cx0 + 1) * (range.cy1 - range.cy0 + 1));
    const x0 = Math.max(r!.x, 0);
    const y0 = Math.max(r!.y, 0);
    const rect = { x: x0, y: y0, w: Math.min(r!.x + r!.w, width) - x0, h: Math.min(r!.y + r!.h, height) - y0 };
    expected.push(['rectOf', sub.name, rect]);
  }

  // Every chunk on the canvas plus a one-chunk ring outside it.
  const cw = width / CHUNK_SIZE;
  const ch = height / CHUNK_SIZE;
  for (let cy = -1; cy <= ch; cy++) {
    for (let cx = -1; cx <= cw; cx++) {
      const key = chunkKey(cx, cy);
      const onCanvas = cx >= 0 && cy >= 0 && cx < cw && cy < ch;
      const seers = SUBS.filter((s) => onCanvas && chunkSets.get(s)!.has(key));
      actual.push(['subscribersOf', cx, cy, names(index.subscribersOf(cx, cy))]);
      expected.push(['subscribersOf', cx, cy, names(seers)]);
      const scratch: Sub[] = SUBS.slice(); // a reused array still holding an earlier answer
      const n = index.collectSubscribers(cx, cy, scratch);
      actual.push(['collectSubscribers', cx, cy, names(scratch.slice(0, n))]);
      expected.push(['collectSubscribers', cx, cy, names(seers)]);
      if (!onCanvas) continue; // keys wrap outside the canvas (cx = -1 is the previous row)
      actual.push(['seesChunk', cx, cy, names(SUBS.filter((s) => index.seesChunk(s, key)))]);
      expected.push(['seesChunk', cx, cy, names(seers)]);
    }
  }

  // Pixels: the random sample plus the four edges (inside and outside) of every viewport.
  const sample: [number, number][] = points.map(([x, y]) => [x, y]);
  for (const r of model.values()) {
    for (const x of [r.x - 1, r.x, r.x + r.w - 1, r.x + r.w]) {
      for (const y of [r.y - 1, r.y, r.y + r.h - 1, r.y + r.h]) sample.push([x, y]);
    }
  }
  for (const [x, y] of sample) {
    const seers = SUBS.filter((s) => model.has(s) && bruteSees(width, height, model.get(s)!, x, y));
    actual.push(['subscribersAt', x, y, names(index.subscribersAt(x, y))]);
    actual.push(['seesPixel', x, y, names(SUBS.filter((s) => index.seesPixel(s, x, y)))]);
    expected.push(['subscribersAt', x, y, names(seers)], ['seesPixel', x, y, names(seers)]);
  }
  expect(actual).toEqual(expected);
}

describe('ViewportIndex against brute force', () => {
  it('matches the model over random set/move/remove sequences', () => {
    fc.assert(
      fc.property(scenario, ({ width, height, maxArea, ops, points }) => {
        const index = new ViewportIndex<Sub>({ width, height, maxArea });
        const model = new Map<Sub, PixelRect>();
        for (const op of ops) {
          const sub = SUBS[op.sub];
          const before = model.has(sub) ? bruteChunks(width, height, model.get(sub)!) : new Set<number>();
          if (op.kind === 'remove') {
            expect(sorted(index.remove(sub))).toEqual(sorted(before));
            model.delete(sub);
            checkAgainstModel(index, width, height, model, points);
            continue;
          }
          const base = model.get(sub) ?? { x: 0, y: 0, w: 64, h: 64 };
          const rect = op.kind === 'set' ? op.rect : { ...base, [op.field]: base[op.field] + op.delta };
          if (isBad(rect)) {
            expect(() => index.set(sub, rect)).toThrow(
              expect.objectContaining({ name: 'ViewportError', code: 'BAD_VIEWPORT' }),
            );
          } else if (clampedArea(width, height, rect) > maxArea) {
            expect(() => index.set(sub, rect)).toThrow(
              expect.objectContaining({ name: 'ViewportError', code: 'VIEWPORT_TOO_LARGE' }),
            );
          } else {
            const after = bruteChunks(width, height, rect);
            const { entered, left } = index.set(sub, rect);
            // Sorting a list with duplicates would not equal the set, so this also checks uniqueness.
            expect(sorted(entered)).toEqual(sorted([...after].filter((k) => !before.has(k))));
            expect(sorted(left)).toEqual(sorted([...before].filter((k) => !after.has(k))));
            model.set(sub, rect);
          }
          checkAgainstModel(index, width, height, model, points);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('ViewportIndex with many subscribers (a tree of several levels)', () => {
  it('collectSubscribers finds exactly the viewports that overlap each chunk', () => {
    const rect = fc.record({ x: fc.integer({ min: -200, max: 1100 }), y: fc.integer({ min: -200, max: 1100 }), w: fc.integer({ min: 0, max: 400 }), h: fc.integer({ min: 0, max: 400 }) });
    fc.assert(
      fc.property(fc.array(rect, { minLength: 1, maxLength: 300 }), fc.array(fc.nat(), { maxLength: 100 }), (rects, removals) => {
        const index = new ViewportIndex<Sub>({ width: 1024, height: 1024, maxArea: 1 << 20 });
        const subs = rects.map((_, i) => ({ name: `s${i}` }));
        rects.forEach((r, i) => index.set(subs[i]!, r));
        const gone = new Set(removals.map((k) => k % subs.length));
        for (const i of gone) index.remove(subs[i]!);
        const scratch: Sub[] = [];
        for (let cy = 0; cy < 16; cy++) {
          for (let cx = 0; cx < 16; cx++) {
            const want = subs.filter((s, i) => {
              if (gone.has(i)) return false;
              const r = rects[i]!;
              const x0 = Math.max(r.x, 0), y0 = Math.max(r.y, 0);
              const x1 = Math.min(r.x + r.w, 1024), y1 = Math.min(r.y + r.h, 1024);
              return x1 > x0 && y1 > y0 && x0 < (cx + 1) * 64 && x1 > cx * 64 && y0 < (cy + 1) * 64 && y1 > cy * 64;
            });
            const n = index.collectSubscribers(cx, cy, scratch);
            expect(names(scratch.slice(0, n))).toEqual(names(want));
          }
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('ViewportIndex examples', () => {
  const [a, b] = SUBS;

  it('clamps a viewport hanging off the top-left corner', () => {
    const index = new ViewportIndex<Sub>({ width: 256, height: 256, maxArea: 1 << 20 });
    const { entered, left } = index.set(a, { x: -10, y: -20, w: 100, h: 100 });
    expect(index.rectOf(a)).toEqual({ x: 0, y: 0, w: 90, h: 80 });
    expect(index.rangeOf(a)).toEqual({ cx0: 0, cy0: 0, cx1: 1, cy1: 1 });
    expect(entered).toEqual([chunkKey(0, 0), chunkKey(1, 0), chunkKey(0, 1), chunkKey(1, 1)]);
    expect(left).toEqual([]);
    expect(index.seesPixel(a, 0, 0)).toBe(true);
    expect(index.seesPixel(a, 89, 79)).toBe(true);
    expect(index.seesPixel(a, 90, 79)).toBe(false);
    expect(index.seesPixel(a, -1, 0)).toBe(false);
  });

  it('clamps a viewport hanging off the bottom-right corner', () => {
    const index = new ViewportIndex<Sub>({ width: 256, height: 256, maxArea: 1 << 20 });
    index.set(a, { x: 200, y: 250, w: 500, h: 500 });
    expect(index.rectOf(a)).toEqual({ x: 200, y: 250, w: 56, h: 6 });
    expect(index.rangeOf(a)).toEqual({ cx0: 3, cy0: 3, cx1: 3, cy1: 3 });
    expect(index.subscribersOf(3, 3)).toEqual([a]);
    expect(index.subscribersOf(4, 3)).toEqual([]);
    expect(index.subscribersAt(255, 255)).toEqual([a]);
    expect(index.subscribersAt(256, 255)).toEqual([]);
  });

  it('keeps a sub that sees nothing known but out of every query', () => {
    const index = new ViewportIndex<Sub>({ width: 128, height: 128, maxArea: 1 << 20 });
    expect(index.set(a, { x: 128, y: 0, w: 50, h: 50 })).toEqual({ entered: [], left: [] });
    expect(index.set(b, { x: 10, y: 10, w: 0, h: 50 })).toEqual({ entered: [], left: [] });
    expect(index.has(a) && index.has(b)).toBe(true);
    expect(index.size).toBe(2);
    expect(index.rangeOf(a)).toBeNull();
    expect(index.rectOf(b)).toBeNull();
    expect(index.subscribersOf(1, 0)).toEqual([]);
    expect(index.set(a, { x: 60, y: 0, w: 10, h: 10 }).entered).toEqual([chunkKey(0, 0), chunkKey(1, 0)]);
    expect(index.set(a, { x: -100, y: 0, w: 10, h: 10 }).left).toEqual([chunkKey(0, 0), chunkKey(1, 0)]);
    expect(index.remove(a)).toEqual([]);
    expect(index.has(a)).toBe(false);
  });

  it('reindexes a move inside the same chunks without reporting changes', () => {
    const index = new ViewportIndex<Sub>({ width: 128, height: 128, maxArea: 1 << 20 });
    index.set(a, { x: 0, y: 0, w: 10, h: 10 });
    expect(index.set(a, { x: 20, y: 20, w: 10, h: 10 })).toEqual({ entered: [], left: [] });
    expect(index.subscribersAt(5, 5)).toEqual([]);
    expect(index.subscribersAt(25, 25)).toEqual([a]);
  });

  it('rejects a viewport over maxArea after clamping, leaving the old one in place', () => {
    const index = new ViewportIndex<Sub>({ width: 1024, height: 1024, maxArea: 10_000 });
    index.set(a, { x: 0, y: 0, w: 100, h: 100 });
    let caught: unknown;
    try {
      index.set(a, { x: 0, y: 0, w: 101, h: 100 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ViewportError);
    expect((caught as ViewportError).code).toBe('VIEWPORT_TOO_LARGE');
    expect((caught as ViewportError).message).toBe(
      'viewport area 10100 px (101x100 after clamping) exceeds maxArea 10000 px',
    );
    expect(index.rectOf(a)).toEqual({ x: 0, y: 0, w: 100, h: 100 });
    expect(() => index.set(b, { x: 0, y: 0, w: 2000, h: 2000 })).toThrow(ViewportError);
    expect(index.has(b)).toBe(false);
    // Only the on-canvas part counts.
    expect(() => index.set(b, { x: -5000, y: -5000, w: 5100, h: 5100 })).not.toThrow();
    expect(index.rectOf(b)).toEqual({ x: 0, y: 0, w: 100, h: 100 });
  });

  it('rejects malformed rects with BAD_VIEWPORT', () => {
    const index = new ViewportIndex<Sub>({ width: 128, height: 128, maxArea: 1 << 20 });
    for (const rect of [
      { x: 0, y: 0, w: Number.NaN, h: 1 },
      { x: 0, y: 0, w: 1, h: -1 },
      { x: 0.5, y: 0, w: 1, h: 1 },
      { x: 0, y: Number.NEGATIVE_INFINITY, w: 1, h: 1 },
      { x: 0, y: 0, w: Number.POSITIVE_INFINITY, h: 1 },
    ]) {
      expect(() => index.set(a, rect)).toThrow(expect.objectContaining({ code: 'BAD_VIEWPORT' }));
    }
    expect(index.has(a)).toBe(false);
  });

  it('remove returns what the sub saw, and [] for an unknown sub', () => {
    const index = new ViewportIndex<Sub>({ width: 256, height: 256, maxArea: 1 << 20 });
    expect(index.remove(a)).toEqual([]);
    index.set(a, { x: 63, y: 0, w: 2, h: 1 });
    expect(index.remove(a)).toEqual([chunkKey(0, 0), chunkKey(1, 0)]);
    expect(index.remove(a)).toEqual([]);
    expect(index.size).toBe(0);
    expect(index.subscribersOf(0, 0)).toEqual([]);
  });

  it('rejects bad canvas options at construction', () => {
    expect(() => new ViewportIndex({ width: 100, height: 128, maxArea: 1 })).toThrow(RangeError);
    expect(() => new ViewportIndex({ width: 128, height: 65536 * 2, maxArea: 1 })).toThrow(RangeError);
    expect(() => new ViewportIndex({ width: 128, height: 128, maxArea: 0 })).toThrow(RangeError);
  });
});
