/**
 * Renders a view through an OfflineAudioContext with the same scheduler and synth as live playback: the
 * browser tests and the benchmark use it (sample-exact, faster than real time, no speakers). Local time 0 is
 * beat 0 of the given tempo map, offset 0, so note times are audio times.
 */
import type { MusicPattern } from '../../../src/music/patterns.js';
import { DEFAULT_VOICE_CAP, notesInWindow, planVoices, type ListenerView, type MusicCell } from '../../../src/music/scheduler.js';
import type { TempoSegment } from '../../../src/music/tempo-map.js';
import { VoiceChoke, playNote } from './synth.js';

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
  /**
   * Onsets are detected on stems (default true): each note is also rendered, alone, into one of STEMS
   * extra channels in turn, so notes that ring into the next one (a pad, a bell) still show their starts
   * as silence → sound. Off for render-cost measurements.
   */
  stems?: boolean;
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
  /**
   * With stems: how long each of the first STEMS notes sounds, seconds, from its first frame to its last
   * above 60 dB below its own peak (exact for a render of at most STEMS notes, one per stem).
   */
  audible: number[];
}

/** Stem channels for onset detection: a note rings into at most this many successors unseen. */
const STEMS = 8;

/** Starts of sound in `chans` (seconds): a frame above threshold after `gap` frames at or below it. */
function detectOnsets(chans: Float32Array[], threshold: number, gap: number, sampleRate: number, out: number[]): void {
  let quiet = gap; // the start counts as silence
  const n = chans[0]!.length;
  for (let i = 0; i < n; i++) {
    let a = 0;
    for (const c of chans) a = Math.max(a, Math.abs(c[i]!));
    if (a > threshold) {
      if (quiet >= gap) out.push(i / sampleRate);
      quiet = 0;
    } else {
      quiet++;
    }
  }
}

export async function renderOffline(req: OfflineRequest): Promise<OfflineResult> {
  const sampleRate = req.sampleRate ?? 44_100;
  const map = req.tempoMap ?? [{ startBeat: 0, startTime: 0, bpm: req.bpm ?? 100 }];
  const stems = req.stems !== false;
  const channels = stems ? 2 + STEMS : 2;
  const ctx = new OfflineAudioContext({ numberOfChannels: channels, length: Math.ceil(req.seconds * sampleRate), sampleRate });
  const voices = planVoices(req.cells, req.patterns, req.view, req.cap ?? DEFAULT_VOICE_CAP);
  const notes = notesInWindow(voices, req.patterns, map, 0, 0, req.seconds * 1000);
  let mix: AudioNode = ctx.destination;
  let merger: ChannelMergerNode | null = null;
  if (stems) {
    // Channels 0-1: the stereo mix; 2..: the stems (each note also summed to mono into one, in turn).
    ctx.destination.channelCount = channels;
    ctx.destination.channelInterpretation = 'discrete';
    merger = ctx.createChannelMerger(channels);
    merger.connect(ctx.destination);
    mix = ctx.createGain();
    const split = ctx.createChannelSplitter(2);
    mix.connect(split);
    split.connect(merger, 0, 0);
    split.connect(merger, 1, 1);
  }
  const choke = new VoiceChoke();
  notes.forEach((n, i) => {
    const played = playNote(ctx, mix, n, n.time / 1000);
    choke.add(`${n.value}:${n.x}:${n.y}`, played, n.time / 1000);
    if (merger !== null) played.outlet.connect(merger, 0, 2 + (i % STEMS));
  });
  const started = performance.now();
  const buf = await ctx.startRendering();
  const renderMs = performance.now() - started;
  const l = buf.getChannelData(0);
  const r = buf.getChannelData(1);
  const threshold = req.threshold ?? 1e-4;
  const gap = Math.round(((req.gapMs ?? 10) / 1000) * sampleRate);
  let onsets: number[] = [];
  const audible: number[] = [];
  if (stems) {
    for (let c = 2; c < Math.min(channels, 2 + notes.length); c++) {
      const d = buf.getChannelData(c);
      let p = 0;
      for (let i = 0; i < d.length; i++) p = Math.max(p, Math.abs(d[i]!));
      let first = -1;
      let last = -1;
      for (let i = 0; i < d.length; i++) {
        if (Math.abs(d[i]!) > p / 1000) {
          if (first < 0) first = i;
          last = i;
        }
      }
      audible.push(first < 0 ? 0 : (last - first) / sampleRate);
    }
    for (let c = 2; c < channels; c++) detectOnsets([buf.getChannelData(c)], threshold, gap, sampleRate, onsets);
    // Notes that start together are one onset of the sound.
    onsets.sort((a, b) => a - b);
    onsets = onsets.filter((t, i) => i === 0 || t - onsets[i - 1]! > 0.001);
  } else {
    detectOnsets([l, r], threshold, gap, sampleRate, onsets);
  }
  let sl = 0;
  let sr = 0;
  let peak = 0;
  for (let i = 0; i < l.length; i++) {
    const a = Math.max(Math.abs(l[i]!), Math.abs(r[i]!));
    sl += l[i]! * l[i]!;
    sr += r[i]! * r[i]!;
    if (a > peak) peak = a;
  }
  return {
    sampleRate, renderMs, voices: voices.length, notes: notes.length, noteTimes: notes.map((n) => n.time / 1000), onsets,
    rms: [Math.sqrt(sl / l.length), Math.sqrt(sr / r.length)], peak, audible,
  };
}
