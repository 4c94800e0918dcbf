/**
 * Music mode in the page: started by main.ts when WELCOME carries a MUSIC record. It keeps the MusicClock of
 * the current client, plans voices from the replica around the camera, runs the engine, drives the panel,
 * and exposes `window.__music` for tests. Painting, navigation and the data path stay the pixel canvas's.
 */
import type { CanvasClient, Welcome } from '../../../src/client/canvas-client.js';
import { MusicClock, localNow } from '../../../src/client/music-clock.js';
import type { MusicPattern } from '../../../src/music/patterns.js';
import { DEFAULT_VOICE_CAP, planVoices, type ListenerView, type Voice } from '../../../src/music/scheduler.js';
import { beatAt } from '../../../src/music/tempo-map.js';
import type { Camera } from '../camera.js';
import { CellIndex } from './cells.js';
import { displayPalette } from './contrast.js';
import { MusicEngine } from './engine.js';
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
  /** Start (or restart) recording scheduled notes; returns what was recorded since the last call. */
  takeTrace(): { local: number; audio: number; value: number }[];
  /** Click-free play/mute for scripts (the Play button does the same inside a user gesture). */
  play(): Promise<void>;
  readonly patterns: readonly MusicPattern[];
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
  private planKey = '';
  private plannedAt = Number.NEGATIVE_INFINITY;
  private patterns: readonly MusicPattern[] = [];
  /** The palette as drawn: the patterns' colours lifted off the silence. */
  private shown: readonly number[] = [];

  constructor(private readonly host: MusicHost) {
    this.boundTo = host.client();
    this.clock = new MusicClock(this.boundTo);
    this.engine = new MusicEngine({ clock: () => this.clock, patterns: () => this.patterns, voices: () => this.voices(), zoom: () => host.camera.zoom });
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
    this.engine.onNote = (n) => this.playhead.add(n, this.shown[n.value] ?? 0xffffff);
    this.engine.onCancel = (cut) => this.playhead.dropFrom(cut);
    const frame = () => {
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
    this.patterns = w.music?.patterns ?? [];
    this.shown = displayPalette(w.palette, w.background);
    this.host.showColours(this.shown);
    let sel = this.host.selected();
    if (!(sel > 0 && sel < this.patterns.length)) {
      sel = Math.min(1, this.patterns.length - 1);
      this.host.pick(sel);
    }
    this.panel.setPatterns(this.patterns, sel, this.shown);
    this.planKey = '';
  }

  listenerView(): ListenerView {
    const c = this.host.camera;
    return { cx: c.x, cy: c.y, halfW: c.screenW / 2 / c.zoom, halfH: c.screenH / 2 / c.zoom, zoom: c.zoom };
  }

  /** The voice plan for the current view, re-planned when the view or the cells changed (at most every REPLAN_MS). */
  voices(): Voice[] {
    const t = performance.now();
    if (t - this.plannedAt < REPLAN_MS) return this.plan;
    const view = this.listenerView();
    const { cells, signature } = this.cells.collect(this.host.client().replica, view);
    const key = `${view.cx},${view.cy},${view.halfW},${view.halfH}|${signature}`;
    this.plannedAt = t;
    if (key === this.planKey) return this.plan;
    this.planKey = key;
    this.plan = planVoices(cells, this.patterns, view, DEFAULT_VOICE_CAP);
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
      takeTrace: () => {
        const t = self.engine.trace ?? [];
        self.engine.trace = [];
        return t;
      },
      play: () => self.engine.start(),
      get patterns() { return self.patterns; },
      beatAtLocal: (local) => beatAt(self.clock.tempoMap, local + self.clock.offsetMs),
      localNow,
      listenerView: () => self.listenerView(),
      renderOffline: (req) => renderOffline({ ...req, patterns: req.patterns ?? self.patterns }),
    };
  }
}
