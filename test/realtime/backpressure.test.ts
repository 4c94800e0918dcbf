/**
 * The backpressure policy as a pure state machine, and its global bound: however many clients are slow,
 * the high-water mark shrinks so that together they may hold about globalBufferBytes, not high-water × clients.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BackpressurePolicy } from '../../src/realtime/backpressure.js';
import type { ClientSession } from '../../src/realtime/client-session.js';

const limits = { highWaterBytes: 256 * 1024, lowWaterBytes: 64 * 1024, hardLimitBytes: 4 * 1024 * 1024, stallTimeoutMs: 30_000, globalBufferBytes: 32 * 1024 * 1024 };

function session(): ClientSession {
  return { stale: false, staleSince: 0, dropping: false } as unknown as ClientSession;
}

describe('BackpressurePolicy', () => {
  it('fresh → stale above high water → caught up below low water → dropped past the hard limit or the stall timeout', () => {
    const p = new BackpressurePolicy(limits);
    const s = session();
    expect(p.assess(s, 1000, 0, 10)).toBe('ok');
    expect(p.assess(s, 300 * 1024, 10, 10)).toBe('stale');
    expect(s.stale && s.staleSince === 10).toBe(true);
    expect(p.assess(s, 100 * 1024, 20, 10)).toBe('hold'); // above low water: still stale
    expect(p.assess(s, 10 * 1024, 30, 10)).toBe('caughtUp');
    expect(s.stale).toBe(false);
    expect(p.assess(s, 300 * 1024, 40, 10)).toBe('stale');
    expect(p.assess(s, 100 * 1024, 40 + 30_001, 10)).toBe('drop');
    const t = session();
    expect(p.assess(t, 5 * 1024 * 1024, 0, 10)).toBe('drop');
  });

  it('the marks shrink with the crowd so that clients × high water stays within the global budget', () => {
    const p = new BackpressurePolicy(limits);
    expect(p.highWater(10)).toBe(256 * 1024);
    expect(p.highWater(1000)).toBe(Math.floor((32 * 1024 * 1024) / 1000));
    fc.assert(fc.property(fc.integer({ min: 1, max: 1_000_000 }), (n) => {
      expect(n * p.highWater(n)).toBeLessThanOrEqual(limits.globalBufferBytes);
      expect(p.highWater(n)).toBeLessThanOrEqual(limits.highWaterBytes);
      expect(p.lowWater(n)).toBeLessThanOrEqual(p.highWater(n) / 4);
    }));
  });

  it('a crowd of slow clients: each one above its share is held stale, so none is given more', () => {
    const p = new BackpressurePolicy(limits);
    const n = 10_000;
    const share = p.highWater(n); // ~3.3 KB each
    const sessions = Array.from({ length: n }, session);
    // Every client has more than its share buffered (but far less than the per-client 256 KiB mark).
    for (const s of sessions) expect(p.assess(s, share + 1, 0, n)).toBe('stale');
    expect(p.room(share + 1, 0, n)).toBeLessThan(0); // and no snapshot room either
  });
});
