/** The delta fan-out: each delta's bytes to every up-to-date subscriber, a snapshot owed instead to the rest. */
import { OverloadGovernor } from '../../src/realtime/overload.js';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/config.js';
import { OVERLOAD_DEFAULTS } from '../../src/defaults.js';
import { ChunkStore } from '../../src/chunks/chunk-store.js';
import { chunkKey } from '../../src/chunks/geometry.js';
import { LodLevels } from '../../src/chunks/lod.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import { createLogger } from '../../src/log.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { BackpressurePolicy, PressureGate } from '../../src/realtime/backpressure.js';
import { DeltaFanout } from '../../src/realtime/fanout.js';
import { Outbox } from '../../src/realtime/outbox.js';
import { ViewportSubscriptions } from '../../src/realtime/viewport-subscription.js';
import { ready } from './doubles.js';

function setup(lodHz = DEFAULTS.lodHz, overload = new OverloadGovernor(60, 0.5)) {
  const store = new ChunkStore({ width: 1024, height: 1024, paletteSize: DEFAULT_PALETTE.length });
  const levels = new LodLevels(store);
  const subs = new ViewportSubscriptions(levels, DEFAULTS.maxViewportArea);
  const outbox = new Outbox();
  const pressure = new PressureGate(new BackpressurePolicy(DEFAULTS), outbox, () => 3, { caughtUp: () => {}, becameStale: () => {} });
  let checkpoints = 0;
  const storage = new (class extends MemoryStorage {
    override maybeCheckpoint(): void {
      checkpoints++;
    }
  })();
  const fanout = new DeltaFanout({ config: { lodHz, tickHz: 60 }, store, storage, levels, subs, pressure, outbox, overload, log: createLogger('silent'), now: Date.now });
  const viewer = (x: number, y: number, w: number, h: number, level = 0) => {
    const c = ready();
    subs.apply(c.s, level, { x, y, w, h }, undefined);
    c.s.needSnapshot.clear(); // as if its snapshots were sent
    return c;
  };
  return { store, fanout, outbox, viewer, checkpoints: () => checkpoints };
}

describe('DeltaFanout', () => {
  it('references one encoded delta from every subscriber of the chunk, and marks them', () => {
    const { store, fanout, outbox, viewer, checkpoints } = setup();
    const a = viewer(0, 0, 64, 64);
    const b = viewer(0, 0, 128, 128);
    const far = viewer(512, 512, 64, 64);
    store.set(3, 3, 5);
    expect(fanout.run(0, true, true)).toBe(true);
    expect(a.s.out[0]).toBe(b.s.out[0]); // the same bytes, not a copy
    expect(a.s.outCount).toBe(1);
    expect(far.s.outCount).toBe(0);
    expect(outbox.takeMarked()).toEqual(expect.arrayContaining([a.s, b.s]));
    expect(checkpoints()).toBe(1);
    expect(fanout.run(16, true, false)).toBe(false); // drained: nothing left; no placements: no checkpoint
    expect(checkpoints()).toBe(1);
  });

  it('owes a stale subscriber the chunk\'s snapshot instead of its delta', () => {
    const { store, fanout, viewer } = setup();
    const slow = viewer(0, 0, 64, 64);
    slow.t.bufferedAmount = DEFAULTS.highWaterBytes + 1;
    store.set(1, 1, 2);
    fanout.run(0, true, true);
    expect(slow.s.outCount).toBe(0);
    expect(slow.s.stale).toBe(true);
    expect([...slow.s.needSnapshot]).toEqual([chunkKey(0, 0)]);
  });

  it('drains the levels of detail on cursor ticks or once per LOD period, and keeps ticking until then', () => {
    const { store, fanout, viewer } = setup(15);
    const zoomed = viewer(0, 0, 1024, 1024, 2);
    store.set(0, 0, 2); // level pixels are their block's top-left canvas pixel
    expect(fanout.run(0, true, true)).toBe(true); // cursors due: levels drain with them
    const first = zoomed.s.outCount;
    expect(first).toBe(1);
    store.set(4, 4, 3);
    expect(fanout.run(16, false, true)).toBe(true); // not due: held, and more to drain
    expect(zoomed.s.outCount).toBe(first);
    expect(fanout.run(70, false, false)).toBe(false); // a whole LOD period later: drained
    expect(zoomed.s.outCount).toBe(first + 1);
  });

  it('holds the deltas of a client whose turn it is not, up to a bound; past it a changed chunk is owed as a snapshot', () => {
    const g = new OverloadGovernor(60, 0.5);
    g.level = OVERLOAD_DEFAULTS.maxLevel;
    const { store, fanout, viewer, outbox } = setup(DEFAULTS.lodHz, g);
    const c = viewer(0, 0, 1024, 1024);
    while (g.due(c.s, outbox.tick, 0)) outbox.tick++; // a tick that is not its turn
    store.set(1, 1, 2);
    fanout.run(0, false, false);
    expect(c.s.outCount).toBe(1); // held for its turn: the delta itself, not a snapshot
    expect(c.s.needSnapshot.size).toBe(0);
    let n = 0;
    while (c.s.outBytes < OVERLOAD_DEFAULTS.heldDeltaBytes) {
      store.set((n % 16) * 64 + 2, Math.floor(n / 16) % 16 * 64, (n % 14) + 1);
      fanout.run(0, false, false);
      n++;
    }
    const held = c.s.outCount;
    store.set(700, 700, 3); // chunk (10, 10): past the bound
    store.set(5, 5, 4); // chunk (0, 0), which has a held delta: owed too, and its later deltas after it
    fanout.run(0, false, false);
    expect(c.s.outCount).toBe(held);
    expect([...c.s.needSnapshot].sort()).toEqual([chunkKey(0, 0), chunkKey(10, 10)].sort());
    store.set(6, 6, 5);
    fanout.run(0, false, false); // owed already: no delta queued behind the snapshot it is owed
    expect(c.s.outCount).toBe(held);
  });
});
