/**
 * What the music browser tests compare what they heard (onsets from the independent tap, ./music-tap.ts, or
 * from a decoded recording) with: the notes the page scheduled, from the engine's trace (`takeTrace()`),
 * each with its audio time and its time on the server's clock, where the music's grid is.
 *
 * Heard and scheduled are compared interval by interval, in audio time. What a page hears is on the grid
 * only as well as its clock estimate follows the server's and its output follows the audio clock: a busy
 * machine moves the offset estimate or the output timestamps, and the page re-plans what is ahead by as
 * much (which is right: it keeps the page on the server's beat). How far off the grid that leaves the sound
 * is a timing figure (bench/music.bench.ts), not a test's; that the page scheduled every hit on the grid,
 * each through the clock mapping in force, and that each sounded where it was scheduled, nothing lost and
 * nothing added, is behaviour.
 */
import type { NoteTrace } from '../../client/src/music/engine.js';

/**
 * The notes that played, in audio-time order: a note cancelled and re-planned is in the trace again with its
 * server time, and the later entry is the one that sounds.
 */
export function playedNotes(trace: readonly NoteTrace[]): NoteTrace[] {
  const last = new Map<string, NoteTrace>();
  for (const t of trace) last.set(`${t.server.toFixed(3)}:${t.value}`, t);
  return [...last.values()].sort((a, b) => a.audio - b.audio);
}

export interface HeardMatch {
  /** The played notes the onsets were matched with, one per onset, in order. */
  notes: NoteTrace[];
  /** Each onset's interval from the one before, minus its note's (ms; 0 for the first). */
  errorsMs: number[];
}

/**
 * Lines `onsets` (seconds, on any timeline that runs with the audio clock: the tap's, a recording's) up with
 * consecutive `played` notes: the first onset with the note from which the most intervals agree within
 * `tolMs`. Every onset has a note only when the onsets hold exactly the played notes of their span, each
 * where it was scheduled; otherwise `notes` is shorter than `onsets` (the match stops at the first interval
 * that disagrees).
 */
export function matchHeard(onsets: readonly number[], played: readonly NoteTrace[], tolMs: number): HeardMatch {
  let best: HeardMatch = { notes: [], errorsMs: [] };
  for (let j = 0; j < played.length; j++) {
    const notes = [played[j]!];
    const errorsMs = [0];
    for (let i = 1; i < onsets.length && j + i < played.length; i++) {
      const err = ((onsets[i]! - onsets[i - 1]!) - (played[j + i]!.audio - played[j + i - 1]!.audio)) * 1000;
      if (Math.abs(err) > tolMs) break;
      notes.push(played[j + i]!);
      errorsMs.push(err);
    }
    if (notes.length > best.notes.length) best = { notes, errorsMs };
  }
  return best;
}

/**
 * Where `notes` fall on a pattern of `steps` (stepMs apart on the server's clock): each note's step counted
 * from the first, how far the furthest is from a whole step (ms: floating point only, when the page planned
 * them on the grid), the loop phase that makes every note a hit of the pattern (undefined: none does), and
 * the pattern's hits between the first and the last note that have no note.
 */
export function onPattern(notes: readonly NoteTrace[], steps: readonly number[], stepMs: number): { ks: number[]; offGridMs: number; phase: number | undefined; missing: number[] } {
  const first = notes[0]?.server ?? 0;
  const ks = notes.map((n) => Math.round((n.server - first) / stepMs));
  const offGridMs = Math.max(0, ...notes.map((n, i) => Math.abs(n.server - first - ks[i]! * stepMs)));
  const len = steps.length;
  const phase = [...Array(len).keys()].find((s0) => ks.every((k) => steps[(s0 + k) % len]! > 0));
  const got = new Set(ks);
  const missing: number[] = [];
  if (phase !== undefined) for (let k = 0; k <= (ks[ks.length - 1] ?? -1); k++) if (steps[(phase + k) % len]! > 0 && !got.has(k)) missing.push(k);
  return { ks, offGridMs, phase, missing };
}

/**
 * How often the clock mapping that placed `notes` changes from one to the next. The engine puts a note at
 * its local time through the local↔audio mapping in force, so audio·1000 − local is that mapping's constant
 * (to rounding); it moves only when the engine re-anchors (its `clockRemaps`). A note placed anywhere else
 * is a change no re-anchoring accounts for.
 */
export function mappingChanges(notes: readonly NoteTrace[]): number {
  let changes = 0;
  for (let i = 1; i < notes.length; i++) {
    const a = notes[i - 1]!.audio * 1000 - notes[i - 1]!.local;
    const b = notes[i]!.audio * 1000 - notes[i]!.local;
    if (Math.abs(a - b) > 0.01) changes++;
  }
  return changes;
}
