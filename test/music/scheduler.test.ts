/**
 * The pure scheduler against a naive model: with no voice cap, the notes of a window are exactly those of
 * every heard cell at every step of its pattern inside the window, with pan from the horizontal offset and
 * gain from distance and zoom. Plus the voice cap's choice. fast-check prints the seed on failure.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VOICES, parsePatternFile, type MusicPattern } from '../../src/music/patterns.js';
import { loadPatternFile, defaultPatternFile } from '../../src/music/pattern-file.js';
import { DEFAULT_VOICE_CAP, SPATIAL, notesInWindow, planVoices, spatialize, type ListenerView, type MusicCell, type Note } from '../../src/music/scheduler.js';
import { initialTempoMap, timeAtBeat, withTempoChange, type TempoSegment } from '../../src/music/tempo-map.js';

const EPOCH = 1_700_000_000_000;
const PATTERNS = loadPatternFile(defaultPatternFile()).patterns;

/** The model: every cell, every step, straight from the definitions (no sorting tricks, no step arithmetic shortcuts). */
function naiveNotes(cells: MusicCell[], patterns: readonly MusicPattern[], view: ListenerView, map: TempoSegment[], offset: number, from: number, to: number): Note[] {
  const notes: (Note & { i: number })[] = [];
  // Headroom: the heard cells' gains (pattern gain × level) are scaled down alike if they add up past the limit.
  let total = 0;
  const heard: number[] = [];
  cells.forEach((c, i) => {
    const p = patterns[c.value]!;
    const d = Math.hypot(c.x + 0.5 - view.cx, c.y + 0.5 - view.cy) / Math.hypot(view.halfW, view.halfH);
    if (p.steps.length === 0 || d > SPATIAL.hearRadius) return;
    heard.push(i);
    total += p.gain * SPATIAL.voiceGain * Math.sqrt(Math.min(1, view.zoom / SPATIAL.fullZoom)) / (1 + SPATIAL.distanceK * d * d);
  });
  const scale = total > SPATIAL.maxTotalGain ? SPATIAL.maxTotalGain / total : 1;
  cells.forEach((c, i) => {
    const p = patterns[c.value]!;
    if (p.steps.length === 0) return;
    const x = c.x + 0.5;
    const y = c.y + 0.5;
    const d = Math.hypot(x - view.cx, y - view.cy) / Math.hypot(view.halfW, view.halfH);
    if (d > SPATIAL.hearRadius) return;
    const level = SPATIAL.voiceGain * Math.sqrt(Math.min(1, view.zoom / SPATIAL.fullZoom)) / (1 + SPATIAL.distanceK * d * d);
    const pan = Math.max(-1, Math.min(1, (x - view.cx) / view.halfW));
    const spb = p.stepsPerBeat;
    // Every step from well before to well after the window.
    for (let k = -2000 * spb; k < 4000 * spb; k++) {
      const t = timeAtBeat(map, k / spb);
      if (t < from + offset || t >= to + offset) continue;
      const step = ((k % p.steps.length) + p.steps.length) % p.steps.length;
      if (p.steps[step] === 0) continue;
      let hitsBefore = 0;
      for (let j = 0; j < step; j++) if (p.steps[j]! > 0) hitsBefore++;
      // Hit n of a loop sounds pitches[(n·m + j) mod count] for j < m: m = 3 for the chord voices, else 1.
      const m = VOICES[p.voice] === 'chord' || VOICES[p.voice] === 'stab' ? 3 : 1;
      const tones = Array.from({ length: m }, (_, j) => p.pitches[(hitsBefore * m + j) % p.pitches.length]!);
      notes.push({
        i, time: t - offset, voice: p.voice, midi: tones[0]!, pan,
        gain: p.gain * level * scale * (p.steps[step] === 2 ? 1 : SPATIAL.hitLevel), duration: 0, value: c.value, x, y,
        ...(m > 1 ? { chord: tones.slice(1) } : {}),
      });
    }
  });
  return notes.sort((a, b) => a.time - b.time || a.i - b.i);
}

const viewArb = fc.record({
  cx: fc.double({ min: 0, max: 96, noNaN: true }),
  cy: fc.double({ min: 0, max: 96, noNaN: true }),
  halfW: fc.double({ min: 2, max: 100, noNaN: true }),
  halfH: fc.double({ min: 2, max: 100, noNaN: true }),
  zoom: fc.double({ min: 0.05, max: 64, noNaN: true }),
});
const cellsArb = fc.uniqueArray(
  fc.record({ x: fc.integer({ min: 0, max: 127 }), y: fc.integer({ min: 0, max: 127 }), value: fc.integer({ min: 0, max: PATTERNS.length - 1 }) }),
  { minLength: 1, maxLength: 20, selector: (c) => `${c.x},${c.y}` },
);
const mapArb = fc.tuple(fc.integer({ min: 40, max: 240 }), fc.option(fc.tuple(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 40, max: 240 })))).map(([b, change]) => {
  const m = initialTempoMap(EPOCH, b);
  return change === null ? m : withTempoChange(m, EPOCH + change[0], change[1], 4, 2000);
});

