/**
 * Timelapse: the area in view (up to 512×512 around its centre) replayed on the canvas itself, over a time
 * range from the placement log (GET /api/timelapse?format=json: its state at the start and every placement
 * since). The replayed picture is drawn on a layer at canvas coordinates, so the page can be panned and
 * zoomed while it plays. Playback starts just before the first placement in the range; a scrubber shows
 * the moment; a link names the region and range (timelapse-link.ts); the replay saves as WebM
 * (timelapse-video.ts) beside the server's GIF.
 */
import type { Camera } from './camera.js';
import type { TimelapseJson } from '../../src/net/api-types.js';
import { formatViewHash } from './url-hash.js';
import { type TimelapseRange, formatTimelapseHash, parseTimelapseHash, timelapseQuery } from './timelapse-link.js';
import { TimelapseReplay } from './timelapse-replay.js';
import { VideoRecording, webmType } from './timelapse-video.js';

/** The server's bound on a region's side (docs/api.md). */
const MAX_SIDE = 512;

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`index.html lacks #${id}`);
  return el as T;
}

export type TimelapsePhase = 'idle' | 'loading' | 'playing' | 'paused' | 'done' | 'error';

export interface TimelapseHooks {
  requestFrame(): void;
  toast(text: string): void;
}

export class Timelapse {
  phase: TimelapsePhase = 'idle';
  /** Size of the last saved video in bytes (0: none yet) and its first bytes (a WebM starts with EBML's magic). */
  videoBytes = 0;
  videoHead: number[] = [];
  private replay: TimelapseReplay | null = null;
  /** The region and range of the loaded replay, or of the link being opened. */
  private range: TimelapseRange | null = null;
  private from = 0;
  private to = 0;
  private lastFrame = 0;
  private raf = 0;
  private recording: VideoRecording | null = null;
  private videoUrl = '';
  private loadId = 0;
  private readonly panel = byId('timelapse-panel');
  private readonly layer = byId<HTMLCanvasElement>('timelapse-layer');
  private readonly play = byId<HTMLButtonElement>('timelapse-play');
  private readonly record = byId<HTMLButtonElement>('timelapse-record');
  private readonly progress = byId<HTMLInputElement>('timelapse-progress');
  private readonly time = byId('timelapse-time');
  private readonly rangeSelect = byId<HTMLSelectElement>('timelapse-range');
  private readonly speedSelect = byId<HTMLSelectElement>('timelapse-speed');

  constructor(private readonly camera: Camera, private readonly hooks: TimelapseHooks) {
    this.play.addEventListener('click', () => void this.toggle());
    this.record.addEventListener('click', () => void this.saveVideo());
    this.record.hidden = webmType() === null;
    this.progress.addEventListener('input', () => {
      if (this.replay === null) return;
      this.replay.seek(this.from + (Number(this.progress.value) / 1000) * (this.to - this.from));
      if (this.phase === 'done') this.setPhase('paused');
      this.shown();
    });
    this.speedSelect.addEventListener('change', () => this.respan());
    this.rangeSelect.addEventListener('change', () => this.reset());
    byId('timelapse-link').addEventListener('click', (e) => {
      e.preventDefault();
      if (this.range !== null) this.showLinks(this.range); // with the view as it is now
      const link = (e.currentTarget as HTMLAnchorElement).href;
      void navigator.clipboard?.writeText(link).then(() => hooks.toast('Link to this timelapse copied.'), () => {});
    });
    // Closing the panel ends the replay: the live canvas shows again.
    new MutationObserver(() => { if (this.panel.hidden) this.stop(); }).observe(this.panel, { attributes: true, attributeFilter: ['hidden'] });
    window.addEventListener('hashchange', () => this.openFromLink());
  }

  /** For tests: what is loaded and where playback is. */
  get state(): { phase: TimelapsePhase; applied: number; total: number; t: number; from: number; to: number; videoBytes: number; videoHead: number[] } {
    const r = this.replay;
    return {
      phase: this.phase, applied: r?.applied ?? 0, total: r?.total ?? 0, t: r?.t ?? 0, from: this.from, to: this.to,
      videoBytes: this.videoBytes, videoHead: this.videoHead,
    };
  }

  /** The region the next replay covers: the view, clamped to the canvas and to MAX_SIDE around its centre. */
  private viewRegion(): TimelapseRange {
    const r = this.camera.visiblePixels();
    const w = Math.min(r.w, MAX_SIDE), h = Math.min(r.h, MAX_SIDE);
    const until = Date.now();
    return {
      x: r.x + Math.floor((r.w - w) / 2), y: r.y + Math.floor((r.h - h) / 2), w: Math.max(1, w), h: Math.max(1, h),
      since: Math.max(0, until - Number(this.rangeSelect.value)), until,
    };
  }

  /** Opens the panel on the replay a link names (`&timelapse=` in the hash) and plays it. */
  openFromLink(): void {
    const r = parseTimelapseHash(location.hash);
    if (r === null) return;
    if (this.panel.hidden) byId('tool-timelapse').click(); // the toolbar opens the panel (and resets us)
    this.stop();
    this.range = r;
    this.showLinks(r);
    void this.toggle();
  }

