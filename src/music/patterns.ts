/**
 * The pattern palette of a music canvas: what a cell's value means when the canvas is in music mode.
 * A cell holds an index into this palette exactly as a pixel holds an index into the colour palette; index 0
 * is silence (the background). Pure: the operator's JSON file is parsed by `parsePatternFile`, which checks
 * everything and throws one clear message; `src/music/pattern-file.ts` reads it from disk.
 *
 * File format (docs/protocol.md "Pattern files" has the long form):
 *
 *   {
 *     "scale": { "root": 60, "intervals": [0, 2, 4, 7, 9] },   // MIDI root, semitones of one octave
 *     "beatsPerBar": 4,
 *     "subdivisions": ["1/4", "1/8", "1/8t", "1/16"],          // every pattern comes in each of these
 *     "silence": { "colour": "#14141c" },                      // palette index 0
 *     "patterns": [
 *       { "name": "kick", "voice": "kick", "pitches": [0], "steps": "x...", "colour": "#e4572e", "gain": 0.9 }
 *     ]
 *   }
 *
 * `pitches` are scale degrees (0 = root, 5 = root an octave up with a 5-note scale, -5 an octave down), played in
 * turn by the pattern's hits; a chord voice (`chord`, `stab`) plays three at once, so its pitches are chords:
 * `[[0, 2, 4], [1, 3, 5]]`. `steps` is one character per step: `x` hit, `X` accent, `.` or `-` rest. A
 * pattern may list its own `subdivisions`. The palette is silence, then each pattern in each of its
 * subdivisions (later subdivisions drawn a shade darker), at most 256 entries.
 */

/**
 * Synth voices the browser client knows, by wire id (the index). Ids are only ever appended: a client that
 * predates a voice plays it as voice 0 (a sine), and a chord voice's tones one per hit, still in the scale.
 */
export const VOICES = ['sine', 'triangle', 'square', 'sawtooth', 'bass', 'kick', 'hat', 'bell', 'snare', 'chord', 'stab'] as const;
export type VoiceName = (typeof VOICES)[number];

/** Notes one hit of each chord voice sounds together (the other voices: one). */
const CHORD_VOICES: Readonly<Partial<Record<VoiceName, number>>> = Object.freeze({ chord: 3, stab: 3 });

/** Notes a hit of voice `voice` (a VOICES index) sounds at once: 3 for the chord voices, else 1. */
export function tonesPerHit(voice: number): number {
  return CHORD_VOICES[VOICES[voice] as VoiceName] ?? 1;
}

/**
 * The MIDI notes of a pattern's hit number `hit` (hits count from 0 in each loop): `pitches` taken in turn,
 * `tonesPerHit` of them per hit, wrapping around (a chord pattern's pitches are its chords' tones in order).
 */
export function hitTones(p: Pick<MusicPattern, 'voice' | 'pitches'>, hit: number): number[] {
  const n = p.pitches.length;
  const k = tonesPerHit(p.voice);
  const out: number[] = new Array(k);
  for (let j = 0; j < k; j++) out[j] = p.pitches[(hit * k + j) % n]!;
  return out;
}

/** Subdivision names and the steps per beat they mean (t = triplet). */
export const SUBDIVISIONS: Readonly<Record<string, number>> = Object.freeze({
  '1/4': 1, '1/8': 2, '1/8t': 3, '1/16': 4, '1/16t': 6, '1/32': 8,
});

/** The subdivision name for steps per beat (for labels); `${n}/beat` when it has none. */
export function subdivisionName(stepsPerBeat: number): string {
  for (const [name, n] of Object.entries(SUBDIVISIONS)) if (n === stepsPerBeat) return name;
  return `${stepsPerBeat}/beat`;
}

/** One palette entry, as WELCOME carries it. */
export interface MusicPattern {
  /** Which pattern of the file this entry comes from (0 for silence, 1.. for the file's patterns in order). */
  group: number;
  name: string;
  /** Index into VOICES. */
  voice: number;
  /** Steps per beat: 1 = quarter notes, 3 = eighth-note triplets, 4 = sixteenths. */
  stepsPerBeat: number;
  /** 0 rest, 1 hit, 2 accent; the pattern loops over them, aligned to beat 0. Empty for silence. */
  steps: number[];
  /** MIDI notes, the n-th hit of a loop plays pitches[n % length]. */
  pitches: number[];
  /** 0..1. */
  gain: number;
  /** 0xRRGGBB, the cell's colour on screen. */
  colour: number;
}

