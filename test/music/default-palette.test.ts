/**
 * The default palette (patterns/pentatonic.json): drums, basses, leads, pads and chords, every tone in C major
 * pentatonic, each pattern in four subdivisions; the first eight patterns keep the indices and sounds they
 * had (a canvas painted before sounds the same); it fits a cell and a WELCOME; and its colours, as music
 * mode draws them (client/src/music/contrast.ts), stand out from the silence, carry legible labels and
 * stay tellable apart (CIEDE2000) between patterns and between one pattern's subdivisions.
 */
import { describe, expect, it } from 'vitest';
import { contrast, displayPalette, labelColour } from '../../client/src/music/contrast.js';
import { defaultPatternFile, loadPatternFile } from '../../src/music/pattern-file.js';
import { VOICES, parsePatternFile, type MusicPattern } from '../../src/music/patterns.js';
import { decodeServerMessages, encodeWelcome, type Welcome } from '../../src/net/protocol.js';
import { deltaE2000 } from '../helpers/colour-difference.js';

const palette = loadPatternFile(defaultPatternFile());
const named = (p: MusicPattern) => VOICES[p.voice]!;

/** The default file as it was before the palette grew: its 33 entries must mean what they meant. */
const EARLIER = {
  scale: { root: 60, intervals: [0, 2, 4, 7, 9] },
  subdivisions: ['1/4', '1/8', '1/8t', '1/16'],
  patterns: [
    { name: 'kick', voice: 'kick', pitches: [-10], steps: 'X...x...', colour: '#e4572e', gain: 0.9 },
    { name: 'hat', voice: 'hat', pitches: [0], steps: 'x.xX', colour: '#c9d1d9', gain: 0.5 },
    { name: 'bass', voice: 'bass', pitches: [-10, -10, -7, -8], steps: 'X..x..x.', colour: '#8a4fff', gain: 0.8 },
    { name: 'pluck', voice: 'triangle', pitches: [0, 2, 4, 5], steps: 'x.x.x.x.', colour: '#29bf12', gain: 0.7 },
    { name: 'bell', voice: 'bell', pitches: [7, 9, 5], steps: 'X.....x.', colour: '#ffd23f', gain: 0.6 },
    { name: 'lead', voice: 'square', pitches: [4, 3, 2, 0, 1], steps: 'x.xx.x..', colour: '#3bceac', gain: 0.45 },
    { name: 'pad', voice: 'sine', pitches: [0, 4, 2, 3], steps: 'X...', colour: '#0ead69', gain: 0.6 },
    { name: 'arp', voice: 'sawtooth', pitches: [5, 7, 9, 7], steps: 'xxxx', colour: '#ff66b3', gain: 0.35 },
  ],
};

