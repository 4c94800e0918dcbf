/** The generator's saturation verdict (loadtest/saturation.ts): each threshold on its own, and the cores counted. */
import { describe, expect, it } from 'vitest';
import { SATURATION_THRESHOLDS as T, judgeGenerator } from '../../loadtest/saturation.js';

const calm = { cpuPercent: 30, cpus: 1, threads: 2, loopDelayP99Ms: 2, loopUtilization: 0.3 };

describe('judgeGenerator', () => {
  it('is not saturated below every threshold', () => {
    expect(judgeGenerator(calm)).toEqual({ saturated: false, cores: 1, cpuSharePercent: 30, reasons: [] });
  });

  it.each([
    ['CPU share', { cpuPercent: T.cpuSharePercent + 1 }, /CPU/],
    ['loop delay', { loopDelayP99Ms: T.loopDelayP99Ms + 0.5 }, /delay/],
    ['loop utilisation', { loopUtilization: T.loopUtilization + 0.01 }, /busy/],
  ])('is saturated by %s alone', (_what, over, reason) => {
    const v = judgeGenerator({ ...calm, ...over });
    expect(v.saturated).toBe(true);
    expect(v.reasons).toHaveLength(1);
    expect(v.reasons[0]).toMatch(reason);
  });

  it('counts no more cores than it has threads, nor more than its CPUs', () => {
    expect(judgeGenerator({ ...calm, cpuPercent: 120, cpus: 4, threads: 2 })).toMatchObject({ cores: 2, cpuSharePercent: 60, saturated: false });
    expect(judgeGenerator({ ...calm, cpuPercent: 120, cpus: 1, threads: 4 })).toMatchObject({ cores: 1, saturated: true });
  });
});
