import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConnectionCounter, IpLimiter } from '../../src/limits/ip-limiter.js';
import { IP_LIMITER_DEFAULTS } from '../../src/defaults.js';
import { NEVER, TokenBucket, fullRefillMs } from '../../src/limits/token-bucket.js';

describe('IpLimiter', () => {
  it('keeps IPs independent', () => {
    const lim = new IpLimiter({ rate: 1, burst: 3 });
    expect(lim.take('a', 3, 0)).toBe(0);
    expect(lim.take('a', 1, 0)).toBe(1000);
    expect(lim.take('b', 3, 0)).toBe(0);
    expect(lim.take('b', 1, 500)).toBe(500);
    expect(lim.take('a', 1, 1000)).toBe(0);
    expect(lim.peek('c', 1000)).toBe(3);
    expect(lim.take('a', 4, 1000)).toBe(NEVER);
    expect(lim.size).toBe(2);
  });

  it('derives idleMs from the refill time and refuses anything shorter', () => {
    const lim = new IpLimiter({ rate: 2, burst: 10 });
    expect(lim.idleMs).toBe(fullRefillMs({ rate: 2, burst: 10 }) + 1);
    expect(lim.maxEntries).toBe(IP_LIMITER_DEFAULTS.maxEntries);
    expect(new IpLimiter({ rate: 2, burst: 10, idleMs: 60_000 }).idleMs).toBe(60_000);
    expect(() => new IpLimiter({ rate: 2, burst: 10, idleMs: 4000 })).toThrow(/idleMs must be >= 5001/);
    expect(() => new IpLimiter({ rate: 2, burst: 10, maxEntries: 0 })).toThrow(/maxEntries/);
    expect(() => new IpLimiter({ rate: -1, burst: 10 })).toThrow(/rate/);
  });

  for (const epoch of [0, 1_700_000_000_000]) {
    it(`forgets a bucket only after idleMs without takes (clock starting at ${epoch})`, () => {
      const lim = new IpLimiter({ rate: 1, burst: 2 }); // idleMs 2001
      expect(lim.take('a', 2, epoch)).toBe(0);
      lim.prune(epoch + 2001);
      expect(lim.size).toBe(1);
      // A take re-arms the idle timer.
      expect(lim.take('a', 1, epoch + 2001)).toBe(0);
      lim.prune(epoch + 4002);
      expect(lim.size).toBe(1);
      lim.prune(epoch + 4003);
      expect(lim.size).toBe(0);
    });
  }

  it('expires a bucket first seen at time 0 (lru-cache treats a start of 0 as "no ttl")', () => {
    const lim = new IpLimiter({ rate: 1, burst: 1 }); // idleMs 1001
    lim.take('a', 1, 0);
    lim.prune(1002);
    expect(lim.size).toBe(0);
  });

  it('stays within maxEntries under a flood of 1M distinct IPs', () => {
    const maxEntries = 10_000;
    const lim = new IpLimiter({ rate: 1, burst: 5, maxEntries });
    let t = 0;
    for (let i = 0; i < 1_000_000; i++) {
      // Distinct v4-looking keys; time advances slowly so nothing goes idle.
      const ip = `10.${i >>> 16}.${(i >>> 8) & 255}.${i & 255}`;
      if (lim.take(ip, 1, t) !== 0) throw new Error(`fresh ip ${ip} refused`);
      if ((i & 1023) === 0) {
        t++;
        expect(lim.size).toBeLessThanOrEqual(maxEntries);
      }
    }
    expect(lim.size).toBe(maxEntries);
  });

  it('documented trade-off: when full, LRU eviction of an active IP resets its bucket', () => {
    const lim = new IpLimiter({ rate: 1, burst: 1, maxEntries: 2 });
    expect(lim.take('a', 1, 0)).toBe(0);
    expect(lim.take('a', 1, 0)).toBeGreaterThan(0);
    lim.take('b', 1, 0);
    lim.take('c', 1, 0); // evicts 'a', the least recently used
    expect(lim.take('a', 1, 0)).toBe(0);
  });

  it('property: idle eviction is unobservable — same answers as never-forgotten per-IP buckets', () => {
    const scenario = fc
      .record({
        rate: fc.double({ min: 0.05, max: 100, noNaN: true, noDefaultInfinity: true }),
        burst: fc.integer({ min: 1, max: 10 }),
        ips: fc.integer({ min: 1, max: 5 }),
        t0: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2_000_000_000_000 })),
      })
      .chain((shape) =>
        fc.record({
          shape: fc.constant(shape),
          // Gaps scaled to the refill time so idle expiry happens often, including right at it.
          steps: fc.array(
            fc.record({
              gap: fc.oneof(
                fc.constant(0),
                fc.integer({ min: 0, max: 30 }),
                fc.integer({ min: 0, max: 3 * fullRefillMs(shape) }),
                fc.constant(fullRefillMs(shape) + 1),
                fc.constant(fullRefillMs(shape) + 2),
              ),
              ip: fc.integer({ min: 0, max: shape.ips - 1 }),
              cost: fc.integer({ min: 1, max: shape.burst }),
              prune: fc.boolean(),
            }),
            { maxLength: 150 },
          ),
        }),
      );
    fc.assert(
      fc.property(scenario, ({ shape, steps }) => {
        const { rate, burst, ips, t0 } = shape;
        // maxEntries = number of IPs: only idle expiry can drop a bucket, never LRU pressure.
        const lim = new IpLimiter({ rate, burst, maxEntries: ips });
        const ref = new Map<number, TokenBucket>();
        const admitted: { ip: number; t: number; cost: number }[] = [];
        let t = t0;
        for (const s of steps) {
          t += s.gap;
          if (s.prune) lim.prune(t);
          let bucket = ref.get(s.ip);
          if (bucket === undefined) ref.set(s.ip, (bucket = new TokenBucket({ rate, burst }, t)));
          const got = lim.take(`ip${s.ip}`, s.cost, t);
          expect(got).toBe(bucket.take(s.cost, t));
          if (got === 0) admitted.push({ ip: s.ip, t, cost: s.cost });
          expect(lim.size).toBeLessThanOrEqual(ips);
        }
        // And directly: per IP, admitted cost in any interval <= burst + rate × span.
        for (let ip = 0; ip < ips; ip++) {
          const mine = admitted.filter((a) => a.ip === ip);
          for (let i = 0; i < mine.length; i++) {
            let sum = 0;
            for (let j = i; j < mine.length; j++) {
              sum += mine[j].cost;
              expect(sum).toBeLessThanOrEqual(burst + (rate * (mine[j].t - mine[i].t)) / 1000 + 1e-6);
            }
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('property: size never exceeds maxEntries, whatever the traffic', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.record({ ip: fc.integer({ min: 0, max: 30 }), gap: fc.integer({ min: 0, max: 5000 }) }), {
          maxLength: 200,
        }),
        (maxEntries, steps) => {
          const lim = new IpLimiter({ rate: 1, burst: 2, maxEntries });
          let t = 0;
          for (const s of steps) {
            lim.take(String(s.ip), 1, (t += s.gap));
            expect(lim.size).toBeLessThanOrEqual(maxEntries);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('ConnectionCounter', () => {
  it('caps per IP and forgets IPs at zero', () => {
    const c = new ConnectionCounter({ maxPerIp: 2 });
    expect(c.tryAcquire('a')).toBe(true);
    expect(c.tryAcquire('a')).toBe(true);
    expect(c.tryAcquire('a')).toBe(false);
    expect(c.tryAcquire('b')).toBe(true);
    expect(c.count('a')).toBe(2);
    expect(c.total).toBe(3);
    expect(c.release('a')).toBe(true);
    expect(c.release('a')).toBe(true);
    expect(c.release('a')).toBe(false); // double release is harmless
    expect(c.count('a')).toBe(0);
    expect(c.ips).toBe(1);
    expect(c.total).toBe(1);
    expect(() => new ConnectionCounter({ maxPerIp: 0 })).toThrow(/maxPerIp/);
  });

  it('property: matches a model, never exceeds maxPerIp, holds only IPs with connections', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.record({ acquire: fc.boolean(), ip: fc.integer({ min: 0, max: 5 }) }), { maxLength: 200 }),
        (maxPerIp, ops) => {
          const c = new ConnectionCounter({ maxPerIp });
          const model = new Array<number>(6).fill(0);
          for (const op of ops) {
            const ip = `ip${op.ip}`;
            if (op.acquire) {
              const ok = model[op.ip] < maxPerIp;
              expect(c.tryAcquire(ip)).toBe(ok);
              if (ok) model[op.ip]++;
            } else {
              const ok = model[op.ip] > 0;
              expect(c.release(ip)).toBe(ok);
              if (ok) model[op.ip]--;
            }
            expect(c.count(ip)).toBe(model[op.ip]);
            expect(c.count(ip)).toBeLessThanOrEqual(maxPerIp);
            expect(c.total).toBe(model.reduce((a, b) => a + b, 0));
            expect(c.ips).toBe(model.filter((n) => n > 0).length);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