describe('the default palette', () => {
  it('offers drums, basses, leads, pads and chords, several of each kind', () => {
    const groups = new Map<number, MusicPattern>();
    for (const p of palette.patterns) if (p.group > 0 && !groups.has(p.group)) groups.set(p.group, p);
    const voices = [...groups.values()].map(named);
    const count = (kinds: string[]) => voices.filter((v) => kinds.includes(v)).length;
    expect(count(['kick', 'snare', 'hat']), 'drums').toBeGreaterThanOrEqual(3);
    expect(count(['bass']), 'basses').toBeGreaterThanOrEqual(3);
    expect(count(['triangle', 'square', 'sawtooth', 'bell']), 'leads').toBeGreaterThanOrEqual(4);
    expect(count(['sine']), 'pads').toBeGreaterThanOrEqual(2);
    expect(count(['chord', 'stab']), 'chords').toBeGreaterThanOrEqual(2);
    expect(groups.size).toBe(16);
  });

  it('every tone of every entry, chord tones included, is in C major pentatonic, across the keyboard', () => {
    const pcs = new Set([0, 2, 4, 7, 9]);
    const all: number[] = [];
    for (const p of palette.patterns) for (const n of p.pitches) {
      expect(pcs.has(n % 12), `${p.name}: MIDI ${n}`).toBe(true);
      all.push(n);
    }
    // From the bass register to the top of the leads.
    expect(Math.min(...all)).toBeLessThanOrEqual(36);
    expect(Math.max(...all)).toBeGreaterThanOrEqual(84);
  });

  it('each pattern comes in 1/4, 1/8, 1/8t and 1/16: 65 entries, within a cell and a WELCOME', () => {
    const groups = new Set(palette.patterns.filter((p) => p.group > 0).map((p) => p.group));
    for (const g of groups) {
      expect(palette.patterns.filter((p) => p.group === g).map((p) => p.stepsPerBeat), `group ${g}`).toEqual([1, 2, 3, 4]);
    }
    expect(palette.patterns).toHaveLength(1 + 16 * 4);
    expect(palette.patterns.length).toBeLessThanOrEqual(256);
    const w: Omit<Welcome, 'type'> = {
      version: 2, clientId: 1, epoch: 2, width: 64, height: 64, chunkSize: 64, tickHz: 60, serverTime: 0, background: 0,
      limits: { paintRate: 1, paintBurst: 1, maxPlaceBatch: 1, maxViewportArea: 4096, cursorHz: 1, viewportHz: 1, maxNameBytes: 0, maxMessageBytes: 100 },
      budget: { rate: 200, burst: 400, costs: { place: 1, placePerPixel: 1, viewport: 2, cursor: 1, resume: 20, hello: 20, ping: 1 } },
      session: { known: false, lastSeq: 0 }, palette: palette.patterns.map((p) => p.colour),
      music: { musicEpoch: 0, beatsPerBar: 4, tempoMap: [{ startBeat: 0, startTime: 0, bpm: 100 }], patterns: palette.patterns, next: { beat: 8, patterns: palette.patterns } },
    };
    const [back] = decodeServerMessages(encodeWelcome(w));
    expect((back as Welcome).music!.patterns.map((p) => p.name)).toEqual(palette.patterns.map((p) => p.name));
  });

  it('the first 33 entries sound as the palette before this one did (a canvas painted with it is unchanged)', () => {
    const earlier = parsePatternFile(EARLIER).patterns;
    const sound = (p: MusicPattern) => ({ group: p.group, name: p.name, voice: p.voice, stepsPerBeat: p.stepsPerBeat, steps: p.steps, pitches: p.pitches, gain: p.gain });
    expect(palette.patterns.slice(0, earlier.length).map(sound)).toEqual(earlier.map(sound));
  });

  it('as drawn: every cell stands out from the silence (3:1) and every label reads on its swatch (4.5:1)', () => {
    const shown = displayPalette(palette.patterns.map((p) => p.colour), 0);
    for (let i = 1; i < shown.length; i++) {
      expect(contrast(shown[i]!, shown[0]!), `entry ${i} ${palette.patterns[i]!.name}`).toBeGreaterThanOrEqual(3);
      const label = Number.parseInt(labelColour(shown[i]!).slice(1), 16);
      expect(contrast(label, shown[i]!), `label on entry ${i}`).toBeGreaterThanOrEqual(4.5);
    }
  });

  it('as drawn: patterns differ by ΔE2000 ≥ 10 at each subdivision, and one pattern\'s subdivisions by ≥ 3', () => {
    expect(deltaE2000(0x123456, 0x123456)).toBe(0);
    expect(deltaE2000(0x000000, 0xffffff)).toBeCloseTo(100, 0);
    const shown = displayPalette(palette.patterns.map((p) => p.colour), 0);
    const entries = palette.patterns.map((p, i) => ({ ...p, shown: shown[i]! })).filter((p) => p.group > 0);
    let worst = { d: Infinity, what: '' };
    for (const a of entries) {
      for (const b of entries) {
        if (a.group >= b.group || a.stepsPerBeat !== b.stepsPerBeat) continue;
        const d = deltaE2000(a.shown, b.shown);
        if (d < worst.d) worst = { d, what: `${a.name} and ${b.name} at ${a.stepsPerBeat}/beat` };
      }
    }
    expect(worst.d, worst.what).toBeGreaterThanOrEqual(10);
    for (const g of new Set(entries.map((p) => p.group))) {
      const shades = entries.filter((p) => p.group === g);
      for (let k = 1; k < shades.length; k++) {
        expect(deltaE2000(shades[k - 1]!.shown, shades[k]!.shown), `${shades[k]!.name}: subdivisions ${k - 1} and ${k}`).toBeGreaterThanOrEqual(3);
      }
    }
  });
});
