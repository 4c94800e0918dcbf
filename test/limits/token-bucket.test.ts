import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EPSILON, NEVER, TokenBucket, fullRefillMs } from '../../src/limits/token-bucket.js';

/**
 * Reference bucket in exact integer arithmetic, for rate = p / q tokens/s and integer ms.
 * One token is 1000·q units and each ms refills p units, so nothing is ever rounded.
 */
class ExactBucket {
  private readonly unitsPerToken: number;
  private readonly cap: number;
  private units: number;
  private last: number;

  constructor(
    private readonly p: number,
    q: number,
    burst: number,
    nowMs: number,
  ) {
    this.unitsPerToken = 1000 * q;
    this.cap = burst * this.unitsPerToken;
    this.units = this.cap;
    this.last = nowMs;
  }

  take(cost: number, nowMs: number): number {
    if (nowMs > this.last) {
      this.units = Math.min(this.cap, this.units + this.p * (nowMs - this.last));
      this.last = nowMs;
    }
    const need = cost * this.unitsPerToken;
    if (this.units >= need) {
      this.units -= need;
      return 0;
    }
    if (need > this.cap) return NEVER;
    return Math.ceil((need - this.units) / this.p);
  }

  tokens(): number {
    return this.units / this.unitsPerToken;
  }
}

/** Gaps between arrivals: often simultaneous, often short, sometimes long enough to refill. */
const gapArb = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 20_000 }));

/** A bucket shape plus a non-decreasing arrival sequence with costs in 1..burst. */
const scenarioArb = (rateArb: fc.Arbitrary<number>) =>
  fc
    .record({
      rate: rateArb,
      burst: fc.integer({ min: 1, max: 50 }),
      t0: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2_000_000_000_000 })),
    })
    .chain((shape) =>
      fc.record({
        shape: fc.constant(shape),
        steps: fc.array(fc.record({ gap: gapArb, cost: fc.integer({ min: 1, max: shape.burst }) }), {
          maxLength: 120,
        }),
      }),
    );

function timesOf(t0: number, steps: { gap: number }[]): number[] {
  const out: number[] = [];
  let t = t0;
  for (const s of steps) out.push((t += s.gap));
  return out;
}

