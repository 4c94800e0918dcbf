/** The tempo map: beats ↔ time are inverse, tempo changes land on bar boundaries far enough ahead and keep the beat continuous. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  beatAt, initialTempoMap, parseTempoMapText, tempoMapProblem, tempoMapText, timeAtBeat, withTempoChange, type TempoSegment,
} from '../../src/music/tempo-map.js';
import { Conductor } from '../../src/music/conductor.js';
import { decodeServerMessages } from '../../src/net/protocol.js';
import { defaultPatternFile, loadPatternFile } from '../../src/music/pattern-file.js';

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

  it('the text a shared log carries (src/cluster) gives back the very map, bit for bit; anything else is refused', () => {
    fc.assert(fc.property(mapArb, ({ map }) => {
      expect(parseTempoMapText(tempoMapText(map))).toEqual(map);
    }));
    const good = tempoMapText([{ startBeat: 0, startTime: EPOCH, bpm: 100 }]);
    expect(good).toBe(`[[0,${EPOCH},100]]`);
    for (const bad of ['', 'x', 'null', '{}', '[]', '[[0,1]]', '[[0,1,"100"]]', '[[0,1,1000]]', `[[0,${EPOCH},100],[4,${EPOCH},100]]`,
      JSON.stringify(Array.from({ length: 40 }, (_, i) => [i * 4, EPOCH + i * 2400, 100]))]) {
      expect(parseTempoMapText(bad), bad.slice(0, 40)).toBeNull();
    }
  });
});

describe('Conductor: a map decided elsewhere', () => {
  it('adoptTempoText holds a valid map and announces it once; an equal map or a bad text changes nothing', () => {
    const sent: Uint8Array[] = [];
    let now = EPOCH;
    const c = new Conductor(loadPatternFile(defaultPatternFile()), 100, () => now, (b) => sent.push(b));
    const planned = c.planTempo(140);
    expect(c.tempoMap).toHaveLength(1); // planning holds nothing
    expect(c.adoptTempoText(tempoMapText(planned))).toBe(true);
    expect(c.tempoMap).toEqual(planned);
    expect(sent).toHaveLength(1);
    expect(decodeServerMessages(sent[0]!)).toEqual([{ type: 'tempo', tempoMap: planned }]);
    expect(c.adoptTempoText(tempoMapText(planned))).toBe(true);
    expect(sent).toHaveLength(1);
    expect(c.adoptTempoText('[[0,1,9999]]')).toBe(false);
    expect(c.tempoMap).toEqual(planned);
    // changeTempo (a single node) is plan + hold.
    now += 500;
    const seg = c.changeTempo(90);
    expect(c.tempoMap.at(-1)).toEqual(seg);
    expect(sent).toHaveLength(2);
  });
});
