/**
 * planRollback against both storages (MemoryStorage, SqliteStorage in a temp dir): a fast-check property
 * that a rollback or an undo leaves exactly the canvas a naive replay of the log without the excluded
 * placements gives, and the work bounds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { openSqliteStorage } from '../../src/storage/sqlite-storage.js';
import { MODERATION_CLIENT_ID, type ActorFilter, type CanvasStorage, type PlacementRecord } from '../../src/storage/canvas-storage.js';
import { RollbackTooLarge, planRollback } from '../../src/storage/rollback-plan.js';
import { newStore, tempDir, tick } from '../storage/fixtures.js';

const W = 128, H = 64, P = 8, SIDE = 12;
const NAMES = ['ann', 'bob', 'cy'];
const IPS = ['10.0.0.1', '10.0.0.2'];

type Op = [x: number, y: number, color: number, who: number, ip: number];
const op: fc.Arbitrary<Op> = fc.tuple(fc.nat(SIDE - 1), fc.nat(SIDE - 1), fc.nat(P - 1), fc.nat(NAMES.length - 1), fc.nat(IPS.length - 1));

function storages(): [string, () => CanvasStorage][] {
  return [
    ['memory', () => new MemoryStorage()],
    ['sqlite', () => openSqliteStorage({ dataDir: tempDir(), checkpointEvery: 7, synchronous: 'NORMAL' })],
  ];
}

describe.each(storages())('planRollback over %s storage', (_name, open) => {
  it('equals a replay of the log without the excluded placements (property; seed printed on failure)', () => {
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 1, maxLength: 60 }), fc.nat(60), fc.tuple(fc.nat(SIDE - 1), fc.nat(SIDE - 1), fc.integer({ min: 1, max: SIDE }), fc.integer({ min: 1, max: SIDE })),
        fc.oneof(fc.constant(null), fc.record({ name: fc.nat(NAMES.length - 1) }), fc.record({ ip: fc.nat(IPS.length - 1) })),
        fc.integer({ min: 1, max: 4 }), fc.nat(P - 1),
        (ops, cut, [rx, ry, rw, rh], who, page, background) => {
          const storage = open();
          try {
            const store = newStore(W, H, P, background);
            storage.load(store);
            const records: PlacementRecord[] = ops.map(([x, y, color, n, ip], i) => ({ x, y, color, time: 1000 + i, clientId: 1 + n, name: NAMES[n]!, ip: IPS[ip]! }));
            // A few ticks of different sizes.
            for (let i = 0; i < records.length; i += 5) tick(storage, store, records.slice(i, i + 5), i);
            const since = 1000 + (cut % (records.length + 1));
            const actor: ActorFilter | undefined = who === null ? undefined : 'name' in who ? { name: NAMES[who.name]! } : { ip: IPS[who.ip]! };
            const rect = { x0: rx, y0: ry, x1: Math.min(W - 1, rx + rw - 1), y1: Math.min(H - 1, ry + rh - 1) };
            const excluded = (r: PlacementRecord) => r.time >= since && r.x >= rect.x0 && r.x <= rect.x1 && r.y >= rect.y0 && r.y <= rect.y1 &&
              (actor === undefined || (actor.name === undefined || r.name === actor.name) && (actor.ip === undefined || r.ip === actor.ip));

            // The model: per pixel, if its last placement is excluded, the last one that is not (or the background).
            const expected = new Map<number, number>();
            const byPixel = new Map<number, PlacementRecord[]>();
            for (const r of records) {
              const k = r.y * W + r.x;
              byPixel.set(k, [...(byPixel.get(k) ?? []), r]);
            }
            for (const [k, list] of byPixel) {
              const last = list[list.length - 1]!;
              if (!excluded(last)) { expected.set(k, last.color); continue; }
              const keep = list.filter((r) => !excluded(r));
              expected.set(k, keep.length === 0 ? background : keep[keep.length - 1]!.color);
            }

            const plan = planRollback(storage, store, { ...rect, since, actor }, { page });
            tick(storage, store, plan.changes.map((c) => ({ ...c, time: 5000, clientId: MODERATION_CLIENT_ID, name: 'moderator', ip: '' })), 9999);
            for (let y = 0; y < SIDE; y++) {
              for (let x = 0; x < SIDE; x++) {
                expect(store.get(x, y), `pixel (${x}, ${y})`).toBe(expected.get(y * W + x) ?? background);
              }
            }
            expect(plan.unknown).toBe(0);
            expect(plan.changes.length + plan.kept).toBe(plan.candidates);
            // Rolled back again: nothing more to do (the moderation entries are not the actor's).
            if (actor !== undefined) expect(planRollback(storage, store, { ...rect, since, actor }).changes).toEqual([]);
          } finally {
            storage.close();
          }
        }),
      { numRuns: 60 },
    );
  });

  it('refuses, changing nothing, past its pixel or scan bound', () => {
    const storage = open();
    const store = newStore(W, H, P, 0);
    storage.load(store);
    tick(storage, store, [0, 1, 2].map((x) => ({ x, y: 0, color: 3, time: 10, clientId: 1, name: 'a', ip: 'i' })), 0);
    const q = { x0: 0, y0: 0, x1: 10, y1: 10, since: 0 };
    expect(() => planRollback(storage, store, q, { maxPixels: 2 })).toThrow(RollbackTooLarge);
    expect(() => planRollback(storage, store, q, { maxScan: 3, page: 1 })).toThrow(RollbackTooLarge);
    expect(planRollback(storage, store, q).changes).toHaveLength(3);
    storage.close();
  });
});

it('in-memory storage: pixels whose history left the ring are reported unknown and left alone', () => {
  const storage = new MemoryStorage({ historyCapacity: 4 });
  const store = newStore(W, H, P, 0);
  tick(storage, store, [{ x: 0, y: 0, color: 5, time: 1, clientId: 1, name: 'a', ip: 'i' }], 0);
  tick(storage, store, [1, 2, 3, 4].map((x) => ({ x, y: 1, color: 2, time: 2, clientId: 1, name: 'a', ip: 'i' })), 0);
  tick(storage, store, [{ x: 0, y: 0, color: 6, time: 3, clientId: 2, name: 'b', ip: 'j' }], 0);
  const plan = planRollback(storage, store, { x0: 0, y0: 0, x1: 0, y1: 0, since: 3 });
  expect(plan).toMatchObject({ candidates: 1, unknown: 1, changes: [] });
});
