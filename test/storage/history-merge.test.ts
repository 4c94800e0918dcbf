/**
 * The lazy k-way merge against a naive model (concatenate, sort, slice), and its bound on rows read.
 * fast-check prints the seed and path on failure; replay with `fc.assert(prop, { seed, path })`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type MergeSource, mergeFirst } from '../../src/storage/history-merge.js';

type Row = [number, string];

/** A source over a sorted id list, counting its calls. */
function source(ids: readonly number[], calls: { n: number }): MergeSource<Row> {
  return (afterId, n) => {
    calls.n++;
    expect(n).toBeGreaterThan(0);
    return ids.filter((id) => id > afterId).slice(0, n).map((id) => [id, `r${id}`] as Row);
  };
}

describe('mergeFirst', () => {
  it('returns the first rows of the union in id order, reading at most sources × first + 2 × count rows (property)', () => {
    // Distinct ids, dealt to sources at random; some sources empty.
    const input = fc.record({
      ids: fc.uniqueArray(fc.nat(5000), { maxLength: 400 }),
      sources: fc.integer({ min: 1, max: 40 }),
      deal: fc.infiniteStream(fc.nat()),
      from: fc.integer({ min: -1, max: 5000 }),
      count: fc.integer({ min: 1, max: 120 }),
      first: fc.integer({ min: 1, max: 50 }),
      prefetch: fc.boolean(),
    });
    fc.assert(fc.property(input, ({ ids, sources, deal, from, count, first, prefetch }) => {
      const lists: number[][] = Array.from({ length: sources }, () => []);
      const it = deal[Symbol.iterator]();
      for (const id of ids) lists[it.next().value % sources]!.push(id);
      for (const l of lists) l.sort((a, b) => a - b);
      const calls = { n: 0 };
      // The caller may hand in every source's first batch (as SqliteStorage does with one statement).
      const b = Math.min(first, count);
      const pre = prefetch ? lists.map((l) => l.filter((id) => id > from).slice(0, b).map((id) => [id, `r${id}`] as Row)) : undefined;
      const { rows, fetched } = mergeFirst(lists.map((l) => source(l, calls)), from, count, first, pre);
      const want = [...ids].sort((a, b) => a - b).filter((id) => id > from).slice(0, count);
      expect(rows.map((r) => r[0])).toEqual(want);
      expect(rows.every((r) => r[1] === `r${r[0]}`)).toBe(true);
      expect(fetched).toBeLessThanOrEqual(sources * Math.min(first, count) + 2 * count);
    }), { numRuns: 300 });
  });

  it('reads a source that holds the whole page in doubling batches (log2 reads, not one per row)', () => {
    const calls = { n: 0 };
    const big = Array.from({ length: 5000 }, (_, i) => i + 1);
    const { rows, fetched } = mergeFirst([source(big, calls), source([], { n: 0 })], 0, 1001, 2);
    expect(rows.length).toBe(1001);
    expect(calls.n).toBeLessThanOrEqual(10); // 2, 4, 8, … 512: 9 reads
    expect(fetched).toBeLessThanOrEqual(2 + 2 * 1001);
  });
});