describe('TokenBucket', () => {
  it('starts full, drains, then reports the exact wait', () => {
    const b = new TokenBucket({ rate: 2, burst: 3 }, 1000);
    expect(b.peek(1000)).toBe(3);
    expect(b.take(2, 1000)).toBe(0);
    expect(b.take(1, 1000)).toBe(0);
    // Empty; 2 tokens at 2/s take 1000 ms.
    expect(b.take(2, 1000)).toBe(1000);
    expect(b.take(2, 1999)).toBe(1);
    expect(b.take(2, 2000)).toBe(0);
    expect(b.peek(2000)).toBe(0);
  });

  it('handles fractional rates', () => {
    const b = new TokenBucket({ rate: 0.3, burst: 1 }, 0);
    expect(b.take(1, 0)).toBe(0);
    expect(b.take(1, 0)).toBe(3334); // 1 / 0.3 s = 3333.33 ms
    expect(b.take(1, 3333)).toBe(1);
    expect(b.take(1, 3334)).toBe(0);
  });

  it('accepts exactly at the refill boundary despite float rounding', () => {
    // rate 0.6/s: 5000 ms * (0.6 / 1000) is 2.9999999999999996 in floats, exactly 3 in reals.
    const b = new TokenBucket({ rate: 3 / 5, burst: 3 }, 0);
    expect(b.take(3, 0)).toBe(0);
    expect(b.take(3, 4999)).toBe(1);
    expect(b.take(3, 5000)).toBe(0);
  });

  it('returns NEVER for cost > burst, and 0 for cost 0', () => {
    const b = new TokenBucket({ rate: 1, burst: 5 }, 0);
    expect(b.take(6, 0)).toBe(NEVER);
    expect(b.take(6, 1e12)).toBe(NEVER);
    expect(b.peek(0)).toBe(5); // nothing deducted
    expect(b.take(5, 0)).toBe(0);
    expect(b.take(0, 0)).toBe(0);
  });

  it('rejects bad options and costs', () => {
    expect(() => new TokenBucket({ rate: 0, burst: 1 }, 0)).toThrow(/rate/);
    expect(() => new TokenBucket({ rate: Number.NaN, burst: 1 }, 0)).toThrow(/rate/);
    expect(() => new TokenBucket({ rate: Infinity, burst: 1 }, 0)).toThrow(/rate/);
    expect(() => new TokenBucket({ rate: 1, burst: 0.5 }, 0)).toThrow(/burst/);
    const b = new TokenBucket({ rate: 1, burst: 1 }, 0);
    expect(() => b.take(-1, 0)).toThrow(/cost/);
    expect(() => b.take(Number.NaN, 0)).toThrow(/cost/);
  });

  it('does not mint tokens when time goes backwards', () => {
    const b = new TokenBucket({ rate: 1, burst: 1 }, 1000);
    expect(b.take(1, 1000)).toBe(0);
    // Clock steps back 500 ms: the token comes back at 2000 on the bucket's clock,
    // i.e. 1500 ms after the caller's "now".
    expect(b.take(1, 500)).toBe(1500);
    expect(b.peek(0)).toBe(0);
    expect(b.take(1, 1999)).toBe(1);
    expect(b.take(1, 2000)).toBe(0);
    // NaN refills nothing.
    expect(b.take(1, Number.NaN)).toBeGreaterThan(0);
  });

  it('caps at burst after huge gaps', () => {
    const b = new TokenBucket({ rate: 1000, burst: 10 }, 0);
    expect(b.take(10, 0)).toBe(0);
    expect(b.peek(Number.MAX_SAFE_INTEGER)).toBe(10);
    expect(b.take(10, 1e15)).toBe(0);
    expect(b.take(1, 1e15)).toBe(1);
  });

  it('fullRefillMs is the ceil of burst / rate in ms', () => {
    expect(fullRefillMs({ rate: 2, burst: 3 })).toBe(1500);
    expect(fullRefillMs({ rate: 0.3, burst: 1 })).toBe(3334);
  });

  it('property: with rate p/q it decides and waits exactly like an exact-arithmetic bucket', () => {
    const rateParts = fc.record({ p: fc.integer({ min: 1, max: 1000 }), q: fc.integer({ min: 1, max: 10 }) });
    fc.assert(
      fc.property(rateParts, scenarioArb(fc.constant(0)), ({ p, q }, { shape, steps }) => {
        const b = new TokenBucket({ rate: p / q, burst: shape.burst }, shape.t0);
        const ref = new ExactBucket(p, q, shape.burst, shape.t0);
        const times = timesOf(shape.t0, steps);
        steps.forEach((s, i) => {
          expect(b.take(s.cost, times[i])).toBe(ref.take(s.cost, times[i]));
          expect(Math.abs(b.peek(times[i]) - ref.tokens())).toBeLessThan(1e-6);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('property: any arrivals — admitted cost in every interval <= burst + rate × span; rejects only when short', () => {
    const rateArb = fc.double({ min: 0.01, max: 1000, noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(scenarioArb(rateArb), ({ shape, steps }) => {
        const { rate, burst, t0 } = shape;
        const b = new TokenBucket({ rate, burst }, t0);
        const times = timesOf(t0, steps);
        // Naive reference bucket, following the same decisions.
        let refTokens = burst;
        let refLast = t0;
        const accepted: number[] = [];
        steps.forEach((s, i) => {
          const now = times[i];
          refTokens = Math.min(burst, refTokens + (rate * (now - refLast)) / 1000);
          refLast = now;
          const w = b.take(s.cost, now);
          if (w === 0) {
            expect(refTokens).toBeGreaterThanOrEqual(s.cost - 1e-6);
            refTokens = Math.max(0, refTokens - s.cost);
          } else {
            expect(w).toBeGreaterThanOrEqual(1);
            expect(Number.isInteger(w)).toBe(true);
            expect(refTokens).toBeLessThan(s.cost + 1e-6);
          }
          accepted.push(w === 0 ? s.cost : 0);
        });
        // Prefix bound from construction, and the same bound over every interval [i, j].
        for (let i = 0; i < steps.length; i++) {
          let sum = 0;
          for (let j = i; j < steps.length; j++) {
            sum += accepted[j];
            expect(sum).toBeLessThanOrEqual(burst + (rate * (times[j] - times[i])) / 1000 + 1e-6);
          }
        }
        let total = 0;
        steps.forEach((_, j) => {
          total += accepted[j];
          expect(total).toBeLessThanOrEqual(burst + (rate * (times[j] - t0)) / 1000 + 1e-6);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('property: the returned wait is exact (now + wait succeeds, now + wait - 1 fails)', () => {
    const rateArb = fc.double({ min: 0.01, max: 1000, noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(scenarioArb(rateArb), fc.integer({ min: 1, max: 50 }), ({ shape, steps }, lastCost) => {
        const { rate, burst, t0 } = shape;
        const cost = Math.min(lastCost, burst);
        const times = timesOf(t0, steps);
        const replay = (): TokenBucket => {
          const b = new TokenBucket({ rate, burst }, t0);
          steps.forEach((s, i) => b.take(s.cost, times[i]));
          return b;
        };
        const now = times.length > 0 ? times[times.length - 1] : t0;
        const w = replay().take(cost, now);
        if (w === 0) return;
        expect(replay().take(cost, now + w)).toBe(0);
        if (w > 1) expect(replay().take(cost, now + w - 1)).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });

  it('property: shuffled (non-monotonic) times never admit more than burst + rate × (latest − start)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 1000, noNaN: true, noDefaultInfinity: true }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.record({ t: fc.integer({ min: 0, max: 100_000 }), cost: fc.integer({ min: 1, max: 20 }) }), {
          maxLength: 100,
        }),
        (rate, burst, reqs) => {
          const b = new TokenBucket({ rate, burst }, 0);
          let total = 0;
          let latest = 0;
          for (const r of reqs) {
            latest = Math.max(latest, r.t);
            if (b.take(r.cost, r.t) === 0) total += r.cost;
            expect(total).toBeLessThanOrEqual(burst + (rate * latest) / 1000 + reqs.length * EPSILON + 1e-9);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
