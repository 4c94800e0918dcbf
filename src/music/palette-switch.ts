/**
 * Publishing a pattern palette to a running canvas (POST /api/admin/patterns → Conductor.publishPatterns).
 * The file is checked by parsePatternFile exactly as `--patterns` is; what a running canvas adds is here.
 * Its palette size was fixed when it started — the chunk store, the storage, the shared log's shape and
 * every connected client hold that many entries — so a published palette may be smaller but not larger,
 * and is padded with unused entries (silent, drawn grey); its bar is the canvas's, since tempo changes and
 * switches land on bar boundaries every client already agrees on. Pure.
 */
import type { MusicPattern, PatternPalette } from './patterns.js';
import { timeAtBeat, type TempoMap } from './tempo-map.js';

/** Colour of an unused entry: a cell painted with a pattern the published palette no longer has. */
export const UNUSED_COLOUR = 0x5c5c66;

/** Why a valid pattern file cannot be published to this canvas (admin-api.ts maps each to an HttpError). */
export type PaletteFitProblem = 'TOO_MANY_PATTERNS' | 'WRONG_BEATS_PER_BAR' | 'TOO_LARGE';

export class PaletteFitError extends Error {
  override name = 'PaletteFitError';
  constructor(readonly problem: PaletteFitProblem, message: string) {
    super(message);
  }
}

/** A palette entry no pattern uses: silent (no steps), grey, in the silence group. */
export function unusedEntry(): MusicPattern {
  return { group: 0, name: 'unused', voice: 0, stepsPerBeat: 1, steps: [], pitches: [], gain: 0, colour: UNUSED_COLOUR };
}

/** `palette` as a canvas of `size` entries and `beatsPerBar` beats a bar plays it; throws PaletteFitError. */
export function fitPalette(palette: PatternPalette, size: number, beatsPerBar: number): MusicPattern[] {
  if (palette.beatsPerBar !== beatsPerBar) {
    throw new PaletteFitError('WRONG_BEATS_PER_BAR',
      `"beatsPerBar" is ${palette.beatsPerBar}, but this canvas has ${beatsPerBar} beats a bar (tempo changes and switches land on its bars): set "beatsPerBar": ${beatsPerBar}`);
  }
  const n = palette.patterns.length;
  if (n > size) {
    throw new PaletteFitError('TOO_MANY_PATTERNS',
      `${n} palette entries (silence + patterns × subdivisions), but this canvas holds ${size}, fixed when it started: drop patterns or subdivisions`);
  }
  const out = palette.patterns.map((p) => ({ ...p, steps: [...p.steps], pitches: [...p.pitches] }));
  while (out.length < size) out.push(unusedEntry());
  return out;
}

/** A published palette waiting for its bar. */
export interface PendingSwitch {
  /** The bar boundary (a beat) from which `patterns` play. */
  beat: number;
  patterns: MusicPattern[];
}

/** Server time (ms) at which `next` takes over under `map`: a tempo change before its bar moves it, the bar stays. */
export function switchTime(map: TempoMap, next: PendingSwitch): number {
  return timeAtBeat(map, next.beat);
}

/**
 * A publish as the shared log carries it between nodes (--redis; src/cluster holds it as opaque text): the
 * pattern file as it was posted (it passed parsePatternFile on the node that took it) and the switch bar
 * that node decided. Every node parses it again and fits it to its canvas (same size and bar: the nodes of
 * a canvas share its shape), so all play the same palette from the same beat.
 */
export interface PublishedSwitch {
  beat: number;
  file: unknown;
}

export function publishedSwitchText(sw: PublishedSwitch): string {
  return JSON.stringify({ beat: sw.beat, file: sw.file });
}

/** The switch a publishedSwitchText holds, or null for text that is not one (a bad beat, not JSON). */
export function parsePublishedSwitch(text: string): PublishedSwitch | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const { beat, file } = v as Record<string, unknown>;
  if (typeof beat !== 'number' || !Number.isSafeInteger(beat) || beat < 0 || typeof file !== 'object' || file === null) return null;
  return { beat, file };
}
