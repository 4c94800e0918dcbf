/**
 * Music mode in the page: started by main.ts when WELCOME carries a MUSIC record. It keeps the MusicClock of
 * the current client, plans voices from the replica around the camera, runs the engine, drives the panel,
 * and exposes `window.__music` for tests. Painting, navigation and the data path stay the pixel canvas's.
 * A published palette (the clock's pending switch) is scheduled exactly from its bar by the engine; the
 * page's colours, panel and playhead follow when that bar is reached.
 */
import type { CanvasClient, Welcome } from '../../../src/client/canvas-client.js';
import { MusicClock, localNow } from '../../../src/client/music-clock.js';
import type { MusicPattern } from '../../../src/music/patterns.js';
import { DEFAULT_VOICE_CAP, planVoices, type ListenerView, type SwitchPlan, type Voice } from '../../../src/music/scheduler.js';
import { beatAt, type TempoMap } from '../../../src/music/tempo-map.js';
import type { MusicInfo, WirePatternSwitch } from '../../../src/net/protocol.js';
import type { Camera } from '../camera.js';
import { CellIndex } from './cells.js';
import { displayPalette } from './contrast.js';
import { MusicEngine, type NoteTrace } from './engine.js';
import { type OfflineRequest, type OfflineResult, renderOffline } from './offline.js';
import { MusicPanel } from './panel.js';
import { Playhead } from './playhead.js';
import { MusicRecorder } from './recorder.js';

/** Voices are re-planned at most this often (the view and the cells change much faster than one needs to hear it). */
const REPLAN_MS = 100;

export interface MusicHost {
  camera: Camera;
  client(): CanvasClient;
  selected(): number;
  pick(index: number): void;
  /** Draw the canvas with these colours instead of the WELCOME's (readable cells on the dark silence). */
  showColours(palette: readonly number[]): void;
}

/** Tools that read pixels as colours (template, heatmap, timelapse): they mean nothing on a music canvas. */
const PIXEL_TOOLS = ['tool-template', 'tool-heatmap', 'heat-window', 'tool-timelapse', 'template-panel', 'timelapse-panel'];

/** `window.__music`: the handle tests and curious developers get. */
export interface MusicHook {
  readonly synced: boolean;
  readonly offsetMs: number;
  /** Median round trip of the PING/PONG samples the offset is taken from, ms. */
  readonly rttMs: number;
  /** The offset is within this many ms of the server's clock, whatever the delays were (ClockSync.bound). */
  readonly offsetBoundMs: number;
  /**
   * This page's estimate of the server clock minus the machine's wall clock (Date.now()), ms: pages on one
   * machine share the wall clock, so the difference between two pages' values is their disagreement on
   * the beat phase. The clocks are read back to back, again if the page was descheduled between the reads
   * (measurement noise, not clock error). Includes Date.now()'s whole-ms step.
   */
  serverMinusWallMs(): number;
  /** PING/PONG samples held. */
  readonly clockSamples: number;
  readonly playing: boolean;
  /** Segments in the tempo map this page holds. */
  readonly tempoMapLength: number;
  readonly voices: readonly Voice[];
  readonly notesScheduled: number;
  readonly notesLate: number;
  /** Scheduled notes cancelled by a change before they sounded, and notes scheduled not yet started. */
  readonly notesCancelled: number;
  readonly pendingNotes: number;
  /** Times the engine re-anchored its local↔audio clock mapping while playing (its output timestamps moved past REMAP_MS, client/src/music/engine.ts). */
  readonly clockRemaps: number;
  /** Start (or restart) recording scheduled notes; returns what was recorded since the last call (the engine's NoteTrace). */
  takeTrace(): NoteTrace[];
  /** Click-free play/mute for scripts (the Play button does the same inside a user gesture). */
  play(): Promise<void>;
  readonly patterns: readonly MusicPattern[];
  /** A published palette waiting for its bar (`beat`), and that bar's server time (ms); null when none. */
  readonly nextSwitch: { beat: number; serverTime: number; patterns: readonly MusicPattern[] } | null;
  /** The estimated beat at a local time (performance.timeOrigin + performance.now() ms), through this page's clock offset. */
  beatAtLocal(local: number): number;
  localNow(): number;
  listenerView(): ListenerView;
  renderOffline(req: Omit<OfflineRequest, 'patterns'> & { patterns?: readonly MusicPattern[] }): Promise<OfflineResult>;
}

declare global {
  interface Window {
    __music?: MusicHook;
  }
}

