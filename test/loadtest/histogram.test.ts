import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../loadtest/histogram.js';

describe('LatencyHistogram', () => {
  it('reports percentiles of known data in ms, within HDR precision (3 significant digits)', () => {
    const h = new LatencyHistogram();
    // 1 ms .. 100 ms in 10 µs steps: 10 000 samples, uniformly spread.
    for (let us = 10; us <= 100_000; us += 10) h.recordUs(us);
    const s = h.summary();
    expect(s.count).toBe(10_000);
    expect(s.p50).toBeCloseTo(50, 0);
    expect(s.p90).toBeCloseTo(90, 0);
    expect(s.p99).toBeCloseTo(99, 0);
    expect(s.p999).toBeCloseTo(99.9, 0);
    expect(Math.abs(s.max - 100) / 100).toBeLessThan(0.001);
    expect(s.mean).toBeCloseTo(50.005, 1);
  });

  it('puts a lone outlier at max and p99.9 but not p99', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 999; i++) h.recordMs(5);
    h.recordMs(500);
    const s = h.summary();
    expect(s.p50).toBeCloseTo(5, 1);
    expect(s.p99).toBeCloseTo(5, 1);
    expect(s.p999).toBeCloseTo(5, 1);
    expect(s.max).toBeCloseTo(500, 0);
    expect(h.percentileMs(100)).toBeCloseTo(500, 0);
  });

  it('is all zeros when empty, and clamps negative samples to 0', () => {
    expect(new LatencyHistogram().summary()).toEqual({ count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
    const h = new LatencyHistogram();
    h.recordUs(-5);
    expect(h.summary().max).toBe(0);
    expect(h.count).toBe(1);
  });

  it('merges with add, and recordAllUs takes typed arrays from workers', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    a.recordAllUs(Float64Array.from([1000, 2000]));
    b.recordAllUs([3000, 4000]);
    a.add(b);
    expect(a.count).toBe(4);
    expect(a.summary().max).toBeCloseTo(4, 2);
  });

  it('bins every sample exactly once, on contiguous log-spaced bins', () => {
    const h = new LatencyHistogram();
    const values = [0.5, 1, 2, 3, 8, 8, 16, 17, 250];
    for (const v of values) h.recordMs(v);
    const bins = h.bins();
    expect(bins.reduce((n, b) => n + b.count, 0)).toBe(values.length);
    for (let i = 1; i < bins.length; i++) expect(bins[i]!.fromMs).toBeCloseTo(bins[i - 1]!.toMs, 9);
    expect(bins[0]!.fromMs).toBeLessThanOrEqual(0.5);
    expect(bins[bins.length - 1]!.toMs).toBeGreaterThan(250);
    expect(new LatencyHistogram().bins()).toEqual([]);
  });
});