  /** Forget the loaded range (the panel opened again or the range changed): the next Play loads the view. */
  reset(): void {
    this.stop();
    this.replay = null;
    this.range = null;
    this.setPhase('idle');
    this.time.textContent = 'Plays the area in view on the canvas; pan and zoom while it plays.';
    this.progress.value = '0';
    this.showLinks(this.viewRegion());
  }

  private stop(): void {
    cancelAnimationFrame(this.raf);
    this.recording?.cancel();
    this.recording = null;
    this.record.disabled = false;
    if (this.phase === 'playing') this.setPhase('paused');
    this.loadId++;
    if (this.phase === 'loading') this.setPhase('idle');
    this.layer.hidden = true;
    this.hooks.requestFrame();
  }

  private setPhase(p: TimelapsePhase): void {
    this.phase = p;
    this.play.textContent = p === 'playing' ? 'Pause' : p === 'done' ? 'Replay' : 'Play';
  }

  /** The GIF of a range and the link that replays it. */
  private showLinks(r: TimelapseRange): void {
    const scale = Math.max(1, Math.min(8, Math.floor(256 / Math.max(r.w, r.h))));
    byId<HTMLAnchorElement>('timelapse-gif').href = `/api/timelapse?${timelapseQuery(r)}&frames=60&scale=${scale}`;
    byId<HTMLAnchorElement>('timelapse-link').href =
      `${location.origin}${location.pathname}${formatViewHash(this.camera)}${formatTimelapseHash(r)}`;
  }

  private async toggle(): Promise<void> {
    if (this.phase === 'playing') {
      this.setPhase('paused');
      return;
    }
    if (this.phase === 'loading') return;
    if (this.replay === null) {
      await this.load(this.range ?? this.viewRegion());
      if (this.replay === null) return;
    } else if (this.phase === 'done') {
      this.replay.seek(this.from);
    }
    this.setPhase('playing');
    this.lastFrame = performance.now();
    this.raf = requestAnimationFrame((t) => this.frame(t));
  }

  private async load(r: TimelapseRange): Promise<void> {
    const id = ++this.loadId;
    this.setPhase('loading');
    this.time.textContent = 'Loading…';
    let data: TimelapseJson;
    try {
      data = await this.fetchData(`/api/timelapse?format=json&${timelapseQuery(r)}`, id);
    } catch (err) {
      if (id !== this.loadId) return;
      this.setPhase('error');
      this.time.textContent = `Cannot replay this: ${(err as Error).message}`;
      return;
    }
    if (id !== this.loadId) return;
    this.range = { x: data.x, y: data.y, w: data.w, h: data.h, since: data.since, until: data.until };
    this.showLinks(this.range);
    this.replay = new TimelapseReplay(data);
    this.setPhase('paused');
    this.respan();
    this.replay.seek(this.from);
    if (this.replay.total === 0) this.hooks.toast('Nothing was placed here in this range: try a longer one.');
    this.shown();
  }