export class MusicMode {
  private clock: MusicClock;
  private boundTo: CanvasClient;
  readonly engine: MusicEngine;
  private readonly panel: MusicPanel;
  private readonly cells = new CellIndex();
  private readonly playhead: Playhead;
  private readonly recorder = new MusicRecorder();
  private plan: Voice[] = [];
  /** The voices planned with the pending switch's palette (same cells and view), and what the engine gets for it. */
  private nextVoices: Voice[] = [];
  private plannedNext: WirePatternSwitch | null = null;
  private switchPlan: { from: WirePatternSwitch; map: TempoMap; voices: Voice[]; plan: SwitchPlan; shown: readonly number[] | null } | null = null;
  private planKey = '';
  private plannedAt = Number.NEGATIVE_INFINITY;
  private patterns: readonly MusicPattern[] = [];
  /** The palette as drawn: the patterns' colours lifted off the silence. */
  private shown: readonly number[] = [];
  private background = 0;
  /** The clock's music record the page's palette was last taken from (a new one: a switch's bar was reached). */
  private clockMusic: MusicInfo | null = null;

  constructor(private readonly host: MusicHost) {
    this.boundTo = host.client();
    this.clock = new MusicClock(this.boundTo);
    this.engine = new MusicEngine({
      clock: () => this.clock, patterns: () => { this.advance(); return this.patterns; }, voices: () => this.voices(), next: () => this.nextPlan(),
      zoom: () => host.camera.zoom,
    });
    this.panel = new MusicPanel({
      togglePlay: () => {
        if (this.engine.playing) {
          this.engine.stop();
          this.playhead.clear();
          this.panel.setPlaying(false);
        } else {
          // start() runs inside this click: the gesture browsers require before audio may start.
          this.engine.start().then(() => this.panel.setPlaying(this.engine.playing), () => this.panel.setPlaying(false));
        }
      },
      toggleRecord: () => {
        if (this.recorder.recording) {
          void this.recorder.stop().then(() => this.panel.setRecording(false));
          return;
        }
        // Recording what plays: start playing first (inside this click, like Play) if muted.
        const begin = () => {
          const { ctx, master } = this.engine;
          if (ctx === null || master === null) return;
          this.recorder.start(ctx, master);
          this.panel.setRecording(true);
        };
        if (this.engine.playing) begin();
        else this.engine.start().then(() => { this.panel.setPlaying(this.engine.playing); begin(); }, () => this.panel.setPlaying(false));
      },
      choose: (index, preview) => {
        if (index < 0) return;
        host.pick(index);
        const p = this.patterns[index];
        if (preview && p !== undefined) void this.engine.preview(p);
      },
    });
    document.title = 'pixel-canvas · music';
    document.getElementById('canvas')?.setAttribute('aria-label', 'Music canvas: drag to pan, scroll to zoom, click to place the chosen pattern; press Play to hear it');
    for (const id of PIXEL_TOOLS) {
      const el = document.getElementById(id);
      if (el !== null) el.hidden = true;
    }
    this.playhead = new Playhead(host.camera);
    this.engine.onNote = (n) => this.playhead.add(n, this.colourOf(n.value, n.time));
    this.engine.onCancel = (cut) => this.playhead.dropFrom(cut);
    const frame = () => {
      this.advance();
      const m = this.clock.music;
      this.panel.showBeat(this.clock.synced ? this.clock.beatAt() : Number.NaN, m?.beatsPerBar ?? 4, this.clock.bpmAt());
      this.playhead.draw(localNow());
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
    this.installHook();
  }

  /** Every WELCOME (reconnects, and a new client after a rename). */
  onWelcome(w: Welcome): void {
    const client = this.host.client();
    if (client !== this.boundTo) {
      this.clock.dispose();
      this.boundTo = client;
      this.clock = new MusicClock(client);
    }
    this.background = w.background;
    this.clockMusic = w.music ?? null; // the clock takes the same record from this WELCOME
    this.showPalette(w.music?.patterns ?? [], w.palette);
  }

  /** The palette in force changes (a WELCOME, or a published palette's bar): colours, selection, panel, plan. */
  private showPalette(patterns: readonly MusicPattern[], colours: readonly number[]): void {
    this.patterns = patterns;
    this.shown = displayPalette(colours, this.background);
    this.host.showColours(this.shown);
    let sel = this.host.selected();
    if (!(sel > 0 && sel < patterns.length && patterns[sel]!.group > 0)) {
      // The first pattern (an unused entry of a published palette is no choice).
      sel = Math.max(0, patterns.findIndex((p) => p.group > 0));
      this.host.pick(sel);
    }
    this.panel.setPatterns(patterns, sel, this.shown);
    this.planKey = '';
    this.plannedAt = Number.NEGATIVE_INFINITY;
  }

  /** A pending switch whose bar has come (by the clock) becomes the page's palette. */
  private advance(): void {
    this.clock.advance();
    const m = this.clock.music;
    if (m === null || m === this.clockMusic) return;
    this.clockMusic = m;
    if (m.patterns !== this.patterns) this.showPalette(m.patterns, m.patterns.map((p) => p.colour));
  }

  /** A note's colour for the playhead: the palette of the time it sounds (a note after a pending switch has the new one's). */
  private colourOf(value: number, time: number): number {
    const sw = this.switchPlan;
    if (sw !== null && time + this.clock.offsetMs >= sw.plan.time) {
      sw.shown ??= displayPalette(sw.from.patterns.map((p) => p.colour), this.background);
      return sw.shown[value] ?? 0xffffff;
    }
    return this.shown[value] ?? 0xffffff;
  }

  /** What the engine schedules from a pending switch's bar on; the same object until the switch, the tempo map or the plan change. */
  private nextPlan(): SwitchPlan | null {
    this.advance();
    const next = this.clock.next;
    if (next === null) {
      this.switchPlan = null;
      return null;
    }
    this.voices();
    const map = this.clock.tempoMap;
    const sp = this.switchPlan;
    if (sp !== null && sp.from === next && sp.map === map && sp.voices === this.nextVoices) return sp.plan;
    this.switchPlan = { from: next, map, voices: this.nextVoices, plan: { time: this.clock.switchTime(), voices: this.nextVoices, patterns: next.patterns }, shown: sp?.from === next ? sp.shown : null };
    return this.switchPlan.plan;
  }

  listenerView(): ListenerView {
    const c = this.host.camera;
    return { cx: c.x, cy: c.y, halfW: c.screenW / 2 / c.zoom, halfH: c.screenH / 2 / c.zoom, zoom: c.zoom };
  }

  /** The voice plan for the current view, re-planned when the view or the cells changed (at most every REPLAN_MS). */
  voices(): Voice[] {
    this.advance();
    const t = performance.now();
    if (t - this.plannedAt < REPLAN_MS) return this.plan;
    const view = this.listenerView();
    const { cells, signature } = this.cells.collect(this.host.client().replica, view);
    const key = `${view.cx},${view.cy},${view.halfW},${view.halfH}|${signature}`;
    const next = this.clock.next;
    this.plannedAt = t;
    if (key === this.planKey && next === this.plannedNext) return this.plan;
    if (key !== this.planKey) this.plan = planVoices(cells, this.patterns, view, DEFAULT_VOICE_CAP);
    // The same cells, as the pending palette will play them from its bar.
    this.nextVoices = next === null ? [] : planVoices(cells, next.patterns, view, DEFAULT_VOICE_CAP);
    this.planKey = key;
    this.plannedNext = next;
    return this.plan;
  }

  private installHook(): void {
    const self = this;
    window.__music = {
      get synced() { return self.clock.synced; },
      get offsetMs() { return self.clock.offsetMs; },
      get rttMs() { return self.clock.sync.rtt; },
      get offsetBoundMs() { return self.clock.sync.bound; },
      serverMinusWallMs: () => {
        let best = { gap: Infinity, value: 0 };
        for (let i = 0; i < 20 && best.gap > 0.2; i++) {
          const t0 = performance.now();
          const wall = Date.now();
          const local = localNow();
          const gap = performance.now() - t0;
          if (gap < best.gap) best = { gap, value: local + self.clock.offsetMs - wall };
        }
        return best.value;
      },
      get clockSamples() { return self.clock.sync.sampleCount; },
      get playing() { return self.engine.playing; },
      get tempoMapLength() { return self.clock.tempoMap.length; },
      get voices() { return self.voices(); },
      get notesScheduled() { return self.engine.notesScheduled; },
      get notesLate() { return self.engine.notesLate; },
      get notesCancelled() { return self.engine.notesCancelled; },
      get pendingNotes() { return self.engine.pendingNotes; },
      get clockRemaps() { return self.engine.remaps; },
      takeTrace: () => {
        const t = self.engine.trace ?? [];
        self.engine.trace = [];
        return t;
      },
      play: () => self.engine.start(),
      get patterns() { return self.patterns; },
      get nextSwitch() {
        const n = self.clock.next;
        return n === null ? null : { beat: n.beat, serverTime: self.clock.switchTime(), patterns: n.patterns };
      },
      beatAtLocal: (local) => beatAt(self.clock.tempoMap, local + self.clock.offsetMs),
      localNow,
      listenerView: () => self.listenerView(),
      renderOffline: (req) => renderOffline({ ...req, patterns: req.patterns ?? self.patterns }),
    };
  }
}
