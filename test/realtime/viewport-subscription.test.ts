/**
 * ViewportSubscriptions: which chunks a client is subscribed to at which level, and which it must be sent
 * whole when its view changes. Checked against a model: entering chunks are owed, chunks left behind are not,
 * a level change owes the whole new view, a late viewport owes every chunk outside what it kept, a resume
 * version that matches spares a chunk, and a refused viewport changes nothing.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChunkStore } from '../../src/chunks/chunk-store.js';
import { LodLevels } from '../../src/chunks/lod.js';
import { chunkKey } from '../../src/chunks/geometry.js';
import type { ChunkRange, PixelRect } from '../../src/subscriptions/viewport-index.js';
import { ViewportSubscriptions, clampRect, intersectRange } from '../../src/realtime/viewport-subscription.js';
import type { ClientSession } from '../../src/realtime/client-session.js';
import { session } from '../helpers/memory-transport.js';
import { fcParams } from '../helpers/fuzz-seed.js';

const SIDE = 512; // levels 0..3: 8×8, 4×4, 2×2, 1×1 chunks
const MAX_AREA = SIDE * SIDE; // no random viewport is refused unless a test lowers it

function setup(maxArea = MAX_AREA) {
  const store = new ChunkStore({ width: SIDE, height: SIDE, paletteSize: 16 });
  const levels = new LodLevels(store);
  return { store, levels, subs: new ViewportSubscriptions(levels, maxArea) };
}

function keysOf(r: ChunkRange | null): number[] {
  const out: number[] = [];
  if (r) for (let cy = r.cy0; cy <= r.cy1; cy++) for (let cx = r.cx0; cx <= r.cx1; cx++) out.push(chunkKey(cx, cy));
  return out.sort((a, b) => a - b);
}

const owed = (s: ClientSession) => [...s.needSnapshot].sort((a, b) => a - b);

function codeOf(f: () => void): string | null {
  try { f(); return null; } catch (err) { return (err as { code?: string }).code ?? String(err); }
}

/** A viewport that may hang off the canvas on any side, and may be empty. */
const arbRect: fc.Arbitrary<PixelRect> = fc.record({
  x: fc.integer({ min: -300, max: SIDE + 50 }),
  y: fc.integer({ min: -300, max: SIDE + 50 }),
  w: fc.integer({ min: 0, max: 400 }),
  h: fc.integer({ min: 0, max: 400 }),
});

describe('clampRect and intersectRange', () => {
  it('clampRect is the set of canvas pixels inside the rect (null when none)', () => {
    fc.assert(fc.property(arbRect, (r) => {
      const c = clampRect(r, SIDE, SIDE);
      const inside = (x: number, y: number) => x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h && x >= 0 && y >= 0 && x < SIDE && y < SIDE;
      const xs = [r.x - 1, r.x, r.x + r.w - 1, r.x + r.w, 0, SIDE - 1];
      const ys = [r.y - 1, r.y, r.y + r.h - 1, r.y + r.h, 0, SIDE - 1];
      for (const x of xs) for (const y of ys) {
        const inC = c !== null && x >= c.x && x < c.x + c.w && y >= c.y && y < c.y + c.h;
        expect(inC, `${x},${y}`).toBe(inside(x, y));
      }
      if (c) expect(c.w > 0 && c.h > 0).toBe(true);
    }), fcParams());
  });

  it('intersectRange is the chunks in both ranges', () => {
    const arbRange = fc.option(fc.tuple(fc.nat(9), fc.nat(9), fc.nat(9), fc.nat(9))
      .map(([a, b, c, d]) => ({ cx0: Math.min(a, b), cx1: Math.max(a, b), cy0: Math.min(c, d), cy1: Math.max(c, d) })));
    fc.assert(fc.property(arbRange, arbRange, (a, b) => {
      const both = keysOf(a).filter((k) => keysOf(b).includes(k));
      expect(keysOf(intersectRange(a, b))).toEqual(both);
      if (both.length === 0) expect(intersectRange(a, b)).toBeNull();
    }), fcParams());
  });
});

