/**
 * The tick loop's schedule: never above its rate, on its grid however late its timers fire, asleep when idle,
 * at once for a lone change. What is about time is checked on hand-driven time (HandTimers): counted in
 * ticks and period boundaries, exact whatever the machine's load. The host's timers are checked for what
 * load cannot break (bounds from below, progress against a deadline).
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TickLoop } from '../../src/realtime/tick-loop.js';
import { HandTimers } from './doubles.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let loops: TickLoop[] = [];
afterEach(() => {
  for (const l of loops) l.stop();
  loops = [];
});

function loop(hz: number, eager: boolean, run: (t: number) => boolean): TickLoop {
  const l = new TickLoop(hz, eager, run, (err) => { throw err; });
  loops.push(l);
  l.start();
  return l;
}

/** A started loop on hand-driven time; each timer fires late by the next of `lates` (cycled). */
function handLoop(hz: number, eager: boolean, lates: readonly number[], run: (t: number, timers: HandTimers) => boolean) {
  let i = 0;
  const timers = new HandTimers(() => lates[i++ % lates.length]!);
  const l = new TickLoop(hz, eager, (t) => run(t, timers), (err) => { throw err; }, timers);
  loops.push(l);
  l.start();
  return { l, timers };
}

/** Floating-point slack for sums of hand-driven times (the schedule itself is exact). */
const EPS = 1e-9;

