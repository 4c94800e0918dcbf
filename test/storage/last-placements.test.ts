/** LastPlacements (--in-memory pixel info) against a naive Map model, across the sparse→dense switch and the u32→f64 time fallback. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LastPlacements, SPARSE_MAX } from '../../src/storage/last-placements.js';

type Op = { key: number; offset: number; dt: number; name: string; moderation: boolean };

const op = (offsets: fc.Arbitrary<number>) => fc.record({
  key: fc.integer({ min: 0, max: 2 }),
  offset: offsets,
  // mostly small steps; now and then a jump past 2^32 ms, or a step back (a clock that went backwards)
  dt: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 5000 }) }, { weight: 1, arbitrary: fc.constantFrom(2 ** 32, 2 ** 33 + 7) }, { weight: 1, arbitrary: fc.integer({ min: -100_000, max: -1 }) }),
  name: fc.constantFrom('', 'ann', 'bob', 'zoë', 'bot-1'),
  moderation: fc.boolean(),
});

function check(ops: Op[], probe: number[]): void {
  const lp = new LastPlacements();
  const model = new Map<string, { time: number; name: string; moderation: boolean }>();
  let t = 1_764_000_000_000;
  for (const o of ops) {
    t += o.dt;
    lp.set(o.key, o.offset, t, o.name, o.moderation);
    model.set(`${o.key}:${o.offset}`, { time: t, name: o.name, moderation: o.moderation });
  }
  for (const key of [0, 1, 2, 3]) for (const offset of probe) {
    expect(lp.get(key, offset)).toEqual(model.get(`${key}:${offset}`) ?? null);
  }
}

describe('LastPlacements', () => {
  it('equals a naive model on a few pixels (sparse chunks)', () => {
    fc.assert(fc.property(fc.array(op(fc.integer({ min: 0, max: 63 })), { maxLength: 200 }), (ops) => {
      check(ops, Array.from({ length: 64 }, (_, i) => i));
    }), { numRuns: 200 });
  });

  it('equals a naive model across the switch to dense and the f64 fallback', () => {
    fc.assert(fc.property(fc.array(op(fc.integer({ min: 0, max: 4095 })), { minLength: SPARSE_MAX, maxLength: SPARSE_MAX * 3 }), (ops) => {
      // Every op on one chunk for part of the run, so that it does go dense.
      const one = ops.map((o, i) => (i < SPARSE_MAX + 50 ? { ...o, key: 0 } : o));
      check(one, [...new Set(one.map((o) => o.offset))].concat([0, 4095, 1234]));
    }), { numRuns: 20 });
  });

  it('a chunk becomes dense only past SPARSE_MAX painted pixels, and one entry per name is kept', () => {
    const lp = new LastPlacements();
    for (let i = 0; i < SPARSE_MAX; i++) lp.set(7, i, 1000 + i, i % 2 ? 'a' : 'b', false);
    for (let i = 0; i < 10; i++) lp.set(7, 0, 5000 + i, 'a', false); // repaints do not count
    expect(lp.stats).toEqual({ chunks: 1, dense: 0, names: 2 });
    lp.set(7, SPARSE_MAX, 9999, 'c', true);
    expect(lp.stats).toEqual({ chunks: 1, dense: 1, names: 3 });
    expect(lp.get(7, 0)).toEqual({ time: 5009, name: 'a', moderation: false });
    expect(lp.get(7, SPARSE_MAX)).toEqual({ time: 9999, name: 'c', moderation: true });
    expect(lp.get(7, SPARSE_MAX + 1)).toBeNull();
  });
});