describe('ViewportSubscriptions', () => {
  it('a first viewport owes every chunk it sees, at its level, and rangeAt agrees with rangeOf', () => {
    fc.assert(fc.property(arbRect, fc.integer({ min: 0, max: 3 }), (rect, level) => {
      const { subs } = setup();
      const s = session();
      expect(subs.top).toBe(3);
      subs.apply(s, level, rect, undefined);
      expect(s.level).toBe(level);
      expect(subs.rangeOf(s)).toEqual(subs.rangeAt(level, rect));
      expect(owed(s)).toEqual(keysOf(subs.rangeAt(level, rect)));
    }), fcParams());
  });

  it('random pans, zooms, late viewports and flushes keep the owed set equal to the model', () => {
    type Op = { kind: 'apply'; level: number; rect: PixelRect; keep: 'none' | 'null' | ChunkRange } | { kind: 'flush' };
    const arbKeep = fc.oneof(
      fc.constant('none' as const), fc.constant('null' as const),
      fc.tuple(fc.nat(7), fc.nat(7), fc.nat(7), fc.nat(7))
        .map(([a, b, c, d]) => ({ cx0: Math.min(a, b), cx1: Math.max(a, b), cy0: Math.min(c, d), cy1: Math.max(c, d) })),
    );
    const arbOp: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('apply' as const), level: fc.integer({ min: 0, max: 3 }), rect: arbRect, keep: arbKeep }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
    );
    fc.assert(fc.property(fc.array(arbOp, { minLength: 1, maxLength: 30 }), (ops) => {
      const { subs } = setup();
      const s = session();
      let model = new Set<number>();
      let level = 0;
      let range: ChunkRange | null = null;
      let subscribed = false;
      for (const op of ops) {
        if (op.kind === 'flush') { s.needSnapshot.clear(); model.clear(); continue; }
        const keep = op.keep === 'none' ? undefined : op.keep === 'null' ? null : op.keep;
        subs.apply(s, op.level, op.rect, keep);
        const next = subs.rangeAt(op.level, op.rect);
        const nextKeys = new Set(keysOf(next));
        const switching = op.level !== level;
        if (switching || !subscribed) model = new Set(nextKeys);
        else {
          const before = new Set(keysOf(range));
          model = new Set([...model].filter((k) => nextKeys.has(k)));
          for (const k of nextKeys) if (!before.has(k)) model.add(k);
          if (keep !== undefined) {
            const kept = new Set(keysOf(keep));
            for (const k of nextKeys) if (!kept.has(k)) model.add(k);
          }
        }
        level = op.level; range = next; subscribed = true;
        expect(s.level).toBe(level);
        expect(subs.has(s)).toBe(true); // subscribed even when its view holds no chunk
        expect(subs.rangeOf(s)).toEqual(range);
        expect(owed(s)).toEqual([...model].sort((a, b) => a - b));
      }
    }), fcParams());
  });

  it('resume versions spare the level-0 chunks held at the current version, and are dropped after one use', () => {
    const { store, subs } = setup();
    store.set(5, 5, 1); // chunk (0,0)
    store.set(70, 5, 2); // chunk (1,0)
    store.drain(); // both now at version 1
    const s = session();
    s.resumeVersions = new Map([[chunkKey(0, 0), 1], [chunkKey(1, 0), 0], [chunkKey(2, 0), 0]]);
    subs.apply(s, 0, { x: 0, y: 0, w: 192, h: 64 }, undefined);
    // (0,0) held at 1 = current: spared. (1,0) held at 0, now 1: owed. (2,0) held at 0 = current: spared.
    expect(owed(s)).toEqual([chunkKey(1, 0)]);
    expect(s.resumeVersions).toBeNull();
  });

  it('resume versions do not count above level 0', () => {
    const { subs } = setup();
    const s = session();
    s.resumeVersions = new Map([[chunkKey(0, 0), 0]]);
    subs.apply(s, 1, { x: 0, y: 0, w: 128, h: 128 }, undefined); // level-1 chunk (0,0)
    expect(owed(s)).toEqual([chunkKey(0, 0)]);
    expect(s.resumeVersions).toBeNull();
  });

  it('validate refuses a level outside 0..top and an area over the cap after clamping (at the level), as apply does', () => {
    const { subs } = setup(128 * 128);
    for (const level of [-1, 4, 0.5, Number.NaN]) {
      expect(codeOf(() => subs.validate(level, { x: 0, y: 0, w: 10, h: 10 })), String(level)).toBe('BAD_VIEWPORT');
    }
    expect(codeOf(() => subs.validate(0, { x: 0, y: 0, w: 129, h: 128 }))).toBe('VIEWPORT_TOO_LARGE');
    expect(codeOf(() => subs.validate(0, { x: -1000, y: -1000, w: 1128, h: 1128 }))).toBeNull(); // 128×128 on the canvas
    expect(codeOf(() => subs.validate(1, { x: 0, y: 0, w: 256, h: 256 }))).toBeNull(); // 128×128 level-1 pixels
    fc.assert(fc.property(arbRect, fc.integer({ min: 0, max: 3 }), (rect, level) => {
      const s = session();
      expect(codeOf(() => subs.apply(s, level, rect, undefined))).toBe(codeOf(() => subs.validate(level, rect)));
    }), fcParams());
  });

  it('a refused viewport leaves the subscription, its level and what it is owed as they were', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.boolean(), (from, to, flush) => {
      const { subs } = setup(32 * 32);
      const s = session();
      subs.apply(s, from, { x: 0, y: 0, w: 32 << from, h: 32 << from }, undefined);
      if (flush) s.needSnapshot.clear();
      const before = { level: s.level, range: subs.rangeOf(s), owed: owed(s) };
      const big = { x: 0, y: 0, w: 33 << to, h: 32 << to }; // one column too wide at level `to`
      expect(codeOf(() => subs.apply(s, to, big, undefined))).toBe('VIEWPORT_TOO_LARGE');
      expect({ level: s.level, range: subs.rangeOf(s), owed: owed(s) }).toEqual(before);
      expect(subs.has(s)).toBe(true);
    }), fcParams());
  });

  it('remove unsubscribes: the client is in no index', () => {
    const { subs } = setup();
    const s = session();
    subs.apply(s, 2, { x: 0, y: 0, w: 200, h: 200 }, undefined);
    expect(subs.has(s)).toBe(true);
    subs.remove(s);
    expect(subs.has(s)).toBe(false);
    expect(subs.rangeOf(s)).toBeNull();
    expect(subs.indexes.every((ix) => !ix.has(s))).toBe(true);
  });
});