describe('TickLoop', () => {
  it('never runs ticks that do work above its rate, however work arrives: on a grid of periods, never within half a period', async () => {
    for (const pattern of ['alternate', 'always'] as const) {
      const starts: number[] = [];
      let flip = false;
      // alternate: busy, idle, busy, …: only the busy ticks count (an idle tick writes nothing)
      const l = loop(50, true, (t) => {
        flip = pattern === 'always' ? true : !flip;
        if (flip) starts.push(t);
        return flip;
      });
      const poke = setInterval(() => l.request(), 1);
      // Against a deadline, not a fixed sleep: a loaded machine fires fewer timers in a given time, which
      // says nothing about the loop; the bounds below are from below, which lateness cannot break.
      const deadline = performance.now() + 10_000;
      while (starts.length <= 10 && performance.now() < deadline) await sleep(20);
      clearInterval(poke);
      l.stop();
      for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(10 - 2.5); // timers may fire a ms early
      // At most one tick per period over any stretch (counted from the first), with one for the edges.
      for (let i = 0; i < starts.length; i++) {
        for (let j = i + 1; j < starts.length; j++) expect(j - i).toBeLessThanOrEqual(Math.floor((starts[j]! - starts[i]! + 2.5) / 20) + 1);
      }
      expect(starts.length).toBeGreaterThan(10);
    }
  });

  it('a busy loop keeps its grid: timers that fire late do not lower the rate', () => {
    // Other work (reading sockets, on a server) holds the event loop, so each tick's timer fires up to 4 ms
    // late, and each tick works up to 8 ms of its 20 ms period. Counted from each start, every period would
    // grow by that lateness (4 ms a tick: 50 Hz → 42 Hz); on the grid, tick k starts at boundary k plus its
    // own timer's lateness and nothing more, however long the loop runs.
    const period = 20;
    fc.assert(fc.property(
      fc.array(fc.double({ min: 0, max: 4, noNaN: true }), { minLength: 1, maxLength: 40 }),
      fc.double({ min: 0, max: 8, noNaN: true }),
      fc.boolean(),
      (lates, work, eager) => {
        const starts: number[] = [];
        const { l, timers } = handLoop(50, eager, lates, (t, tm) => {
          starts.push(t);
          tm.t += work;
          return true;
        });
        if (eager) l.request(); // woken once, busy from then on
        timers.advance(1000 * period);
        l.stop();
        const first = eager ? 0 : period; // a woken eager loop ticks at once; a fixed-cadence one a period in
        expect(starts.length).toBeGreaterThanOrEqual(999); // 1000 boundaries; the last one's timer may fire after the end
        starts.forEach((s, k) => {
          const off = s - (first + k * period);
          if (!(off >= -EPS && off <= 4 + EPS)) throw new Error(`tick ${k} started ${off.toFixed(3)} ms after its boundary (its timer was at most 4 ms late)`);
        });
      },
    ), { examples: [[[4], 6, false], [[4], 6, true], [[0, 4, 1, 3], 8, false]] });
  });

  it('late timers, overrunning ticks, idle ticks: working ticks never come within half a period, nor above the rate over any stretch', () => {
    // A descheduled process fires a timer periods late, a tick may take longer than its period, and a tick
    // may find nothing to do (it writes nothing, so it does not count): a loop behind starts a new grid
    // instead of bursting to catch up.
    fc.assert(fc.property(
      fc.array(fc.double({ min: 0, max: 70, noNaN: true }), { minLength: 1, maxLength: 30 }),
      fc.array(fc.double({ min: 0, max: 30, noNaN: true }), { minLength: 1, maxLength: 30 }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 10 }),
      fc.boolean(),
      (lates, works, busy, eager) => {
        const starts: number[] = [];
        let n = 0;
        const { l, timers } = handLoop(50, eager, lates, (t, tm) => {
          const worked = busy[n % busy.length]!;
          tm.t += works[n % works.length]!;
          n++;
          if (worked) starts.push(t);
          return worked;
        });
        for (let ms = 0; ms < 2000; ms++) { // work arrives every millisecond
          l.request();
          timers.advance(1);
        }
        l.stop();
        if (busy.some((b) => b)) expect(starts.length).toBeGreaterThan(0);
        for (let i = 1; i < starts.length; i++) {
          if (starts[i]! - starts[i - 1]! < 10 - EPS) throw new Error(`working ticks ${i - 1} and ${i} only ${(starts[i]! - starts[i - 1]!).toFixed(3)} ms apart`);
        }
        for (let i = 0; i < starts.length; i++) {
          for (let j = i + 1; j < starts.length; j++) {
            if (j - i > Math.floor((starts[j]! - starts[i]! + EPS) / 20) + 1) throw new Error(`${j - i} working ticks in ${(starts[j]! - starts[i]!).toFixed(3)} ms`);
          }
        }
      },
    ), { numRuns: 60 });
  });

  it('a tick a whole period behind starts a new grid from its own start, one period on; a little late one keeps the grid', () => {
    // The fourth timer fires 50 ms late (a descheduled process): its boundary was 80, the next ones 100 and
    // 120 are long past, so the grid restarts a period after the late start. The seventh fires 5 ms late
    // (a busy event loop): its successor keeps its boundary.
    const lates = [0, 0, 0, 50, 0, 0, 5, 0, 0, 0];
    const starts: number[] = [];
    const { l, timers } = handLoop(50, false, lates, (t) => { starts.push(t); return true; });
    timers.advance(220);
    l.stop();
    expect(starts).toEqual([20, 40, 60, 130, 150, 170, 195, 210]);
  });

  it('sleeps when a tick finds nothing to do, and a request after a quiet spell ticks at once', () => {
    const at: number[] = [];
    const { l, timers } = handLoop(10, true, [0], (t) => { at.push(t); return false; });
    timers.advance(10_000);
    expect(at).toEqual([]); // asleep from the start: no periodic work on an idle server
    expect(timers.pending).toBe(0);
    l.request();
    timers.advance(0);
    expect(at).toEqual([10_000]); // at once, not held back to the next 100 ms boundary
    expect(timers.pending).toBe(0); // and asleep again: that tick found nothing to do
    expect(l.measuredHz).toBe(0);
  });

  it('keeps its cadence while there is work, survives a throwing tick, and ticks regardless when not eager', async () => {
    let n = 0;
    const errors: unknown[] = [];
    const busy = new TickLoop(50, true, () => { n++; if (n === 2) throw new Error('boom'); return true; }, (e) => errors.push(e));
    loops.push(busy);
    busy.start();
    busy.request();
    let fixed = 0;
    const t0 = performance.now();
    loop(50, false, () => { fixed++; return false; });
    // Counted against a deadline, not a fixed sleep: on a loaded machine 300 ms may hold only 5 timer firings,
    // which says nothing about the loop. What must hold: both loops go on (the busy one after its throw).
    const deadline = t0 + 10_000;
    while ((n <= 5 || fixed <= 5) && performance.now() < deadline) await sleep(20);
    const elapsed = performance.now() - t0;
    expect(errors).toHaveLength(1);
    expect(n).toBeGreaterThan(5); // went on after the throw
    expect(fixed).toBeGreaterThan(5);
    // …and never faster than the rate (timers may fire a ms early): 50 Hz is one tick per 20 ms at most.
    expect(fixed).toBeLessThanOrEqual(Math.floor(elapsed / (20 - 2.5)) + 1);
    expect(n).toBeLessThanOrEqual(Math.floor(elapsed / (20 - 2.5)) + 1);
  });
});
