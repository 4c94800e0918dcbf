/**
 * ChunkKeySet against the `Set<number>` it stands in for: after any sequence of adds, deletes, clears and
 * iterations that delete as they go, both hold the same keys in the same (insertion) order. fast-check
 * prints the seed and path on failure; replay with `fc.assert(prop, { seed, path })`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkKeySet } from '../../src/chunks/chunk-key-set.js';

type Op =
  | { kind: 'add'; key: number }
  | { kind: 'delete'; key: number }
  | { kind: 'clear' }
  /** Iterate, deleting every `every`-th key visited (0: none), stopping after `limit` keys. */
  | { kind: 'drain'; every: number; limit: number; byPlace: boolean };

// Small key ranges make repeats, deletes of present keys and collisions common; a wide one, large keys.
const key = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 1 << 20 }), fc.constant(0x7fffffff));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: key.map((k) => ({ kind: 'add' as const, key: k })) },
  { weight: 3, arbitrary: key.map((k) => ({ kind: 'delete' as const, key: k })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drain' as const), every: fc.integer({ min: 0, max: 3 }), limit: fc.integer({ min: 0, max: 50 }), byPlace: fc.boolean() }) },
);

function drain(set: Iterable<number> & { delete(k: number): boolean }, every: number, limit: number): number[] {
  const seen: number[] = [];
  for (const k of set) {
    if (seen.length >= limit) break;
    seen.push(k);
    if (every > 0 && seen.length % every === 0) set.delete(k);
  }
  return seen;
}

/** The same drain through `end` and `keyAt`, the loop hot paths use. */
function drainByPlace(set: ChunkKeySet, every: number, limit: number): number[] {
  const seen: number[] = [];
  for (let i = 0; i < set.end && seen.length < limit; i++) {
    const k = set.keyAt(i);
    if (k < 0) continue;
    seen.push(k);
    if (every > 0 && seen.length % every === 0) set.delete(k);
  }
  return seen;
}

describe('ChunkKeySet vs Set<number>', () => {
  it('holds the same keys in the same order after any sequence of operations', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const ours = new ChunkKeySet();
        const model = new Set<number>();
        for (const o of ops) {
          switch (o.kind) {
            case 'add':
              ours.add(o.key);
              model.add(o.key);
              break;
            case 'delete':
              expect(ours.delete(o.key)).toBe(model.delete(o.key));
              break;
            case 'clear':
              ours.clear();
              model.clear();
              break;
            case 'drain':
              expect(o.byPlace ? drainByPlace(ours, o.every, o.limit) : drain(ours, o.every, o.limit)).toEqual(drain(model, o.every, o.limit));
              break;
          }
          expect(ours.size).toBe(model.size);
        }
        expect([...ours]).toEqual([...model]);
        for (const k of model) expect(ours.has(k)).toBe(true);
        expect(ours.has(-5)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps its storage through fill-and-empty cycles, and gives back storage past its retention limit', () => {
    const storage = (x: ChunkKeySet): number => (x as unknown as { order: Int32Array }).order.length;
    const s = new ChunkKeySet();
    for (let round = 0; round < 50; round++) {
      for (let k = 0; k < 40; k++) s.add(round * 1000 + k);
      for (const k of s) s.delete(k);
      expect(s.size).toBe(0);
    }
    const kept = storage(s);
    expect(kept).toBeLessThanOrEqual(128);
    for (let k = 0; k < 40; k++) s.add(k);
    expect(storage(s)).toBe(kept); // the next fill of the same size allocates nothing
    for (let k = 0; k < 5000; k++) s.add(k);
    expect(storage(s)).toBeGreaterThan(128);
    s.clear();
    expect(storage(s)).toBeLessThanOrEqual(128);
    expect([...s]).toEqual([]);
    for (let k = 0; k < 300; k++) s.add(k);
    for (let k = 0; k < 300; k++) s.delete(k); // emptied by deletes: given back too
    expect(storage(s)).toBeLessThanOrEqual(128);
  });

  it('refuses what is not a chunk key', () => {
    const s = new ChunkKeySet();
    for (const bad of [-1, 1.5, 2 ** 31, Number.NaN]) expect(() => s.add(bad)).toThrow(RangeError);
  });
});
