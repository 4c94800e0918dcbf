/**
 * The musical clock of a CanvasClient on a music canvas: the clock offset to the server (a burst of PINGs on
 * every WELCOME, then four a second until 24 samples are in, then one a second), the tempo map (from WELCOME, replaced by every TEMPO) and the
 * beat at any local time, and the pattern palette: WELCOME's, until a published one (WELCOME's or a TEMPO's
 * PATTERN_SWITCH) takes over on its bar. Runs in Node and the browser; `localNow` is performance.timeOrigin +
 * performance.now() (ms since the Unix epoch, monotonic within a page).
 */
import type { CanvasClient, MusicInfo, WirePattern, WirePatternSwitch } from './canvas-client.js';
import { ClockSync } from './clock-sync.js';
import { Emitter } from './emitter.js';
import { beatAt, bpmAt, timeAtBeat, type TempoSegment } from '../music/tempo-map.js';

export function localNow(): number {
  return performance.timeOrigin + performance.now();
}

export interface MusicClockOptions {
  /** Re-estimate period once settled. Default 1000 ms (as Keyboardia). */
  intervalMs?: number;
  /** Period until `settleSamples` samples are in: more chances of a quick round trip while the page and server are busy starting. Default 250 ms. */
  settleIntervalMs?: number;
  settleSamples?: number;
  /** Pings sent quickly after each WELCOME. Default 8, 40 ms apart. */
  burst?: number;
  burstGapMs?: number;
}

export interface MusicClockEvents {
  /** The offset estimate, the tempo map or the palette (a switch announced, or its bar reached) changed. */
  change: void;
}

export class MusicClock {
  readonly sync = new ClockSync();
  /**
   * WELCOME's music record (patterns, beatsPerBar, epoch); null before the first WELCOME or on a pixel canvas.
   * Its `patterns` are the palette in force: replaced (a new object) when a published palette's bar is reached.
   */
  music: MusicInfo | null = null;
  tempoMap: TempoSegment[] = [];
  /** A published palette waiting for its bar; null when none. */
  next: WirePatternSwitch | null = null;
  private readonly events = new Emitter<MusicClockEvents>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly off: (() => void)[];
  private readonly opts: Required<MusicClockOptions>;

  constructor(private readonly client: CanvasClient, opts: MusicClockOptions = {}) {
    this.opts = {
      intervalMs: opts.intervalMs ?? 1000, settleIntervalMs: opts.settleIntervalMs ?? 250, settleSamples: opts.settleSamples ?? 24,
      burst: opts.burst ?? 8, burstGapMs: opts.burstGapMs ?? 40,
    };
    this.off = [
      client.on('open', (w) => {
        this.music = w.music ?? null;
        this.tempoMap = w.music?.tempoMap ?? [];
        this.next = w.music?.next ?? null;
        this.sync.reset();
        this.schedule(0, this.opts.burst);
        this.events.emit('change', undefined);
      }),
      client.on('tempo', (t) => {
        this.advance();
        this.tempoMap = t.tempoMap;
        // A switch replaces the pending one; a TEMPO without one leaves it be. One that does not fit the
        // palette is not this canvas's to play (the server never sends one).
        if (t.next !== undefined && this.music !== null && t.next.patterns.length === this.music.patterns.length) this.next = t.next;
        this.events.emit('change', undefined);
      }),
      client.on('pong', (p) => {
        const received = localNow();
        if (!Number.isFinite(p.rttMs)) return;
        this.sync.add(received - p.rttMs, p.serverTime, received);
        this.events.emit('change', undefined);
      }),
      client.on('close', () => this.stopTimer()),
    ];
    if (client.welcome?.music) {
      this.music = client.welcome.music;
      this.tempoMap = client.welcome.music.tempoMap;
      this.next = client.welcome.music.next ?? null;
      this.schedule(0, this.opts.burst);
    }
  }

  on<K extends keyof MusicClockEvents>(event: K, handler: (value: MusicClockEvents[K]) => void): () => void {
    return this.events.on(event, handler);
  }

  /** server ≈ local + offset, ms. */
  get offsetMs(): number {
    return this.sync.offset;
  }

  get synced(): boolean {
    return this.sync.synced && this.tempoMap.length > 0;
  }

  serverNow(local = localNow()): number {
    return local + this.sync.offset;
  }

  /** The beat (fractional) at a local time; NaN before the tempo map is known. */
  beatAt(local = localNow()): number {
    return this.tempoMap.length === 0 ? Number.NaN : beatAt(this.tempoMap, this.serverNow(local));
  }

  /** Local time of a beat. */
  localTimeOfBeat(beat: number): number {
    return timeAtBeat(this.tempoMap, beat) - this.sync.offset;
  }

  bpmAt(local = localNow()): number {
    return this.tempoMap.length === 0 ? Number.NaN : bpmAt(this.tempoMap, this.serverNow(local));
  }

  /** Server time (ms) of the pending switch's bar; NaN when none. */
  switchTime(): number {
    return this.next === null || this.tempoMap.length === 0 ? Number.NaN : timeAtBeat(this.tempoMap, this.next.beat);
  }

  /** The palette in force at a local time (default now): WELCOME's, or the published one from its bar on. */
  patternsAt(local = localNow()): readonly WirePattern[] {
    this.advance();
    if (this.next !== null && this.serverNow(local) >= this.switchTime()) return this.next.patterns;
    return this.music?.patterns ?? [];
  }

  /**
   * A pending switch whose bar has come (by this clock) takes over: `music.patterns` becomes its palette.
   * True when it did. Waits for the offset estimate: before it, "now" on the server is not known.
   */
  advance(): boolean {
    const n = this.next;
    if (n === null || this.music === null || !this.synced || this.serverNow() < this.switchTime()) return false;
    this.music = { ...this.music, patterns: n.patterns };
    this.next = null;
    this.events.emit('change', undefined);
    return true;
  }

  /** Stops pinging and listening. */
  dispose(): void {
    this.stopTimer();
    for (const f of this.off) f();
  }

  private schedule(delay: number, burstLeft: number): void {
    this.stopTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.client.state !== 'open') return;
      this.client.ping();
      const left = burstLeft - 1;
      const settled = this.sync.sampleCount >= this.opts.settleSamples;
      this.schedule(left > 0 ? this.opts.burstGapMs : settled ? this.opts.intervalMs : this.opts.settleIntervalMs, Math.max(0, left));
    }, delay);
  }

  private stopTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
