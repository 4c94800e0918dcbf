/** The tempo map: beats ↔ time are inverse, tempo changes land on bar boundaries far enough ahead and keep the beat continuous. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { beatAt, initialTempoMap, tempoMapProblem, timeAtBeat, withTempoChange, type TempoSegment } from '../../src/music/tempo-map.js';

const EPOCH = 1_700_000_000_000;
const bpm = fc.double({ min: 20, max: 300, noNaN: true });

/** A map grown by a sequence of tempo changes at increasing times, as the conductor grows it. */
const mapArb = fc.tuple(bpm, fc.array(fc.tuple(fc.integer({ min: 0, max: 60_000 }), bpm), { maxLength: 6 })).map(([b0, changes]) => {
  let map: TempoSegment[] = initialTempoMap(EPOCH, b0);
  let now = EPOCH;
  for (const [dt, b] of changes) {
    now += dt;
    map = withTempoChange(map, now, b, 4, 2000);
  }
  return { map, now };
});

describe('tempo map', () => {
  it('regression: seed 1218276835 (a map whose first segment starts after beat 0; precision, not logic)', () => {
    const map = [{ startBeat: 32, startTime: 1700000061648.8, bpm: 276.85619781936043 }, { startBeat: 44, startTime: 1700000064249.4282, bpm: 20 }];
    expect(beatAt(map, timeAtBeat(map, 0))).toBeCloseTo(0, 4);
  });

  it('timeAtBeat ∘ beatAt is the identity, and maps stay well formed', () => {
    fc.assert(fc.property(mapArb, fc.double({ min: -100, max: 5000, noNaN: true }), ({ map }, beat) => {
      expect(tempoMapProblem(map)).toBeNull();
      // Times are ~1.7e12 ms, where a double resolves ~0.25 µs: 1e-4 beat (≤ 20 µs at 300 bpm) is what can hold.
      expect(beatAt(map, timeAtBeat(map, beat))).toBeCloseTo(beat, 4);
    }));
  });

  it('a change starts on a bar boundary at least the lead ahead, and the beat before it is unchanged', () => {
    fc.assert(fc.property(mapArb, bpm, fc.integer({ min: 0, max: 100_000 }), ({ map, now }, b, later) => {
      const t = now + later;
      const next = withTempoChange(map, t, b, 4, 2000);
      const seg = next[next.length - 1]!;
      expect(seg.bpm).toBe(b);
      expect(seg.startBeat % 4).toBe(0);
      expect(seg.startTime).toBeGreaterThanOrEqual(t + 2000 - 1e-6);
      // One bar less would have been too early (or would be bar 0).
      const started = map.filter((s, i) => i === 0 || s.startTime <= t);
      expect(seg.startBeat === 4 || timeAtBeat(started, seg.startBeat - 4) < t + 2000).toBe(true);
      // Up to the change, the old map and the new agree (nobody's beat jumps).
      for (const dt of [0, 500, 1999]) expect(beatAt(next, t + dt)).toBeCloseTo(beatAt(started, t + dt), 4);
      expect(tempoMapProblem(next)).toBeNull();
    }));
  });

  it('at 100 bpm beat 4 is 2.4 s after the epoch', () => {
    const m = initialTempoMap(EPOCH, 100);
    expect(timeAtBeat(m, 4)).toBe(EPOCH + 2400);
    const m2 = withTempoChange(m, EPOCH + 100, 120, 4, 2000);
    expect(m2[1]).toEqual({ startBeat: 4, startTime: EPOCH + 2400, bpm: 120 });
    expect(timeAtBeat(m2, 8)).toBe(EPOCH + 2400 + 2000);
  });
});
