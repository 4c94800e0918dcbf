/**
 * Timelapse: the area in view (up to 512×512 around its centre) replayed over a time range from the
 * placement log (GET /api/timelapse?format=json: its state at the start and every placement since), at a
 * chosen speed, with a position slider; and a link to the same range as an animated GIF.
 */
import type { Camera } from './camera.js';
import type { TimelapseJson as Data } from '../../src/net/api-types.js';

const MAX_SIDE = 512;


function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`index.html lacks #${id}`);
  return el as T;
}

export type TimelapsePhase = 'idle' | 'loading' | 'playing' | 'paused' | 'done' | 'error';

export class Timelapse {
  phase: TimelapsePhase = 'idle';
  /** Placements drawn so far, and in the range. */
  applied = 0;
  total = 0;
  private data: Data | null = null;
  private image: ImageData | null = null;
  private start: Uint8Array | null = null;
  private t = 0;
  private lastFrame = 0;
  private raf = 0;
  private readonly canvas = byId<HTMLCanvasElement>('timelapse-canvas');
  private readonly play = byId<HTMLButtonElement>('timelapse-play');
  private readonly progress = byId<HTMLInputElement>('timelapse-progress');
  private readonly time = byId('timelapse-time');

  constructor(private readonly camera: Camera) {
    this.play.addEventListener('click', () => void this.toggle());
    this.progress.addEventListener('input', () => {
      if (this.data === null) return;
      this.seek(this.data.since + (Number(this.progress.value) / 1000) * (this.data.until - this.data.since));
    });
    byId('timelapse-range').addEventListener('change', () => this.reset());
  }

  /** The region the replay covers: the view, clamped to the canvas and to MAX_SIDE around its centre. */
  region(): { x: number; y: number; w: number; h: number } {
    const r = this.camera.visiblePixels();
    const w = Math.min(r.w, MAX_SIDE), h = Math.min(r.h, MAX_SIDE);
    return { x: r.x + Math.floor((r.w - w) / 2), y: r.y + Math.floor((r.h - h) / 2), w: Math.max(1, w), h: Math.max(1, h) };
  }

  /** Forget the loaded range (the view or the range changed): the next Play loads again. */
  reset(): void {
    cancelAnimationFrame(this.raf);
    this.data = null;
    this.phase = 'idle';
    this.play.textContent = 'Play';
    this.updateGifLink();
  }

  updateGifLink(): void {
    const r = this.region();
    const range = Number(byId<HTMLSelectElement>('timelapse-range').value);
    const until = Date.now();
    const scale = Math.max(1, Math.min(8, Math.floor(256 / Math.max(r.w, r.h))));
    byId<HTMLAnchorElement>('timelapse-gif').href =
      `/api/timelapse?x=${r.x}&y=${r.y}&w=${r.w}&h=${r.h}&since=${until - range}&until=${until}&frames=60&scale=${scale}`;
  }

  private async toggle(): Promise<void> {
    if (this.phase === 'playing') {
      this.phase = 'paused';
      this.play.textContent = 'Play';
      return;
    }
    if (this.data === null) {
      await this.load();
      if (this.data === null) return;
    } else if (this.phase === 'done') {
      this.seek(this.data.since);
    }
    this.phase = 'playing';
    this.play.textContent = 'Pause';
    this.lastFrame = performance.now();
    this.raf = requestAnimationFrame((t) => this.frame(t));
  }

  private async load(): Promise<void> {
    const r = this.region();
    const range = Number(byId<HTMLSelectElement>('timelapse-range').value);
    const until = Date.now();
    this.phase = 'loading';
    this.time.textContent = 'Loading…';
    try {
      const res = await fetch(`/api/timelapse?format=json&x=${r.x}&y=${r.y}&w=${r.w}&h=${r.h}&since=${Math.max(0, until - range)}&until=${until}`);
      if (!res.ok) {
        const e = await res.json().catch(() => ({})) as { message?: string };
        throw new Error(e.message ?? `HTTP ${res.status}`);
      }
      this.data = await res.json() as Data;
    } catch (err) {
      this.phase = 'error';
      this.time.textContent = `Cannot replay this: ${(err as Error).message}`;
      return;
    }
    const d = this.data;
    this.start = Uint8Array.from(atob(d.start), (c) => c.charCodeAt(0));
    this.canvas.width = d.w;
    this.canvas.height = d.h;
    this.image = new ImageData(d.w, d.h);
    this.total = d.placements.length;
    this.seek(d.since);
  }

  /** Rebuild the picture at time t from the start state. */
  private seek(t: number): void {
    const d = this.data;
    if (d === null || this.start === null || this.image === null) return;
    const px = this.image.data;
    for (let i = 0; i < this.start.length; i++) this.paint(px, i, this.start[i]!);
    this.applied = 0;
    this.t = d.since;
    this.advance(t);
  }

  private paint(px: Uint8ClampedArray, i: number, color: number): void {
    const rgb = this.data!.palette[color] ?? 0;
    px[i * 4] = (rgb >>> 16) & 255;
    px[i * 4 + 1] = (rgb >>> 8) & 255;
    px[i * 4 + 2] = rgb & 255;
    px[i * 4 + 3] = 255;
  }

  /** Apply placements up to time t and redraw. */
  private advance(t: number): void {
    const d = this.data!;
    this.t = Math.min(d.until, t);
    const px = this.image!.data;
    while (this.applied < d.placements.length && d.placements[this.applied]![3] <= this.t) {
      const [x, y, c] = d.placements[this.applied++]!;
      this.paint(px, (y - d.y) * d.w + (x - d.x), c);
    }
    this.canvas.getContext('2d')!.putImageData(this.image!, 0, 0);
    const span = Math.max(1, d.until - d.since);
    this.progress.value = String(Math.round(((this.t - d.since) / span) * 1000));
    this.time.textContent = `${new Date(this.t).toLocaleString()} · ${this.applied}/${d.placements.length} placements`;
    if (this.t >= d.until) {
      this.phase = 'done';
      this.play.textContent = 'Replay';
    }
  }

  private frame(now: number): void {
    if (this.phase !== 'playing' || this.data === null) return;
    const speed = Number(byId<HTMLSelectElement>('timelapse-speed').value) || 1;
    const dt = Math.min(250, now - this.lastFrame);
    this.lastFrame = now;
    this.advance(this.t + dt * speed);
    if (this.phase === 'playing') this.raf = requestAnimationFrame((t) => this.frame(t));
  }
}
