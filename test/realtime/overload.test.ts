/**
 * The overload policy's scheduler (src/realtime/overload.ts with the fan-out and the write stage): under any
 * sequence of loads and budgets every client is served within a bound, none starves, and what a client ends
 * with after its deltas were coalesced (held back, owed as snapshots) equals the store's end state, with
 * every DELTA it got one version after what it held (docs/protocol.md's rule).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChunkStore } from '../../src/chunks/chunk-store.js';
import { CHUNK_AREA, chunkKey } from '../../src/chunks/geometry.js';
import { LodLevels } from '../../src/chunks/lod.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import { Replica, viewChunkRange } from '../../src/client/replica.js';
import { DEFAULTS } from '../../src/config.js';
import { OVERLOAD_DEFAULTS } from '../../src/defaults.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { decodeServerMessages } from '../../src/net/protocol.js';
import { BackpressurePolicy, PressureGate } from '../../src/realtime/backpressure.js';
import { ClientWriter } from '../../src/realtime/client-write.js';
import { DeltaFanout } from '../../src/realtime/fanout.js';
import { Outbox } from '../../src/realtime/outbox.js';
import { OverloadGovernor } from '../../src/realtime/overload.js';
import { ViewportSubscriptions } from '../../src/realtime/viewport-subscription.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { ready } from './doubles.js';

const SIZE = 256;

describe('OverloadGovernor', () => {
  it('rises on load that lasts (not on a slow tick or two), falls only after many calm ones, and comes back while idle', () => {
    const levels: number[] = [];
    const g = new OverloadGovernor(60, 0.5, (l) => levels.push(l));
    let now = 0;
    const tick = (usedMs: number, carried = 0) => { g.beginTick(now); now += usedMs; g.endTick(now, carried); now += Math.max(0, 16.7 - usedMs); };
    tick(12);
    tick(12);
    expect(g.level).toBe(0); // two slow ticks are not a trend
    tick(60); // nor is one long pause (a GC) among light ticks
    for (let i = 0; i < 3 * OVERLOAD_DEFAULTS.smoothTicks; i++) tick(2);
    expect(g.level).toBe(0);
    let slow = 0;
    while (g.level === 0 && slow < 100) { tick(12); slow++; }
    expect(g.level).toBe(1); // sustained: it rises, within a few smoothing windows
    expect(slow).toBeGreaterThan(2);
    expect(slow).toBeLessThanOrEqual(2 * OVERLOAD_DEFAULTS.smoothTicks);
    for (let i = 0; i < 120; i++) tick(12);
    expect(g.level).toBe(OVERLOAD_DEFAULTS.maxLevel);
    expect(g.admit(now)).toBe(0); // slow ticks that still wrote everyone due: no reason to refuse
    for (let i = 0; i < 120; i++) tick(12, 5);
    expect(g.admit(now)).toBeGreaterThan(0); // saturated at the slowest cadence: refuse
    for (let i = 0; i < OVERLOAD_DEFAULTS.downTicks; i++) tick(1);
    expect(g.level).toBe(OVERLOAD_DEFAULTS.maxLevel); // hysteresis: at least downTicks calm ticks
    for (let i = 0; i < 2 * OVERLOAD_DEFAULTS.smoothTicks; i++) tick(1);
    expect(g.level).toBe(OVERLOAD_DEFAULTS.maxLevel - 1);
    expect(g.admit(now)).toBe(0);
    // Idle: no ticks at all for 10 s still brings the cadence back (read without a tick, as /healthz does).
    g.beginTick(now);
    g.endTick(now + 0.1, 0, false); // nothing left: the loop sleeps
    now += 10_000;
    g.settle(now);
    expect(g.level).toBe(0);
    g.beginTick(now);
    g.endTick(now + 0.1, 0);
    expect(g.level).toBe(0);
    const max = OVERLOAD_DEFAULTS.maxLevel;
    const up = Array.from({ length: max }, (_, i) => i + 1);
    expect(levels).toEqual([...up, ...up.reverse().slice(1), 0]); // 1..max, then max-1 down to 0
  });

  it('comes down when the level below is predicted to fit, though its own ticks are not light', () => {
    // Most writes go to fast clients (they just placed) whatever the level: the tick at level 1 is barely
    // lighter than at level 0. What decides is the write stage's reading of the level below.
    const g = new OverloadGovernor(60, 0.5);
    let now = 0;
    const tick = (usedMs: number, served: number, dueBelow: number) => {
      g.beginTick(now);
      now += usedMs;
      g.noteWrite(usedMs * 0.8, served, dueBelow);
      g.endTick(now, 0);
      now += Math.max(0, 16.7 - usedMs);
    };
    for (let i = 0; i < 100; i++) tick(12, 600, 700);
    expect(g.level).toBeGreaterThan(0);
    const from = g.level;
    // 5.5 ms ticks writing 600 clients, 660 due at the level below: predicted 5.5 + 4.4 × 60/600 ≈ 6 ms.
    for (let i = 0; i < OVERLOAD_DEFAULTS.downTicks + 2 * OVERLOAD_DEFAULTS.smoothTicks; i++) tick(5.5, 600, 660);
    expect(g.level).toBe(from - 1);
    // The same ticks when the level below would write twice as many: predicted 5.5 + 4.4 ≈ 9.9 ms > budget.
    const g2 = new OverloadGovernor(60, 0.5);
    now = 0;
    const tick2 = (usedMs: number, served: number, dueBelow: number) => {
      g2.beginTick(now); now += usedMs; g2.noteWrite(usedMs * 0.8, served, dueBelow); g2.endTick(now, 0); now += Math.max(0, 16.7 - usedMs);
    };
    for (let i = 0; i < 100; i++) tick2(12, 600, 700);
    const from2 = g2.level;
    for (let i = 0; i < 10 * OVERLOAD_DEFAULTS.downTicks; i++) tick2(5.5, 600, 1200);
    expect(g2.level).toBe(from2);
  });

  it('a level that does not hold makes the next try wait longer; a wide margin (the load has gone) does not', () => {
    const g = new OverloadGovernor(60, 0.5);
    let now = 0;
    const tick = (used: number, write?: [number, number, number]) => {
      g.beginTick(now);
      now += used;
      if (write) g.noteWrite(...write);
      g.endTick(now, 0);
      now += Math.max(0, 16.7 - used);
    };
    const until = (level: number, f: () => void) => { let n = 0; while (g.level !== level && n < 5000) { f(); n++; } return n; };
    const marginal: [number, number, number] = [4, 100, 162]; // 5 ms ticks; the level below predicted at 7.5 of 8.35 ms
    const wide: [number, number, number] = [0.5, 100, 162]; // 1 ms ticks; the level below at 1.3 ms
    until(1, () => tick(12));
    const first = until(0, () => tick(5, marginal));
    expect(until(1, () => tick(12))).toBeLessThan(2 * OVERLOAD_DEFAULTS.downTicks); // level 0 did not hold
    const second = until(0, () => tick(5, marginal));
    expect(second - first).toBeGreaterThanOrEqual(OVERLOAD_DEFAULTS.downTicks - 5); // twice the calm ticks
    until(1, () => tick(12));
    const third = until(0, () => tick(1, wide));
    expect(third).toBeLessThan(first + 5); // the plain pace again
  });

  it('refuses new connections only when the carried queue is as long as what a tick writes, at the top level', () => {
    const run = (served: number, carried: number) => {
      const g = new OverloadGovernor(60, 0.5);
      let now = 0;
      for (let i = 0; i < 400; i++) {
        g.beginTick(now);
        now += 12;
        g.noteWrite(10, served, served + carried);
        g.endTick(now, carried);
        now += 4.7;
      }
      expect(g.level).toBe(OVERLOAD_DEFAULTS.maxLevel);
      return g.admit(now);
    };
    expect(run(600, 200)).toBe(0); // a third of a tick behind: slower still, but served
    expect(run(600, 600)).toBeGreaterThan(0); // a whole tick behind, every tick: refuse
  });

  it('serves a fast client (it just placed, or its view is close up) more often, and a client whose PLACE is answered at once', () => {
    const g = new OverloadGovernor(60, 0.5);
    let now = 0;
    for (let i = 0; i < 100; i++) { g.beginTick(now); g.endTick(now + 15, 0); now += 16.7; }
    const max = OVERLOAD_DEFAULTS.maxLevel;
    expect(g.level).toBe(max);
    const slow = { id: 1, fastUntil: 0, dueTick: -1 };
    const fast = { id: 1, fastUntil: 1e9, dueTick: -1 };
    const close = { id: 1, fastUntil: 0, dueTick: -1, zoomedIn: true }; // a close-up view counts as fast
    const count = (s: typeof slow) => Array.from({ length: 64 }, (_, t) => g.due(s, t, 0)).filter(Boolean).length;
    expect(count(slow)).toBe(64 >> max);
    expect(count(fast)).toBe(64 >> (max - OVERLOAD_DEFAULTS.fastLevels));
    expect(count(close)).toBe(count(fast));
    expect(g.due({ id: 1, fastUntil: 0, dueTick: 5 }, 5, 0)).toBe(true);
  });
});

/** One simulated room: store, fan-out, write stage, the governor, a fake clock the writes advance. */
function room(n: number, budgetShare = 0.5, globalBufferBytes: number = DEFAULTS.globalBufferBytes) {
  const store = new ChunkStore({ width: SIZE, height: SIZE, paletteSize: DEFAULT_PALETTE.length });
  const levels = new LodLevels(store);
  const subs = new ViewportSubscriptions(levels, DEFAULTS.maxViewportArea);
  const outbox = new Outbox();
  const pressure = new PressureGate(new BackpressurePolicy(DEFAULTS), outbox, () => n, { caughtUp: () => {}, becameStale: () => {} });
  const overload = { g: new OverloadGovernor(60, budgetShare) };
  const clock = { now: 0, perWrite: 0 };
  const fanout = new DeltaFanout({
    config: { lodHz: 15, tickHz: 60 }, store, storage: new MemoryStorage(), levels, subs, pressure, outbox,
    get overload() { return overload.g; }, log: createLogger('silent'), now: () => 0,
  } as never);
  const writer = new ClientWriter({
    levels, pressure, outbox, get overload() { return overload.g; }, metrics: createMetrics(), log: createLogger('silent'),
    disconnect: () => {}, bufferedBytes: () => 0, globalBufferBytes,
    // Each write costs the simulated load: the budget runs out after as many clients as the test says.
    clock: () => clock.now,
  } as never);
  const clients = Array.from({ length: n }, (_, i) => {
    const c = ready(`c${i}`);
    const replica = new Replica();
    replica.reset(SIZE, SIZE, store.background, 1);
    return { ...c, replica, read: 0, lastServed: 0, view: { x: 0, y: 0, w: SIZE, h: SIZE } };
  });
  return {
    store, outbox, clients, clock, overload,
    view(i: number, x: number, y: number, w: number, h: number) {
      const c = clients[i]!;
      c.view = { x, y, w, h };
      subs.apply(c.s, 0, { x, y, w, h }, undefined);
      const r = viewChunkRange(x, y, w, h, SIZE, SIZE);
      c.replica.retainOnly(x, y, w, h);
      void r;
      if (!c.s.stale) outbox.backlog.add(c.s);
    },
    /** One tick: its writes each cost `perWriteMs` of the simulated clock. Returns the clients written. */
    tick(perWriteMs: number): Set<number> {
      const t = clock.now;
      overload.g.beginTick(t);
      for (const s of outbox.backlog) outbox.mark(s);
      fanout.run(t, false, true);
      // Count writes by watching the transports: every frame is one write.
      const before = clients.map((c) => c.t.frames.length);
      const wrapped = clients.map((c) => {
        const send = c.t.send.bind(c.t);
        c.t.send = (bytes) => { clock.now += perWriteMs; send(bytes); };
        return send;
      });
      writer.write(t);
      clients.forEach((c, i) => { c.t.send = wrapped[i]!; });
      outbox.endTick();
      overload.g.endTick(clock.now, writer.carried);
      clock.now = Math.max(clock.now, t + 1000 / 60);
      const served = new Set<number>();
      clients.forEach((c, i) => { if (c.t.frames.length > before[i]!) served.add(i); });
      // Apply what arrived, checking the version rule on every DELTA.
      for (const c of clients) {
        for (; c.read < c.t.frames.length; c.read++) {
          for (const m of decodeServerMessages(c.t.frames[c.read]!)) {
            if (m.type === 'snapshot') c.replica.applySnapshot(m);
            else if (m.type === 'delta') {
              const held = c.replica.chunk(m.cx, m.cy);
              if (held) expect(m.version, `delta (${m.cx},${m.cy}) to ${c.s.name}`).toBe(held.version + 1);
              c.replica.applyDelta(m);
            }
          }
        }
      }
      return served;
    },
    /** Whether `i` is owed anything (queued bytes, snapshots). */
    owed(i: number): boolean {
      const s = clients[i]!.s;
      return s.outCount > 0 || s.needSnapshot.size > 0;
    },
  };
}

