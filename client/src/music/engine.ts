/**
 * Live playback: a look-ahead scheduler on AudioContext.currentTime ("a tale of two clocks"). A timer wakes
 * every TICK_MS, asks the pure scheduler for the notes that start in the next LOOKAHEAD_MS (local clock →
 * server clock through the MusicClock's offset → beats through the tempo map) and schedules each at its exact
 * audio time; the timer's own jitter never reaches the sound. The AudioContext is made on the first user
 * gesture (browsers require one).
 *
 * The look-ahead is long so that a stalled main thread (a busy or backgrounded page: 250 ms and more) loses
 * no note: what is already scheduled plays on the audio thread while the page is stuck. A long look-ahead
 * would make changes late, so notes are cancelled on change: when the voice plan, the patterns, a pending
 * palette switch, the tempo map or the clock mapping change, every scheduled note that has not yet reached the audio thread
 * (starting after currentTime + CANCEL_MARGIN_S) is disconnected and its window is scheduled again from the
 * new plan. A change is heard within a tick, as with a short look-ahead.
 */
import { localNow, type MusicClock } from '../../../src/client/music-clock.js';
import { hitTones, type MusicPattern } from '../../../src/music/patterns.js';
import { notesWithSwitch, type Note, type SwitchPlan, type Voice } from '../../../src/music/scheduler.js';
import type { TempoMap } from '../../../src/music/tempo-map.js';
import { MixBus } from './mix.js';
import { VoiceChoke, playNote, type PlayedNote } from './synth.js';

export const TICK_MS = 25;
/**
 * How far ahead notes are scheduled. A stall of S ms loses no note when LOOKAHEAD_MS > S + TICK_MS (the
 * last tick before it ran up to a period earlier) plus the late timer's slack: 500 covers 250 ms stalls
 * with 200 ms to spare. Costs (bench/music.bench.ts): ~4× the scheduled-but-silent nodes of a 120 ms
 * window, and a re-schedule of up to that window on each change.
 */
export const LOOKAHEAD_MS = 500;
/** Notes starting sooner than this after currentTime may already be rendered: a change leaves them be. */
const CANCEL_MARGIN_S = 0.03;
/**
 * No note starts sooner than this after Play. The output timestamps of a context that has just started are
 * not yet true (Chromium's first ones, before its output has run a few callbacks, are far off), so
 * the clock mapping moves in the first ticks; a note already inside the cancellation margin when it moves
 * would sound off the beat. Notes this far out are re-planned from the settled mapping instead.
 */
const START_SETTLE_S = 0.2;
/** The local↔audio clock mapping is re-anchored only when it has moved by more than this (keeps jitter out). */
const REMAP_MS = 2;
/** A clock offset moved by more than this re-schedules what is ahead (smaller steps are noise). */
const OFFSET_STEP_MS = 1;

/** One scheduled note as the engine's trace records it. */
export interface NoteTrace {
  local: number;
  server: number;
  audio: number;
  value: number;
}

export interface EngineSource {
  clock(): MusicClock;
  patterns(): readonly MusicPattern[];
  /** The current voice plan (the scheduler's planVoices for the view). */
  voices(): readonly Voice[];
  /** The listener's zoom, CSS px per cell: zoomed out, the room opens (./space.ts). */
  zoom(): number;
  /**
   * A published palette's switch and the voices planned with it (the same object while nothing changed); null
   * when none. The window is split at its bar (notesWithSwitch), so the note on the bar is already the new one.
   */
  next?(): SwitchPlan | null;
}

