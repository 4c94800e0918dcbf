import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MESSAGE_BUDGET,
  MESSAGE_COSTS,
  MessageBudget,
  ViolationCounter,
  placeCost,
} from '../../src/limits/message-budget.js';
import { TokenBucket } from '../../src/limits/token-bucket.js';
import { VIOLATION_DEFAULTS } from '../../src/defaults.js';

describe('MessageBudget', () => {
  it('charges costs against one shared budget', () => {
    const b = new MessageBudget({ rate: 10, burst: 20 }, 0);
    expect(b.charge(15, 0)).toBe(true);
    expect(b.charge(6, 0)).toBe(false); // nothing spent on refusal
    expect(b.charge(5, 0)).toBe(true);
    expect(b.charge(1, 50)).toBe(false);
    expect(b.charge(1, 100)).toBe(true);
    expect(b.charge(21, 1e9)).toBe(false); // above burst: never
    expect(b.peek(1e9)).toBe(20);
  });

  it('lets an honest client pan and point at 60 Hz for a minute without refusals', () => {
    const b = new MessageBudget(MESSAGE_BUDGET, 0);
    const hello = MESSAGE_COSTS.hello + MESSAGE_COSTS.resume + MESSAGE_COSTS.viewport;
    expect(b.charge(hello, 0)).toBe(true);
    for (let frame = 1; frame <= 60 * 60; frame++) {
      const t = (frame * 1000) / 60;
      expect(b.charge(MESSAGE_COSTS.cursor, t)).toBe(true);
      expect(b.charge(MESSAGE_COSTS.viewport, t)).toBe(true);
      if (frame % 60 === 0) expect(b.charge(placeCost(1), t)).toBe(true);
    }
  });

  it('cuts off a client that spams resumes', () => {
    const b = new MessageBudget(MESSAGE_BUDGET, 0);
    let accepted = 0;
    for (let i = 0; i < 1000; i++) if (b.charge(MESSAGE_COSTS.resume, i)) accepted++;
    // burst 400 + 200/s × ~1 s, at 20 per resume.
    expect(accepted).toBeLessThanOrEqual((400 + 200) / 20);
  });

  it('placeCost is 1 + 1 per pixel by default', () => {
    expect(placeCost(1)).toBe(2);
    expect(placeCost(100)).toBe(101);
  });

  it('property: decides exactly like a TokenBucket of the same shape', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 200 }), cost: fc.integer({ min: 0, max: 450 }) }), {
          maxLength: 200,
        }),
        (steps) => {
          const b = new MessageBudget(MESSAGE_BUDGET, 0);
          const ref = new TokenBucket(MESSAGE_BUDGET, 0);
          let t = 0;
          for (const s of steps) {
            t += s.gap;
            expect(b.charge(s.cost, t)).toBe(ref.take(s.cost, t) === 0);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('ViolationCounter', () => {
  it('counts within a sliding window and reports exceeded past max', () => {
    const v = new ViolationCounter({ windowMs: 1000, max: 2 });
    expect(v.record(0)).toBe(1);
    expect(v.record(100)).toBe(2);
    expect(v.exceeded(100)).toBe(false);
    expect(v.record(999)).toBe(3);
    expect(v.exceeded(999)).toBe(true);
    expect(v.count(1000)).toBe(2); // the one at 0 has left the window
    expect(v.exceeded(1000)).toBe(false);
    expect(v.count(5000)).toBe(0);
  });

  it('max 0 means the first violation exceeds; bad options throw', () => {
    const v = new ViolationCounter({ windowMs: 10, max: 0 });
    expect(v.exceeded(0)).toBe(false);
    v.record(0);
    expect(v.exceeded(0)).toBe(true);
    expect(new ViolationCounter().max).toBe(VIOLATION_DEFAULTS.max);
    expect(() => new ViolationCounter({ windowMs: 0, max: 1 })).toThrow(/windowMs/);
    expect(() => new ViolationCounter({ windowMs: 10, max: 1.5 })).toThrow(/max/);
  });

  it('property: matches a naive list of every violation (count capped at max + 1)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2000 }),
        fc.integer({ min: 0, max: 6 }),
        fc.array(
          fc.record({
            // Mostly forward, sometimes a step back to exercise clamping.
            dt: fc.integer({ min: -50, max: 800 }),
            record: fc.boolean(),
          }),
          { maxLength: 200 },
        ),
        (windowMs, max, ops) => {
          const v = new ViolationCounter({ windowMs, max });
          const all: number[] = [];
          let now = 10_000;
          let latest = -Infinity; // the counter's window never moves back in time
          for (const op of ops) {
            now += op.dt;
            latest = Math.max(latest, now);
            const naive = (at: number) => all.filter((t) => Math.max(at, latest) - t < windowMs).length;
            if (op.record) {
              // The counter files a step-back violation at the newest time it has seen.
              const t = latest;
              all.push(t);
              expect(v.record(now)).toBe(Math.min(naive(t), max + 1));
            } else {
              expect(v.count(now)).toBe(Math.min(naive(now), max + 1));
              expect(v.exceeded(now)).toBe(naive(now) > max);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