describe('overload scheduling, property', () => {
  it('every client owed work is served within a bound under any loads and budgets; coalesced deltas end equal to the store', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 24 }),
        fc.constantFrom(0, 0.05, 0.5, 1),
        fc.array(fc.record({
          // Cost of one write (ms of the simulated clock): from nothing to a whole period per write.
          perWrite: fc.double({ min: 0, max: 20, noNaN: true }),
          pixels: fc.array(fc.record({ x: fc.integer({ min: 0, max: SIZE - 1 }), y: fc.integer({ min: 0, max: SIZE - 1 }), c: fc.integer({ min: 0, max: 15 }) }), { maxLength: 12 }),
          pan: fc.option(fc.record({ i: fc.nat(), x: fc.integer({ min: -64, max: SIZE }), y: fc.integer({ min: -64, max: SIZE }), w: fc.integer({ min: 1, max: SIZE }), h: fc.integer({ min: 1, max: SIZE }) }), { nil: undefined }),
        }), { minLength: 1, maxLength: 60 }),
        (n, budget, steps) => {
          const r = room(n, budget);
          for (let i = 0; i < n; i++) r.view(i, 0, 0, SIZE, SIZE);
          // Served within: a full cadence, plus the carried queue ahead of it at the minimum served per tick.
          const bound = (1 << OVERLOAD_DEFAULTS.maxLevel) + Math.ceil(n / OVERLOAD_DEFAULTS.minServedPerTick) + 1;
          const waiting = new Array<number>(n).fill(0);
          for (const step of steps) {
            for (const p of step.pixels) r.store.set(p.x, p.y, p.c);
            if (step.pan) r.view(step.pan.i % n, step.pan.x, step.pan.y, step.pan.w, step.pan.h);
            const served = r.tick(step.perWrite);
            for (let i = 0; i < n; i++) {
              waiting[i] = served.has(i) || !r.owed(i) ? 0 : waiting[i]! + 1;
              expect(waiting[i], `client ${i} starved`).toBeLessThanOrEqual(bound);
            }
          }
          // Quiet ticks with room to spare: everything owed goes out, and every replica equals the store.
          for (let k = 0; k < 200 && r.clients.some((_, i) => r.owed(i)); k++) r.tick(0);
          for (const [i, c] of r.clients.entries()) {
            expect(r.owed(i)).toBe(false);
            const v = c.view;
            const range = viewChunkRange(v.x, v.y, v.w, v.h, SIZE, SIZE);
            if (!range) continue;
            for (let cy = range.cy0; cy <= range.cy1; cy++) for (let cx = range.cx0; cx <= range.cx1; cx++) {
              const expected = r.store.chunkPixels(cx, cy) ?? new Uint8Array(CHUNK_AREA).fill(r.store.background);
              const held = c.replica.chunk(cx, cy);
              expect(held, `client ${i} holds (${cx},${cy})`).toBeDefined();
              expect(Buffer.from(held!.pixels).equals(Buffer.from(expected)), `client ${i} chunk ${chunkKey(cx, cy)}`).toBe(true);
              expect(held!.version).toBe(r.store.version(cx, cy));
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('with more writes owed than the budget holds, the cadence slows until each tick fits, and everyone is still served', () => {
    const r = room(40);
    for (let i = 0; i < 40; i++) r.view(i, 0, 0, SIZE, SIZE);
    r.tick(0);
    const served: Set<number>[] = [];
    for (let k = 0; k < 120; k++) {
      r.store.set(k % SIZE, 3, (k % 15) + 1); // one chunk every client sees changes every tick
      served.push(r.tick(1)); // each write costs 1 ms against an 8.3 ms budget: 40 a tick cannot fit
    }
    // 40 writes of 1 ms fit the 8.3 ms budget from every 8th tick on (5 a tick): level 3, or 4 on the way.
    expect(r.overload.g.level).toBeGreaterThanOrEqual(3);
    const last = served.slice(-16);
    // 40 clients every 8th tick: 5 writes a tick, inside the budget again (no carried client, no 6 Hz tick).
    expect(Math.max(...last.map((x) => x.size))).toBeLessThanOrEqual(8);
    expect(r.overload.g.state().ticksOverBudget).toBeLessThan(40);
    const union = new Set(last.flatMap((x) => [...x]));
    expect(union.size).toBe(40);
  });

  it('snapshot streams are bounded across all clients: one tick queues at most the global allowance (plus one snapshot)', () => {
    const allowance = 16 * 1024;
    const r = room(20, 1, allowance);
    // Noise in every chunk, so snapshots are big (a few KiB each).
    for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) r.store.set(x, y, (x * 7 + y * 13) % 16);
    r.store.drain();
    for (let i = 0; i < 20; i++) r.view(i, 0, 0, SIZE, SIZE); // 16 chunks owed each
    let largest = 0;
    for (let cy = 0; cy < SIZE / 64; cy++) for (let cx = 0; cx < SIZE / 64; cx++) largest = Math.max(largest, r.store.snapshot(cx, cy).length);
    expect(largest * 16 * 20).toBeGreaterThan(allowance * 10); // what they are owed is far above the allowance
    const bytes = () => r.clients.reduce((a, c) => a + c.t.frames.reduce((b, f) => b + f.length, 0), 0);
    let ticks = 0;
    while (r.clients.some((_, i) => r.owed(i)) && ticks < 1000) {
      const before = bytes();
      r.tick(0);
      ticks++;
      expect(bytes() - before).toBeLessThanOrEqual(allowance + largest + 64);
    }
    expect(ticks).toBeGreaterThan(10); // paced over many ticks, and everything arrived:
    for (const c of r.clients) expect(c.replica.size).toBe(16);
  });
});