export class MusicEngine {
  ctx: AudioContext | null = null;
  /** The master bus (null until the first gesture): what reaches the speakers, and what a recording takes. */
  master: GainNode | null = null;
  /** Distance buckets, reverb and limiter, between the notes and the master bus (./mix.ts). */
  private mix: MixBus | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  /**
   * Notes up to this server time (ms) are scheduled. Kept on the server clock, not the local one, so a
   * window ends and the next begins on the same instant of the music whatever the offset estimate did in
   * between: no note is played twice or lost at a boundary when the offset moves.
   */
  private scheduledUntil = Number.NEGATIVE_INFINITY;
  /** audio time = anchorAudio + (local − anchorLocal) / 1000 */
  private anchorAudio = 0;
  private anchorLocal = 0;
  private anchored = false;
  /** Audio time before which no note is scheduled: START_SETTLE_S after the latest start. */
  private earliest = 0;
  /** What the scheduled notes were planned from: a change of any cancels those not yet rendered. */
  private plannedFrom: { voices: readonly Voice[]; patterns: readonly MusicPattern[]; next: SwitchPlan | null; map: TempoMap; offset: number; anchor: number } | null = null;
  /** Notes scheduled and not yet started, in time order (server ms), with their outlets. */
  private pending: { server: number; played: PlayedNote }[] = [];
  /** Notes cancelled by a change before they sounded (re-scheduled from the new plan). */
  notesCancelled = 0;
  /** Times the local↔audio mapping was re-anchored while playing (each start anchors it afresh, uncounted). */
  remaps = 0;
  private readonly choke = new VoiceChoke();
  /** Notes scheduled, and how late the latest tick was relative to its TICK_MS period (for the HUD and tests). */
  notesScheduled = 0;
  /** Notes whose time had passed by the time they were scheduled (skipped: better silent than off the beat). */
  notesLate = 0;
  lastNotes: Note[] = [];
  /**
   * When set, every scheduled note's local time (ms), server time (ms: on the music's grid) and audio time (s)
   * is appended (benchmarks measure jitter with it; tests match what was heard against it). A note cancelled
   * and re-planned appears again with the same server time: the later entry is the one that plays.
   */
  trace: NoteTrace[] | null = null;
  /** Called for every note scheduled (the playhead draws it when it is heard). */
  onNote: ((n: Note) => void) | null = null;
  /** Called when the notes from local time `cut` (ms) on were cancelled (the playhead forgets them). */
  onCancel: ((cut: number) => void) | null = null;

  constructor(private readonly src: EngineSource) {}

  get playing(): boolean {
    return this.timer !== null;
  }

  /** Must run inside a user gesture's handler the first time. */
  async start(): Promise<void> {
    const ctx = this.ensureContext();
    await ctx.resume();
    this.master!.gain.cancelScheduledValues(ctx.currentTime);
    this.master!.gain.setValueAtTime(1, ctx.currentTime);
    if (this.timer !== null) return;
    this.anchored = false;
    this.earliest = ctx.currentTime + START_SETTLE_S;
    this.cancelAfter(Number.NEGATIVE_INFINITY, 0);
    this.choke.clear();
    this.scheduledUntil = Number.NEGATIVE_INFINITY;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.tick();
  }

  /** Mute: fade out what is ringing, stop scheduling, suspend the context (saves the battery). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const ctx = this.ctx;
    if (ctx === null || this.master === null) return;
    const offset = this.src.clock().offsetMs;
    this.cancelAfter(this.localOfAudio(ctx.currentTime + CANCEL_MARGIN_S) + offset, offset);
    this.master.gain.setTargetAtTime(0, ctx.currentTime, 0.02);
    setTimeout(() => { if (this.timer === null) void ctx.suspend(); }, 200);
  }

  /** Plays one loop of a pattern at the current tempo, centred (a swatch preview). Starts the context if needed. */
  async preview(p: MusicPattern): Promise<void> {
    const ctx = this.ensureContext();
    await ctx.resume();
    if (!this.playing) {
      this.master!.gain.cancelScheduledValues(ctx.currentTime);
      this.master!.gain.setValueAtTime(1, ctx.currentTime);
    }
    const bpm = this.src.clock().bpmAt() || 100;
    const stepSec = 60 / (bpm * p.stepsPerBeat);
    const mix = this.mix!;
    const t0 = ctx.currentTime + 0.05;
    let hit = 0;
    for (let k = 0; k < p.steps.length; k++) {
      const s = p.steps[k]!;
      if (s === 0) continue;
      const [midi, ...chord] = hitTones(p, hit++);
      playNote(ctx, mix.input(0, 0), { voice: p.voice, midi: midi!, chord, gain: 0.3 * p.gain * (s === 2 ? 1 : 0.7), duration: stepSec * 900 }, t0 + k * stepSec);
    }
  }

  /** Local time (ms) heard at audio time `audio` (s). */
  private localOfAudio(audio: number): number {
    return this.anchorLocal + (audio - this.anchorAudio) * 1000;
  }

  /** Disconnects every pending note at or after server time `cut` (ms); returns how many. */
  private cancelAfter(cut: number, offset: number): number {
    const pending = this.pending;
    let keep = pending.length;
    while (keep > 0 && pending[keep - 1]!.server >= cut) keep--;
    for (let i = keep; i < pending.length; i++) {
      const played = pending[i]!.played;
      played.outlet.disconnect();
      played.end = Number.NEGATIVE_INFINITY; // gone: no longer one of its voice's ringing notes (VoiceChoke)
    }
    const n = pending.length - keep;
    pending.length = keep;
    this.notesCancelled += n;
    if (n > 0) this.onCancel?.(cut - offset);
    return n;
  }

