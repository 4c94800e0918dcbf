/** The pattern file: the shipped one is valid and pentatonic; bad files are refused with one clear line naming the problem. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PatternFileError, SUBDIVISIONS, VOICES, hitTones, parsePatternFile, tonesPerHit } from '../../src/music/patterns.js';
import { defaultPatternFile, loadPatternFile } from '../../src/music/pattern-file.js';

const dir = mkdtempSync(join(tmpdir(), 'pixel-canvas-patterns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = () => ({
  scale: { root: 60, intervals: [0, 2, 4, 7, 9] },
  subdivisions: ['1/8', '1/16'],
  patterns: [{ name: 'a', voice: 'sine', pitches: [0, 5, -5], steps: 'x.X-', colour: '#102030' }],
});

describe('pattern file', () => {
  it('the shipped file is valid, pentatonic, and every entry is in scale', () => {
    const p = loadPatternFile(defaultPatternFile());
    expect(p.patterns[0]!.steps).toEqual([]); // silence is index 0
    expect(p.patterns.length).toBeGreaterThan(8);
    expect(p.patterns.length).toBeLessThanOrEqual(256);
    const pcs = new Set([0, 2, 4, 7, 9]);
    for (const e of p.patterns.slice(1)) {
      for (const n of e.pitches) expect(pcs.has(n % 12), `${e.name} note ${n}`).toBe(true);
      expect(Object.values(SUBDIVISIONS)).toContain(e.stepsPerBeat);
      expect(e.voice).toBeLessThan(VOICES.length);
    }
    // triplets are on offer
    expect(p.patterns.some((e) => e.stepsPerBeat === 3)).toBe(true);
  });

  it('expands patterns × subdivisions after silence, degrees to MIDI, darker shades for later subdivisions', () => {
    const p = parsePatternFile(base());
    expect(p.patterns.map((e) => e.stepsPerBeat)).toEqual([1, 2, 4]);
    expect(p.patterns[1]!.pitches).toEqual([60, 72, 48]);
    expect(p.patterns[1]!.steps).toEqual([1, 0, 2, 0]);
    expect(p.patterns[1]!.colour).toBe(0x102030);
    expect(p.patterns[2]!.colour).not.toBe(0x102030);
    expect(p.beatsPerBar).toBe(4);
  });

  const bad: [string, (j: any) => void, RegExp][] = [
    ['unknown voice', (j) => { j.patterns[0].voice = 'kazoo'; }, /patterns\[0\] "a": voice must be one of/],
    ['bad steps', (j) => { j.patterns[0].steps = 'xo'; }, /steps must be/],
    ['no hit', (j) => { j.patterns[0].steps = '....'; }, /no hit/],
    ['bad colour', (j) => { j.patterns[0].colour = 'red'; }, /colour must be "#rrggbb"/],
    ['unknown subdivision', (j) => { j.subdivisions = ['1/5']; }, /unknown subdivision "1\/5"/],
    ['pitch off the keyboard', (j) => { j.patterns[0].pitches = [100]; }, /outside 0..127/],
    ['unknown field', (j) => { j.tempo = 3; }, /unknown field "tempo"/],
    ['duplicate name', (j) => { j.patterns.push({ ...j.patterns[0] }); }, /used twice/],
    ['too many entries', (j) => {
      j.subdivisions = ['1/4', '1/8', '1/8t', '1/16', '1/16t', '1/32'];
      for (let i = 1; i < 50; i++) j.patterns.push({ ...j.patterns[0], name: `p${i}` });
    }, /at most 256/],
    ['falling scale', (j) => { j.scale.intervals = [0, 4, 2]; }, /rise strictly/],
    ['a chord voice with single degrees', (j) => { j.patterns[0].voice = 'chord'; }, /pitches\[0\] must be a chord of 3 scale degrees, such as \[0, 2, 4\], got 0/],
    ['a chord of two notes', (j) => { j.patterns[0].voice = 'stab'; j.patterns[0].pitches = [[0, 2]]; }, /pitches\[0\] must be a chord of 3 scale degrees/],
    ['a chord tone off the keyboard', (j) => { j.patterns[0].voice = 'chord'; j.patterns[0].pitches = [[0, 2, 100]]; }, /pitches\[0\]\[2\] \(degree 100\) is MIDI note .* outside 0..127/],
    ['a chord for a one-note voice', (j) => { j.patterns[0].pitches = [[0, 2, 4]]; }, /pitches\[0\] must be an integer scale degree, got \[0,2,4\]/],
  ];
  it.each(bad)('refuses %s with a message naming the problem', (_what, mutate, re) => {
    const j = base();
    mutate(j);
    expect(() => parsePatternFile(j)).toThrow(PatternFileError);
    expect(() => parsePatternFile(j)).toThrow(re);
  });

  it('chord voices: each hit plays three degrees at once, flattened on the wire in order', () => {
    const j = base();
    j.patterns[0] = { name: 'c', voice: 'chord', pitches: [[0, 2, 4], [-1, 1, 3]] as unknown as number[], steps: 'x.x.', colour: '#102030' };
    const p = parsePatternFile(j).patterns[1]!;
    expect(VOICES[p.voice]).toBe('chord');
    expect(tonesPerHit(p.voice)).toBe(3);
    expect(p.pitches).toEqual([60, 64, 69, 57, 62, 67]);
    expect(hitTones(p, 0)).toEqual([60, 64, 69]);
    expect(hitTones(p, 1)).toEqual([57, 62, 67]);
    expect(hitTones(p, 2)).toEqual([60, 64, 69]); // the chords loop like pitches
    // One-note voices: one pitch per hit, as before.
    const one = parsePatternFile(base()).patterns[1]!;
    expect(tonesPerHit(one.voice)).toBe(1);
    expect([0, 1, 2, 3].map((h) => hitTones(one, h))).toEqual([[60], [72], [48], [60]]);
  });

  it('voice ids only grow: the first eight keep their wire ids (older clients play the rest as a sine)', () => {
    expect(VOICES.slice(0, 8)).toEqual(['sine', 'triangle', 'square', 'sawtooth', 'bass', 'kick', 'hat', 'bell']);
  });

  it('a bad file on disk: one line naming the file', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{"scale": ');
    let msg = '';
    try { loadPatternFile(file); } catch (err) { msg = (err as Error).message; }
    expect(msg).toMatch(new RegExp(`^patterns file ${file}: not valid JSON`));
    expect(msg.split('\n')).toHaveLength(1);
    expect(() => loadPatternFile(join(dir, 'missing.json'))).toThrow(/patterns file .*missing\.json: cannot read it \(ENOENT\)/);
  });
});
