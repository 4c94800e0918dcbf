/**
 * Publishing a palette to a running canvas, without sockets: Conductor.publishPatterns lands the switch on
 * the first bar ≥ 2 s ahead, pads a smaller palette with unused (silent, grey) entries, announces TEMPO with
 * the PATTERN_SWITCH record, and puts the palette in force at its bar (WELCOME's info, colours); a later
 * publish replaces a pending one; a tempo change keeps the switch on its bar; what does not fit the canvas
 * is refused and changes nothing. notesWithSwitch plays the old palette before the bar and the new one from
 * it (property-checked against notesInWindow, seed printed on failure).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Conductor, MUSIC_EPOCH } from '../../src/music/conductor.js';
import { UNUSED_COLOUR, PaletteFitError } from '../../src/music/palette-switch.js';
import { parsePatternFile, type MusicPattern, type PatternPalette } from '../../src/music/patterns.js';
import { notesInWindow, notesWithSwitch, type Voice } from '../../src/music/scheduler.js';
import { timeAtBeat } from '../../src/music/tempo-map.js';
import { decodeServerMessages, type Tempo } from '../../src/net/protocol.js';

const file = (patterns: { name: string; voice: string; steps: string; colour: string; pitches?: unknown[] }[], more: Record<string, unknown> = {}) => ({
  scale: { root: 60, intervals: [0, 2, 4, 7, 9] }, subdivisions: ['1/4', '1/8'],
  patterns: patterns.map((p) => ({ pitches: [0], ...p })), ...more,
});
const START = parsePatternFile(file([
  { name: 'kick', voice: 'kick', steps: 'X...', colour: '#e4572e' },
  { name: 'hat', voice: 'hat', steps: 'x.x.', colour: '#c9d1d9' },
  { name: 'bell', voice: 'bell', steps: 'x...', colour: '#ffd23f' },
])); // 7 entries
const SMALL = parsePatternFile(file([{ name: 'tick', voice: 'hat', steps: 'x', colour: '#00ff00' }], { subdivisions: ['1/4'] })); // 2 entries

function conductorAt(t0: number) {
  const clock = { now: t0 };
  const sent: Uint8Array[] = [];
  const c = new Conductor(START, 120, () => clock.now, (b) => sent.push(b));
  return { c, clock, sent };
}

describe('Conductor.publishPatterns', () => {
  it('switches on the first bar ≥ 2 s ahead, padded with unused entries, announced as TEMPO with the switch', () => {
    const t0 = MUSIC_EPOCH + 1_000_000.25; // 120 bpm: a bar is 2 s
    const { c, clock, sent } = conductorAt(t0);
    const before = c.colours;
    const sw = c.publishPatterns(SMALL);
    expect(sw.beat % 4).toBe(0);
    expect(sw.time).toBeGreaterThanOrEqual(t0 + 2000);
    expect(sw.time).toBeLessThan(t0 + 2000 + 2000); // the first such bar
    expect(sw.time).toBe(timeAtBeat(c.tempoMap, sw.beat));
    expect(sw.patterns.map((p) => p.name)).toEqual(['silence', 'tick', 'unused', 'unused', 'unused', 'unused', 'unused']);
    expect(sw.patterns.slice(2).every((p) => p.steps.length === 0 && p.group === 0 && p.colour === UNUSED_COLOUR)).toBe(true);
    expect(sent).toHaveLength(1);
    const [tempo] = decodeServerMessages(sent[0]!) as Tempo[];
    expect(tempo!.tempoMap).toEqual(c.tempoMap);
    expect(tempo!.next!.beat).toBe(sw.beat);
    expect(tempo!.next!.patterns.map((p) => [p.name, p.voice, p.steps, p.colour])).toEqual(sw.patterns.map((p) => [p.name, p.voice, p.steps, p.colour]));
    // Until the bar: the old palette in force, the new one announced in WELCOME's info.
    clock.now = sw.time - 0.001;
    expect(c.colours).toBe(before);
    expect(c.info().patterns).toBe(START.patterns);
    expect(c.info().next!.beat).toBe(sw.beat);
    // From the bar: the new one, and no switch pending.
    clock.now = sw.time;
    expect(c.colours).toEqual(sw.patterns.map((p) => p.colour));
    expect(c.info().patterns.map((p) => p.name)).toEqual(sw.patterns.map((p) => p.name));
    expect(c.info().next).toBeUndefined();
    expect(c.pendingSwitch).toBeNull();
    expect(c.colours).toBe(c.colours); // the same array until the next switch (images cache by it)
  });

  it('a later publish before the bar replaces the pending one; a tempo change moves the time, not the bar', () => {
    const { c, clock } = conductorAt(MUSIC_EPOCH + 5_000_000);
    const first = c.publishPatterns(SMALL);
    clock.now += 100;
    const second = c.publishPatterns(START, 10_000); // further ahead than a tempo change lands
    expect(c.pendingSwitch!.patterns.map((p) => p.name)).toEqual(START.patterns.map((p) => p.name));
    expect(second.beat).toBeGreaterThan(first.beat);
    const tempo = c.changeTempo(60);
    expect(tempo.startBeat).toBeLessThan(second.beat);
    const pending = c.pendingSwitch!;
    expect(pending.beat).toBe(second.beat);
    expect(pending.time).toBe(timeAtBeat(c.tempoMap, second.beat));
    expect(pending.time).toBeGreaterThan(second.time); // half the tempo from an earlier bar: the switch's bar comes later
  });

  it('refuses what does not fit this canvas, and changes nothing', () => {
    const { c, sent } = conductorAt(MUSIC_EPOCH + 9_000_000);
    const big = parsePatternFile(file(['a', 'b', 'c', 'd'].map((n) => ({ name: n, voice: 'sine', steps: 'x', colour: '#ffffff' })))); // 9 entries
    const waltz = parsePatternFile(file([{ name: 'w', voice: 'sine', steps: 'x', colour: '#ffffff' }], { beatsPerBar: 3 }));
    const fails = (p: PatternPalette) => { try { c.publishPatterns(p); return null; } catch (err) { return err as PaletteFitError; } };
    expect(fails(big)).toMatchObject({ problem: 'TOO_MANY_PATTERNS', message: expect.stringMatching(/^9 palette entries .* this canvas holds 7/) });
    expect(fails(waltz)).toMatchObject({ problem: 'WRONG_BEATS_PER_BAR', message: expect.stringMatching(/"beatsPerBar" is 3, but this canvas has 4/) });
    expect(sent).toHaveLength(0);
    expect(c.pendingSwitch).toBeNull();
  });

  it('refuses a palette that, with the one in force, would not fit one WELCOME', () => {
    // 255 entries of long chords, names and steps: each palette alone fits, two do not.
    const name = (i: number) => `${'x'.repeat(28)}${String(i).padStart(4, '0')}`;
    const chords = Array.from({ length: 16 }, (_, k) => [k % 5, (k + 1) % 5, (k + 2) % 5]);
    const huge = (colour: string) => parsePatternFile(file(Array.from({ length: 51 }, (_, i) => ({ name: name(i), voice: 'chord', steps: 'x'.repeat(64), colour, pitches: chords })),
      { subdivisions: ['1/4', '1/8', '1/8t', '1/16', '1/16t'] }));
    const c = new Conductor(huge('#ff0000'), 100, () => MUSIC_EPOCH + 1e6);
    expect(c.paletteSize).toBe(256);
    expect(() => c.publishPatterns(huge('#00ff00'))).toThrow(expect.objectContaining({ problem: 'TOO_LARGE' }));
    expect(c.publishPatterns(SMALL).patterns).toHaveLength(256); // a small one fits
  });

  it('adopt: a palette published before a restart is in force at once', () => {
    const { c } = conductorAt(MUSIC_EPOCH + 1e6);
    c.adopt(SMALL);
    expect(c.info().patterns.map((p) => p.name).slice(0, 3)).toEqual(['silence', 'tick', 'unused']);
    expect(c.colours[1]).toBe(0x00ff00);
    expect(c.pendingSwitch).toBeNull();
  });
});

describe('notesWithSwitch', () => {
  const map = [{ startBeat: 0, startTime: 1_000_000, bpm: 100 }];
  const pattern = (voice: number, steps: number[], spb: number): MusicPattern => ({ group: 1, name: 'p', voice, stepsPerBeat: spb, steps, pitches: [60, 62], gain: 1, colour: 0 });
  const silence: MusicPattern = { group: 0, name: 'silence', voice: 0, stepsPerBeat: 1, steps: [], pitches: [], gain: 0, colour: 0 };
  const voices = (n: number): Voice[] => Array.from({ length: n }, (_, i) => ({ value: 1 + (i % 2), x: i, y: 0, pan: 0, gain: 0.5, cells: 1 }));

  it('before the bar the current palette plays, from the bar (the note on it included) the next one', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 50, max: 3000 }), fc.double({ min: -50, max: 50, noNaN: true }),
      fc.constantFrom(1, 2, 3, 4), fc.constantFrom(1, 2, 3, 4), fc.integer({ min: 1, max: 4 }),
      (bar, fromMs, lenMs, offset, spbA, spbB, nv) => {
        const cur = [silence, pattern(5, [2, 0, 1], spbA), pattern(6, [1], spbA)];
        const next = [silence, pattern(7, [1, 1, 0, 2], spbB), silence];
        const time = timeAtBeat(map, bar * 4);
        const vs = voices(nv);
        const from = time - offset - 1500 + fromMs;
        const to = from + lenMs;
        const got = notesWithSwitch(vs, cur, { time, voices: vs, patterns: next }, map, offset, from, to);
        const want = [
          ...notesInWindow(vs, cur, map, offset, from, to).filter((n) => n.time + offset < time - 1e-6),
          ...notesInWindow(vs, next, map, offset, from, to).filter((n) => n.time + offset >= time - 1e-6),
        ];
        expect(got).toEqual(want);
        // The next palette's voice 7 never sounds before the bar, the current one's never from it.
        for (const n of got) expect(n.voice === 7, `${n.time + offset} vs ${time}`).toBe(n.time + offset >= time - 1e-6);
      }), { numRuns: 300 });
    // Exactly on the bar: the next palette's note.
    const time = timeAtBeat(map, 8);
    const vs = voices(1);
    const onBar = notesWithSwitch(vs, [silence, pattern(5, [1], 1)], { time, voices: vs, patterns: [silence, pattern(7, [1], 1)] }, map, 12.5, time - 12.5 - 100, time - 12.5 + 100);
    expect(onBar.map((n) => n.voice)).toEqual([7]);
  });

  it('without a switch it is notesInWindow', () => {
    const cur = [silence, pattern(5, [2, 0, 1], 2)];
    expect(notesWithSwitch(voices(1), cur, null, map, 3, 1_000_000, 1_004_000)).toEqual(notesInWindow(voices(1), cur, map, 3, 1_000_000, 1_004_000));
  });
});
