/**
 * Renders a view through an OfflineAudioContext with the same scheduler and synth as live playback: the
 * browser tests and the benchmark use it (sample-exact, faster than real time, no speakers). Local time 0 is
 * beat 0 of the given tempo map, offset 0, so note times are audio times.
 */
import type { MusicPattern } from '../../../src/music/patterns.js';
import { DEFAULT_VOICE_CAP, notesInWindow, planVoices, type ListenerView, type MusicCell } from '../../../src/music/scheduler.js';
import type { TempoSegment } from '../../../src/music/tempo-map.js';
import { playNote } from './synth.js';

export interface OfflineRequest {
  cells: MusicCell[];
  view: ListenerView;
  seconds: number;
  patterns: readonly MusicPattern[];
  /** Default: one segment, beat 0 at time 0. */
  tempoMap?: TempoSegment[];
  bpm?: number;
  sampleRate?: number;
  cap?: number;
  /** Onset detection: a sample above threshold after gapMs of samples at or below it. */
  threshold?: number;
  gapMs?: number;
}

export interface OfflineResult {
  sampleRate: number;
  renderMs: number;
  voices: number;
  notes: number;
  /** Note start times the scheduler produced, seconds. */
  noteTimes: number[];
  /** Detected onsets in the rendered audio, seconds. */
  onsets: number[];
  rms: [number, number];
  peak: number;
}

export async function renderOffline(req: OfflineRequest): Promise<OfflineResult> {
  const sampleRate = req.sampleRate ?? 44_100;
  const map = req.tempoMap ?? [{ startBeat: 0, startTime: 0, bpm: req.bpm ?? 100 }];
  const ctx = new OfflineAudioContext({ numberOfChannels: 2, length: Math.ceil(req.seconds * sampleRate), sampleRate });
  const voices = planVoices(req.cells, req.patterns, req.view, req.cap ?? DEFAULT_VOICE_CAP);
  const notes = notesInWindow(voices, req.patterns, map, 0, 0, req.seconds * 1000);
  for (const n of notes) playNote(ctx, ctx.destination, n, n.time / 1000);
  const started = performance.now();
  const buf = await ctx.startRendering();
  const renderMs = performance.now() - started;
  const l = buf.getChannelData(0);
  const r = buf.getChannelData(1);
  const threshold = req.threshold ?? 1e-4;
  const gap = Math.round(((req.gapMs ?? 10) / 1000) * sampleRate);
  const onsets: number[] = [];
  let quiet = gap; // the start counts as silence
  let sl = 0;
  let sr = 0;
  let peak = 0;
  for (let i = 0; i < l.length; i++) {
    const a = Math.max(Math.abs(l[i]!), Math.abs(r[i]!));
    sl += l[i]! * l[i]!;
    sr += r[i]! * r[i]!;
    if (a > peak) peak = a;
    if (a > threshold) {
      if (quiet >= gap) onsets.push(i / sampleRate);
      quiet = 0;
    } else {
      quiet++;
    }
  }
  return {
    sampleRate, renderMs, voices: voices.length, notes: notes.length, noteTimes: notes.map((n) => n.time / 1000), onsets,
    rms: [Math.sqrt(sl / l.length), Math.sqrt(sr / r.length)], peak,
  };
}
