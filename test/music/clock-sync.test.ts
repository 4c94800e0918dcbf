/** The NTP-style offset estimate: median of the quick half, robust to delayed pongs. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClockSync, estimateOffset, median, rttSlack } from '../../src/client/clock-sync.js';

describe('clock sync', () => {
  it('symmetric delays give the true offset exactly', () => {
    const c = new ClockSync();
    for (let i = 0; i < 8; i++) {
      expect(c.synced).toBe(false);
      c.add(1000 + i * 100, 1000 + i * 100 + 5 + 250, 1000 + i * 100 + 10);
    }
    expect(c.offset).toBe(250);
    expect(c.synced).toBe(true);
  });

  it('the error stays within half the quickest round trips (plus the slack), whatever the asymmetry of slow samples', () => {
    fc.assert(fc.property(
      fc.double({ min: -1e6, max: 1e6, noNaN: true }),
      fc.array(fc.tuple(fc.double({ min: 0, max: 2, noNaN: true }), fc.double({ min: 0, max: 2, noNaN: true }), fc.boolean(), fc.double({ min: 0, max: 50, noNaN: true })), { minLength: 3, maxLength: 16 }),
      (offset, trips) => {
        const c = new ClockSync();
        let t = 0;
        for (const [up, down, slow, extra] of trips) {
          // A slow sample waited for a tick on the way back: long and lopsided.
          const back = down + (slow ? extra : 0);
          c.add(t, t + up + offset, t + up + back);
          t += 100;
        }
        const recent = trips.slice(-16);
        const minRtt = Math.min(...recent.map(([up, down, slow, extra]) => up + down + (slow ? extra : 0)));
        expect(Math.abs(c.offset - offset)).toBeLessThanOrEqual((minRtt + rttSlack(minRtt)) / 2 + 1e-6);
        // The bound the sync reports holds, and is no looser than that.
        expect(Math.abs(c.offset - offset)).toBeLessThanOrEqual(c.bound + 1e-6);
        expect(c.bound).toBeLessThanOrEqual((minRtt + rttSlack(minRtt)) / 2 + 1e-6);
      },
    ));
  });

  it('median and estimate basics', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(estimateOffset([{ offset: 10, rtt: 1 }, { offset: 11, rtt: 1 }, { offset: 12, rtt: 2 }, { offset: 500, rtt: 90 }]).offset).toBe(11);
  });
});