describe('scheduler', () => {
  let totalNotes = 0;
  it('without a cap, the notes of a window are the naive model\'s (times, pitches, pans, gains)', () => {
    fc.assert(fc.property(
      cellsArb, viewArb, mapArb, fc.double({ min: -5000, max: 5000, noNaN: true }), fc.double({ min: 0, max: 40_000, noNaN: true }), fc.oneof(fc.integer({ min: 0, max: 4000 }), fc.double({ min: 0, max: 50, noNaN: true })),
      (cells, view, map, offset, start, len) => {
        const from = EPOCH + start - offset;
        const to = from + len;
        const got = notesInWindow(planVoices(cells, PATTERNS, view, 1000), PATTERNS, map, offset, from, to);
        const want = naiveNotes(cells, PATTERNS, view, map, offset, from, to);
        // Same multiset; planVoices orders voices by loudness, so compare sorted by (time, value, pan, gain).
        const key = (n: Note) => [n.time, n.value, n.midi, n.pan, n.gain] as const;
        const sort = (a: Note[]) => [...a].sort((p, q) => { const x = key(p); const y = key(q); for (let i = 0; i < 5; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1; return 0; });
        const g = sort(got);
        const w = sort(want);
        expect(g.length).toBe(w.length);
        totalNotes += g.length;
        for (let i = 0; i < g.length; i++) {
          expect(g[i]!.time).toBe(w[i]!.time);
          expect(g[i]!.midi).toBe(w[i]!.midi);
          expect(g[i]!.chord).toEqual(w[i]!.chord);
          expect(g[i]!.voice).toBe(w[i]!.voice);
          expect(g[i]!.pan).toBeCloseTo(w[i]!.pan, 9);
          expect(g[i]!.gain).toBeCloseTo(w[i]!.gain, 9);
          expect(g[i]!.time).toBeGreaterThanOrEqual(from);
          expect(g[i]!.time).toBeLessThan(to);
        }
      },
    ), { numRuns: 150 });
    expect(totalNotes).toBeGreaterThan(200); // the property saw real notes, not empty windows
  });

  it('consecutive windows partition the notes: nothing doubled or lost at a window edge', () => {
    fc.assert(fc.property(cellsArb, viewArb, mapArb, fc.array(fc.double({ min: 0, max: 300, noNaN: true }), { minLength: 1, maxLength: 20 }), (cells, view, map, cuts) => {
      const voices = planVoices(cells, PATTERNS, view, 1000);
      const from = EPOCH + 1000;
      let t = from;
      const pieces: Note[] = [];
      for (const c of cuts) {
        pieces.push(...notesInWindow(voices, PATTERNS, map, 0, t, t + c));
        t += c;
      }
      const whole = notesInWindow(voices, PATTERNS, map, 0, from, t);
      expect(pieces.map((n) => `${n.time}/${n.value}/${n.pan}`).sort()).toEqual(whole.map((n) => `${n.time}/${n.value}/${n.pan}`).sort());
    }), { numRuns: 150 });
  });

  it('a note\'s gate is 90% of the steps to the next hit, across the loop', () => {
    const p = parsePatternFile({ scale: { root: 60, intervals: [0] }, subdivisions: ['1/4'], patterns: [{ name: 'p', voice: 'sine', pitches: [0], steps: 'x..x.', colour: '#ffffff' }] }).patterns;
    const voices = planVoices([{ x: 10, y: 10, value: 1 }], p, { cx: 10.5, cy: 10.5, halfW: 20, halfH: 20, zoom: 16 });
    const notes = notesInWindow(voices, p, initialTempoMap(EPOCH, 100), 0, EPOCH, EPOCH + 3000);
    // Beats of 600 ms: hits at steps 0 and 3 of 5; 3 steps to the second, then 2 round the loop.
    expect(notes.map((n) => [n.time - EPOCH, n.duration])).toEqual([[0, 3 * 540], [1800, 2 * 540]].map(([t, d]) => [expect.closeTo(t!, 6), expect.closeTo(d!, 6)]));
  });

  it('onsets fall on the grid: 100 bpm, 1/8t plays every 200 ms from beat 0', () => {
    const p = parsePatternFile({ scale: { root: 60, intervals: [0] }, subdivisions: ['1/8t'], patterns: [{ name: 'p', voice: 'sine', pitches: [0], steps: 'x', colour: '#ffffff' }] }).patterns;
    const voices = planVoices([{ x: 10, y: 10, value: 1 }], p, { cx: 10.5, cy: 10.5, halfW: 20, halfH: 20, zoom: 16 });
    const notes = notesInWindow(voices, p, initialTempoMap(EPOCH, 100), 0, EPOCH, EPOCH + 1000);
    expect(notes.map((n) => n.time - EPOCH)).toEqual([0, 200, 400, 600, 800].map((t) => expect.closeTo(t, 9)));
    expect(notes[0]!.pan).toBe(0);
  });

  it('pan follows the horizontal offset; zooming out lowers the level; distance attenuates', () => {
    const v: ListenerView = { cx: 100, cy: 100, halfW: 40, halfH: 30, zoom: 16 };
    const one = (x: number, y: number, view = v) => planVoices([{ x, y, value: 1 }], PATTERNS, view)[0];
    expect(one(79.5, 99.5)!.pan).toBeCloseTo(-0.5, 9);
    expect(one(119.5, 99.5)!.pan).toBeCloseTo(0.5, 9);
    expect(one(99.5, 99.5)!.gain).toBeGreaterThan(one(99.5, 119.5)!.gain);
    expect(one(99.5, 99.5, { ...v, zoom: 2 })!.gain).toBeLessThan(one(99.5, 99.5)!.gain);
    expect(one(500, 500)).toBeUndefined(); // out of hearing
  });

  it('planVoices places a lone cell exactly as spatialize() says (the hot loop inlines it)', () => {
    fc.assert(fc.property(viewArb, fc.integer({ min: 0, max: 127 }), fc.integer({ min: 0, max: 127 }), fc.integer({ min: 1, max: PATTERNS.length - 1 }), (view, x, y, value) => {
      const s = spatialize(x + 0.5, y + 0.5, view);
      const v = planVoices([{ x, y, value }], PATTERNS, view)[0];
      if (s === null) {
        expect(v).toBeUndefined();
        return;
      }
      const g = Math.min(PATTERNS[value]!.gain * s.level, SPATIAL.maxTotalGain);
      expect(v!.pan).toBeCloseTo(s.pan, 12);
      expect(v!.gain).toBeCloseTo(g, 12);
    }));
  });
});

describe('voice cap', () => {
  const bigCells = fc.uniqueArray(
    fc.record({ x: fc.integer({ min: 0, max: 511 }), y: fc.integer({ min: 0, max: 511 }), value: fc.integer({ min: 1, max: PATTERNS.length - 1 }) }),
    { minLength: 0, maxLength: 400, selector: (c) => `${c.x},${c.y}` },
  );
  const wideView = fc.record({
    cx: fc.double({ min: 0, max: 512, noNaN: true }), cy: fc.double({ min: 0, max: 512, noNaN: true }),
    halfW: fc.double({ min: 50, max: 400, noNaN: true }), halfH: fc.double({ min: 50, max: 400, noNaN: true }), zoom: fc.double({ min: 0.1, max: 32, noNaN: true }),
  });

  it('never more than the cap; under it, one voice per heard cell; loudest cells keep their own voice', () => {
    fc.assert(fc.property(bigCells, wideView, fc.integer({ min: 1, max: 64 }), (cells, view, cap) => {
      const all = planVoices(cells, PATTERNS, view, 100_000);
      const capped = planVoices(cells, PATTERNS, view, cap);
      expect(capped.length).toBeLessThanOrEqual(cap);
      // Headroom: never more than the limit in total.
      expect(capped.reduce((s, v) => s + v.gain, 0)).toBeLessThanOrEqual(SPATIAL.maxTotalGain + 1e-9);
      if (all.length <= cap) {
        expect(capped).toEqual(all);
        return;
      }
      expect(capped.length).toBe(Math.min(cap, Math.floor(cap / 2) + new Set(all.slice(Math.floor(cap / 2)).map((v) => `${Math.floor(v.x / 64)},${Math.floor(v.y / 64)},${v.value}`)).size));
      // The first cap/2 are the loudest cells, individually, in order.
      const own = Math.floor(cap / 2);
      const pick = (v: (typeof all)[number]) => [v.value, v.x, v.y, v.pan, v.cells];
      expect(capped.slice(0, own).map(pick)).toEqual(all.slice(0, own).map(pick));
      // Their relative levels are kept.
      for (let i = 1; i < own; i++) expect(capped[i]!.gain / capped[0]!.gain).toBeCloseTo(all[i]!.gain / all[0]!.gain, 9);
      // Every cell is accounted for at most once; no cell left without a voice of its own is louder than one with.
      const counted = capped.reduce((n, v) => n + v.cells, 0);
      expect(counted).toBeLessThanOrEqual(all.length);
      const quietestOwn = all[own - 1]?.gain ?? Infinity;
      for (const v of all.slice(own)) expect(v.gain).toBeLessThanOrEqual(quietestOwn + 1e-12);
    }), { numRuns: 100 });
  });

  it('1000 active cells in view stay within the default cap', () => {
    const cells: MusicCell[] = [];
    for (let i = 0; i < 1000; i++) cells.push({ x: (i * 37) % 300, y: (i * 91) % 300, value: 1 + (i % (PATTERNS.length - 1)) });
    const voices = planVoices(cells, PATTERNS, { cx: 150, cy: 150, halfW: 160, halfH: 160, zoom: 2 });
    expect(voices.length).toBe(DEFAULT_VOICE_CAP);
    expect(voices.reduce((n, v) => n + v.cells, 0)).toBeGreaterThan(DEFAULT_VOICE_CAP);
  });
});