export interface PatternPalette {
  beatsPerBar: number;
  patterns: MusicPattern[];
}

export const MAX_STEPS = 64;
export const MAX_PITCHES = 16;
export const MAX_NAME_BYTES = 32;

export class PatternFileError extends Error {
  override name = 'PatternFileError';
}

function fail(message: string): never {
  throw new PatternFileError(message);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseColour(v: unknown, where: string): number {
  if (typeof v !== 'string' || !/^#[0-9a-fA-F]{6}$/.test(v)) fail(`${where}: colour must be "#rrggbb", got ${JSON.stringify(v)}`);
  return Number.parseInt(v.slice(1), 16);
}

function parseSubdivisions(v: unknown, where: string): number[] {
  if (!Array.isArray(v) || v.length === 0) fail(`${where}: subdivisions must be a non-empty list such as ["1/8", "1/16"]`);
  const out: number[] = [];
  for (const s of v) {
    const n = typeof s === 'string' ? SUBDIVISIONS[s] : undefined;
    if (n === undefined) fail(`${where}: unknown subdivision ${JSON.stringify(s)} (known: ${Object.keys(SUBDIVISIONS).join(', ')})`);
    if (out.includes(n)) fail(`${where}: subdivision ${s} listed twice`);
    out.push(n);
  }
  return out;
}

/** Darken 0xRRGGBB by `k` (0..1) towards black. */
export function shade(rgb: number, k: number): number {
  const f = 1 - k;
  const r = Math.round(((rgb >> 16) & 0xff) * f);
  const g = Math.round(((rgb >> 8) & 0xff) * f);
  const b = Math.round((rgb & 0xff) * f);
  return (r << 16) | (g << 8) | b;
}

const KNOWN_TOP = new Set(['scale', 'beatsPerBar', 'subdivisions', 'silence', 'patterns', 'description']);
const KNOWN_PATTERN = new Set(['name', 'voice', 'pitches', 'steps', 'colour', 'gain', 'subdivisions']);

/** Validate a parsed pattern file and expand it into the palette; throws PatternFileError naming the first problem. */
export function parsePatternFile(json: unknown): PatternPalette {
  if (!isObject(json)) fail('the file must hold a JSON object');
  for (const k of Object.keys(json)) if (!KNOWN_TOP.has(k)) fail(`unknown field "${k}"`);
  const scale = json.scale;
  if (!isObject(scale)) fail('"scale" must be an object { root, intervals }');
  const root = scale.root;
  if (typeof root !== 'number' || !Number.isInteger(root) || root < 0 || root > 127) fail(`scale.root must be a MIDI note 0..127, got ${JSON.stringify(root)}`);
  const intervals = scale.intervals;
  if (!Array.isArray(intervals) || intervals.length === 0 || intervals.length > 12) fail('scale.intervals must list 1 to 12 semitones');
  intervals.forEach((s, i) => {
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || s > 11) fail(`scale.intervals[${i}] must be a semitone 0..11, got ${JSON.stringify(s)}`);
    if (i > 0 && s <= (intervals[i - 1] as number)) fail('scale.intervals must rise strictly');
  });
  const iv = intervals as number[];
  const beatsPerBar = json.beatsPerBar ?? 4;
  if (typeof beatsPerBar !== 'number' || !Number.isInteger(beatsPerBar) || beatsPerBar < 1 || beatsPerBar > 16) fail(`beatsPerBar must be an integer 1..16, got ${JSON.stringify(beatsPerBar)}`);
  const defaultSubs = json.subdivisions === undefined ? [SUBDIVISIONS['1/8']!] : parseSubdivisions(json.subdivisions, 'subdivisions');
  let silenceColour = 0x14141c;
  if (json.silence !== undefined) {
    if (!isObject(json.silence)) fail('"silence" must be an object { colour }');
    silenceColour = parseColour(json.silence.colour, 'silence');
  }
  if (!Array.isArray(json.patterns) || json.patterns.length === 0) fail('"patterns" must be a non-empty list');

  const out: MusicPattern[] = [{ group: 0, name: 'silence', voice: 0, stepsPerBeat: 1, steps: [], pitches: [], gain: 0, colour: silenceColour }];
  const names = new Set<string>();
  json.patterns.forEach((p: unknown, i: number) => {
    const where = `patterns[${i}]`;
    if (!isObject(p)) fail(`${where} must be an object`);
    for (const k of Object.keys(p)) if (!KNOWN_PATTERN.has(k)) fail(`${where}: unknown field "${k}"`);
    const name = p.name;
    if (typeof name !== 'string' || name.length === 0 || new TextEncoder().encode(name).length > MAX_NAME_BYTES) fail(`${where}: name must be 1..${MAX_NAME_BYTES} bytes of text`);
    if (names.has(name)) fail(`${where}: name "${name}" used twice`);
    names.add(name);
    const w = `${where} "${name}"`;
    const voice = VOICES.indexOf(p.voice as VoiceName);
    if (voice < 0) fail(`${w}: voice must be one of ${VOICES.join(', ')}, got ${JSON.stringify(p.voice)}`);
    const steps = p.steps;
    if (typeof steps !== 'string' || steps.length < 1 || steps.length > MAX_STEPS || !/^[xX.\-]+$/.test(steps)) {
      fail(`${w}: steps must be 1..${MAX_STEPS} characters of x (hit), X (accent), . or - (rest)`);
    }
    const stepValues = [...steps].map((c) => (c === 'X' ? 2 : c === 'x' ? 1 : 0));
    if (!stepValues.some((s) => s > 0)) fail(`${w}: steps has no hit`);
    const pitches = p.pitches;
    const tones = tonesPerHit(voice);
    const what = tones > 1 ? `chords (lists of ${tones} scale degrees, such as [[0, 2, 4], [1, 3, 5]]: a ${VOICES[voice]} hit plays ${tones} notes)` : 'scale degrees';
    if (!Array.isArray(pitches) || pitches.length < 1 || pitches.length > MAX_PITCHES) fail(`${w}: pitches must list 1..${MAX_PITCHES} ${what}`);
    const toMidi = (d: unknown, at: string): number => {
      if (typeof d !== 'number' || !Number.isInteger(d)) fail(`${w}: ${at} must be an integer scale degree, got ${JSON.stringify(d)}`);
      const octave = Math.floor(d / iv.length);
      const note = root + 12 * octave + iv[d - octave * iv.length]!;
      if (note < 0 || note > 127) fail(`${w}: ${at} (degree ${d}) is MIDI note ${note}, outside 0..127`);
      return note;
    };
    const midi = tones === 1 ? pitches.map((d, j) => toMidi(d, `pitches[${j}]`)) : pitches.flatMap((c: unknown, j: number) => {
      if (!Array.isArray(c) || c.length !== tones) fail(`${w}: pitches[${j}] must be a chord of ${tones} scale degrees, such as [0, 2, 4], got ${JSON.stringify(c)}`);
      return c.map((d, t) => toMidi(d, `pitches[${j}][${t}]`));
    });
    const gain = p.gain ?? 0.8;
    if (typeof gain !== 'number' || !(gain > 0 && gain <= 1)) fail(`${w}: gain must be in (0, 1], got ${JSON.stringify(gain)}`);
    const colour = parseColour(p.colour, w);
    const subs = p.subdivisions === undefined ? defaultSubs : parseSubdivisions(p.subdivisions, w);
    subs.forEach((spb, k) => {
      out.push({ group: i + 1, name, voice, stepsPerBeat: spb, steps: stepValues, pitches: midi, gain: Math.round(gain * 255) / 255, colour: shade(colour, 0.16 * k) });
    });
  });
  if (out.length > 256) fail(`${out.length} palette entries (silence + patterns × subdivisions); at most 256 fit a cell`);
  return { beatsPerBar, patterns: out };
}