  /**
   * The JSON, retrying once after Retry-After when the server is busy making other timelapses (503) or this
   * address asked too often (429), and saying so meanwhile.
   */
  private async fetchData(url: string, id: number): Promise<TimelapseJson> {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(url);
      if (res.ok) return await res.json() as TimelapseJson;
      const e = await res.json().catch(() => ({})) as { error?: string; message?: string };
      const wait = Number(res.headers.get('Retry-After'));
      if (attempt === 0 && (res.status === 503 || res.status === 429) && e.error !== 'SHUTTING_DOWN' && id === this.loadId) {
        const s = Number.isFinite(wait) && wait > 0 ? Math.min(wait, 30) : 2;
        this.time.textContent = res.status === 503
          ? `The server is busy making other timelapses; retrying in ${s} s…`
          : `Too many timelapses asked for; retrying in ${s} s…`;
        await new Promise((r) => setTimeout(r, s * 1000));
        if (id !== this.loadId) throw new Error('cancelled');
        continue;
      }
      throw new Error(res.status === 503 ? 'the server is still busy; try again in a moment' : e.message ?? `HTTP ${res.status}`);
    }
  }

  /** Playback span for the current speed (the lead before the first placement is a second of playback). */
  private respan(): void {
    if (this.replay === null) return;
    ({ from: this.from, to: this.to } = this.replay.span(this.speed()));
  }

  private speed(): number {
    return Number(this.speedSelect.value) || 1;
  }

  private async saveVideo(): Promise<void> {
    const type = webmType();
    if (type === null || this.recording !== null) return;
    if (this.replay === null) {
      await this.load(this.range ?? this.viewRegion());
      if (this.replay === null) return;
    }
    const r = this.replay.data;
    this.recording = new VideoRecording(r.w, r.h, type);
    this.record.disabled = true;
    this.replay.seek(this.from);
    this.recording.frame(this.replay.canvas);
    if (this.phase !== 'playing') await this.toggle();
  }

  private async finishVideo(): Promise<void> {
    const rec = this.recording;
    if (rec === null) return;
    this.recording = null;
    const blob = await rec.stop();
    this.record.disabled = false;
    if (blob.size === 0) {
      this.hooks.toast('This browser recorded no video; the GIF link has the same replay.');
      return;
    }
    if (this.videoUrl) URL.revokeObjectURL(this.videoUrl);
    this.videoUrl = URL.createObjectURL(blob);
    this.videoBytes = blob.size;
    this.videoHead = [...new Uint8Array(await blob.slice(0, 4).arrayBuffer())];
    const a = byId<HTMLAnchorElement>('timelapse-video');
    const r = this.replay!.data;
    a.href = this.videoUrl;
    a.download = `timelapse-${r.x}-${r.y}-${r.w}x${r.h}.webm`;
    a.textContent = `Download video (${Math.max(1, Math.round(blob.size / 1024))} KB)`;
    a.hidden = false;
    this.hooks.toast('The video is ready: Download video in the Timelapse panel.');
  }

  /** After the picture moved: the scrubber, the time, the video and the layer follow. */
  private shown(): void {
    const r = this.replay!;
    const span = Math.max(1, this.to - this.from);
    this.progress.value = String(Math.round(Math.min(1, Math.max(0, (r.t - this.from) / span)) * 1000));
    const long = r.data.until - r.data.since > 86_400_000;
    const when = long ? new Date(r.t).toLocaleString() : new Date(r.t).toLocaleTimeString();
    this.time.textContent = `${when} · ${r.applied}/${r.total} placements`;
    this.recording?.frame(r.canvas);
    if (this.phase !== 'playing') this.showLinks(this.range!);
    this.layer.hidden = false;
    this.hooks.requestFrame();
  }

  private frame(now: number): void {
    if (this.phase !== 'playing' || this.replay === null) return;
    const dt = Math.min(250, now - this.lastFrame);
    this.lastFrame = now;
    const t = Math.max(this.replay.t, this.from) + dt * this.speed();
    this.replay.seek(Math.min(t, this.to));
    if (t >= this.to) {
      this.replay.seek(this.replay.data.until); // the end state, should the span have been cut short
      this.setPhase('done');
      void this.finishVideo();
    }
    this.shown();
    if (this.phase === 'playing') this.raf = requestAnimationFrame((t2) => this.frame(t2));
  }

  /** Draws the replayed picture over its region of the canvas, at the camera's zoom; called every frame. */
  draw(dpr: number): void {
    if (this.layer.hidden || this.replay === null) return;
    const cam = this.camera;
    const W = Math.round(cam.screenW * dpr), H = Math.round(cam.screenH * dpr);
    if (this.layer.width !== W || this.layer.height !== H) {
      this.layer.width = W;
      this.layer.height = H;
    }
    const ctx = this.layer.getContext('2d')!;
    ctx.clearRect(0, 0, W, H);
    const d = this.replay.data;
    const x = cam.toScreenX(d.x) * dpr, y = cam.toScreenY(d.y) * dpr;
    const w = d.w * cam.zoom * dpr, h = d.h * cam.zoom * dpr;
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.replay.canvas, x, y, w, h);
    // The edge of the replayed region, so the live canvas around it is not mistaken for part of it.
    ctx.strokeStyle = 'rgba(62, 155, 255, 0.9)';
    ctx.lineWidth = Math.max(1, dpr);
    ctx.setLineDash([6 * dpr, 4 * dpr]);
    ctx.strokeRect(x - ctx.lineWidth / 2, y - ctx.lineWidth / 2, w + ctx.lineWidth, h + ctx.lineWidth);
    // A label on the canvas says it shows the past, and when: the panel may be a closed-looking bottom sheet.
    const label = `Replay · ${new Date(this.replay.t).toLocaleTimeString()}`;
    ctx.setLineDash([]);
    ctx.font = `${12 * dpr}px system-ui, sans-serif`;
    const tw = ctx.measureText(label).width + 12 * dpr, th = 20 * dpr;
    const left = Math.max(x, 0), right = Math.min(x + w, W);
    if (right - left < tw) return;
    const lx = (left + right - tw) / 2;
    // Along the region's lower edge, above whatever sits in the lower half of the screen (the bottom bar, the
    // panel as a phone's bottom sheet): the top is crowded with tools on a phone.
    let floor = cam.screenH;
    for (const el of [this.panel, document.querySelector('.bar-bottom')]) {
      const top = el instanceof HTMLElement && !el.hidden ? el.getBoundingClientRect().top : Infinity;
      if (top > cam.screenH / 2) floor = Math.min(floor, top);
    }
    const ly = Math.max(y + 4 * dpr, Math.min(y + h, floor * dpr) - th - 8 * dpr);
    ctx.fillStyle = 'rgba(20, 24, 32, 0.78)';
    ctx.fillRect(lx, ly, tw, th);
    ctx.fillStyle = '#fff';
    ctx.textBaseline = 'middle';
    ctx.fillText(label, lx + 6 * dpr, ly + th / 2);
  }
}