  /** Audio time at which local time `local` (ms) is heard. */
  audioTime(local: number): number {
    return this.anchorAudio + (local - this.anchorLocal) / 1000;
  }

  private ensureContext(): AudioContext {
    if (this.ctx === null) {
      this.ctx = new AudioContext({ latencyHint: 'interactive' });
      this.master = this.ctx.createGain();
      this.master.connect(this.ctx.destination);
      this.mix = new MixBus(this.ctx);
      this.mix.out.connect(this.master);
    }
    return this.ctx;
  }

  /** Anchors local ms to audio seconds, through the output timestamp when the browser gives one (it includes output latency). */
  private remap(ctx: AudioContext): void {
    let audio = ctx.currentTime;
    let local = localNow() + ((ctx.outputLatency || ctx.baseLatency || 0) * 1000);
    const ts = ctx.getOutputTimestamp?.();
    if (ts && ts.contextTime !== undefined && ts.performanceTime !== undefined && ts.contextTime > 0 && ts.performanceTime > 0) {
      audio = ts.contextTime;
      local = performance.timeOrigin + ts.performanceTime;
    }
    const predicted = this.anchorAudio + (local - this.anchorLocal) / 1000;
    if (!this.anchored || Math.abs(predicted - audio) * 1000 > REMAP_MS) {
      if (this.anchored) this.remaps++;
      this.anchorAudio = audio;
      this.anchorLocal = local;
      this.anchored = true;
    }
  }

  private tick(): void {
    const ctx = this.ctx;
    const mix = this.mix;
    const clock = this.src.clock();
    if (ctx === null || mix === null || ctx.state !== 'running' || !clock.synced) return;
    this.remap(ctx);
    mix.setZoom(this.src.zoom(), ctx.currentTime);
    const now = localNow();
    const voices = this.src.voices();
    const patterns = this.src.patterns();
    const next = this.src.next?.() ?? null;
    const from0 = this.plannedFrom;
    if (from0 !== null && (from0.voices !== voices || from0.patterns !== patterns || from0.next !== next || from0.map !== clock.tempoMap
      || Math.abs(from0.offset - clock.offsetMs) > OFFSET_STEP_MS || from0.anchor !== this.anchorLocal - this.anchorAudio * 1000)) {
      // Re-plan what has not reached the audio thread yet; what is about to sound stays as it was.
      // The cut on the server clock, so the kept notes and the re-planned ones meet exactly.
      const cut = Math.max(now, this.localOfAudio(ctx.currentTime + CANCEL_MARGIN_S)) + clock.offsetMs;
      this.cancelAfter(cut, clock.offsetMs);
      if (this.scheduledUntil > cut) this.scheduledUntil = cut;
    }
    this.plannedFrom = { voices, patterns, next, map: clock.tempoMap, offset: clock.offsetMs, anchor: this.anchorLocal - this.anchorAudio * 1000 };
    // Started notes need no handle any more.
    let done = 0;
    while (done < this.pending.length && this.pending[done]!.server < now + clock.offsetMs) done++;
    if (done > 0) this.pending.splice(0, done);
    const from = Math.max(this.scheduledUntil - clock.offsetMs, now);
    const to = now + LOOKAHEAD_MS;
    if (!(to > from)) return;
    const notes = notesWithSwitch(voices, patterns, next, clock.tempoMap, clock.offsetMs, from, to);
    this.scheduledUntil = to + clock.offsetMs;
    for (const n of notes) {
      const when = this.audioTime(n.time);
      if (when < this.earliest) continue; // the mapping is still settling: heard from the first one after
      // Started the mix's latency early (its limiter looks ahead), so it is heard at `when`, on the beat.
      const start = when - mix.latency;
      if (start < ctx.currentTime) {
        this.notesLate++; // too late to play on time: skip rather than play off the beat
        continue;
      }
      const played = playNote(ctx, mix.input(n.dist, n.pan), n, start);
      this.choke.add(`${n.value}:${n.x}:${n.y}`, played, start);
      this.pending.push({ server: n.time + clock.offsetMs, played });
      this.onNote?.(n);
      if (this.trace !== null && this.trace.length < 100_000) this.trace.push({ local: n.time, server: n.time + clock.offsetMs, audio: when, value: n.value });
    }
    this.notesScheduled += notes.length;
    this.lastNotes = notes;
  }

  /** Notes scheduled that have not started yet (the look-ahead's cost in live nodes). */
  get pendingNotes(): number {
    return this.pending.length;
  }
}
