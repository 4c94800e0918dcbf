/**
 * Renders a view through an OfflineAudioContext with the same scheduler, synth and mix as live playback: the
 * browser tests and the benchmark use it (sample-exact, faster than real time, no speakers). Local time 0 is
 * beat 0 of the given tempo map, offset 0, so note times are audio times: the mix's look-ahead is taken off
 * start times as live, and a render begins that much before beat 0 (the first frames are not returned).
 */
import type { MusicPattern } from '../../../src/music/patterns.js';
import { DEFAULT_VOICE_CAP, notesInWindow, planVoices, type ListenerView, type MusicCell } from '../../../src/music/scheduler.js';
import type { TempoSegment } from '../../../src/music/tempo-map.js';
import { LIMITER, MixBus, type MixOptions } from './mix.js';
import { ENV_SCALE, VoiceChoke, playNote } from './synth.js';

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
  /** The mix's parts (default: all on, as live). */
  mix?: MixOptions;
}

export interface OfflineResult {
  sampleRate: number;
  renderMs: number;
  voices: number;
  notes: number;
  /** Note start times the scheduler produced, seconds. */
  noteTimes: number[];
  /** Detected onsets in the rendered audio, seconds (on the stems with stems, else on the mix as heard). */
  onsets: number[];
  rms: [number, number];
  peak: number;
  /** The mix's look-ahead, s: each note started this long before it is heard. */
  latency: number;
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
  const voices = planVoices(req.cells, req.patterns, req.view, req.cap ?? DEFAULT_VOICE_CAP);
  const notes = notesInWindow(voices, req.patterns, map, 0, 0, req.seconds * 1000);
  const frames = Math.ceil(req.seconds * sampleRate);
  // The render begins before beat 0: by the limiter's settling time (a new one starts low: LIMITER), and
  // by the mix's look-ahead. A note heard at t starts at t − latency, as live (./engine.ts), i.e. at audio
  // time preroll + t; the mix's frame lead + t·rate is heard time t. Stems are taken before the mix: they
  // begin at frame preroll.
  const preroll = req.mix?.limiter === false ? 0 : Math.round(LIMITER.settleS * sampleRate);
  const lead = preroll + Math.round(MixBus.latencyFor(sampleRate, req.mix) * sampleRate);
  const ctx = new OfflineAudioContext({ numberOfChannels: channels, length: frames + lead, sampleRate });
  const mix = new MixBus(ctx, req.mix);
  mix.setZoom(req.view.zoom, 0);
  let merger: ChannelMergerNode | null = null;
  if (stems) {
    // Channels 0-1: the stereo mix; 2..: the stems (each note also summed to mono into one, in turn).
    ctx.destination.channelCount = channels;
    ctx.destination.channelInterpretation = 'discrete';
    merger = ctx.createChannelMerger(channels);
    merger.connect(ctx.destination);
    const split = ctx.createChannelSplitter(2);
    mix.out.connect(split);
    split.connect(merger, 0, 0);
    split.connect(merger, 1, 1);
  } else {
    mix.out.connect(ctx.destination);
  }
  // A stem is a note's envelope, at ENV_SCALE: one gain per stem channel brings it to true level.
  const stemIns: GainNode[] = [];
  for (let c = 0; merger !== null && c < STEMS; c++) {
    const g = ctx.createGain();
    g.gain.value = 1 / ENV_SCALE;
    g.connect(merger, 0, 2 + c);
    stemIns.push(g);
  }
  const choke = new VoiceChoke();
  notes.forEach((n, i) => {
    const at = n.time / 1000 + lead / sampleRate - mix.latency;
    const played = playNote(ctx, mix.input(n.dist, n.pan), n, at);
    choke.add(`${n.value}:${n.x}:${n.y}`, played, at);
    if (merger !== null) played.outlet.connect(stemIns[i % STEMS]!);
  });
  const started = performance.now();
  const buf = await ctx.startRendering();
  const renderMs = performance.now() - started;
  const l = buf.getChannelData(0).subarray(lead);
  const r = buf.getChannelData(1).subarray(lead);
  const threshold = req.threshold ?? 1e-4;
  const gap = Math.round(((req.gapMs ?? 10) / 1000) * sampleRate);
  let onsets: number[] = [];
  const audible: number[] = [];
  if (stems) {
    for (let c = 2; c < Math.min(channels, 2 + notes.length); c++) {
      const d = buf.getChannelData(c).subarray(preroll, preroll + frames);
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
    for (let c = 2; c < channels; c++) detectOnsets([buf.getChannelData(c).subarray(preroll, preroll + frames)], threshold, gap, sampleRate, onsets);
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
    rms: [Math.sqrt(sl / l.length), Math.sqrt(sr / r.length)], peak, audible, latency: mix.latency,
  };
}
