/**
 * The overview corner: a minimap of the whole canvas with the current view outlined (click to go there), zoom
 * buttons, a zoom readout and a copy-link button. The minimap's image is /canvas.png (cheap to refetch: it
 * has an ETag), refreshed now and then and kept current between refreshes by the deltas the page receives.
 */
import type { Camera } from './camera.js';

const REFRESH_MS = 30_000;
const STEP = 1.5;

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`index.html lacks #${id}`);
  return el as T;
}

/** "×0.6", "×8", "×12.5": CSS pixels per canvas pixel. */
export function formatZoom(zoom: number): string {
  return zoom < 1 ? `×${zoom.toFixed(2).replace(/0$/, '')}` : `×${Math.round(zoom * 10) / 10}`;
}

export class Overview {
  private readonly map = byId<HTMLCanvasElement>('minimap');
  private readonly level = byId('zoom-level');
  private readonly base = document.createElement('canvas');
  private scale = 1;
  private lut: readonly number[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private loaded = false;

  constructor(private readonly camera: Camera, private readonly hooks: { viewChanged(): void; toast(text: string): void; link(): string; online(): boolean }) {
    byId('zoom-in').addEventListener('click', () => this.zoom(STEP));
    byId('zoom-out').addEventListener('click', () => this.zoom(1 / STEP));
    byId('zoom-fit').addEventListener('click', () => {
      camera.fit();
      hooks.viewChanged();
    });
    byId('copy-link').addEventListener('click', () => void this.copyLink());
    this.map.addEventListener('click', (e) => {
      const r = this.map.getBoundingClientRect();
      const sx = (e.clientX - r.left) * (this.map.width / r.width);
      const sy = (e.clientY - r.top) * (this.map.height / r.height);
      camera.set({ x: sx / this.scale, y: sy / this.scale, zoom: Math.max(camera.zoom, 4) });
      hooks.viewChanged();
    });
  }

  /** A (new) canvas: size the minimap to its aspect and load its image. */
  start(width: number, height: number, palette: readonly number[]): void {
    this.lut = palette;
    const side = 160;
    this.scale = side / Math.max(width, height);
    this.map.width = Math.max(1, Math.round(width * this.scale));
    this.map.height = Math.max(1, Math.round(height * this.scale));
    this.base.width = this.map.width;
    this.base.height = this.map.height;
    void this.refresh();
    if (this.timer === null) this.timer = setInterval(() => { if (!document.hidden) void this.refresh(); }, REFRESH_MS);
  }

  private async refresh(): Promise<void> {
    // Offline, the image cannot be had (and a refused request is an error in the console): wait for the next.
    if (!this.hooks.online()) return;
    try {
      const res = await fetch('/canvas.png');
      if (!res.ok) return;
      const bmp = await createImageBitmap(await res.blob());
      const ctx = this.base.getContext('2d')!;
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(bmp, 0, 0, this.base.width, this.base.height);
      bmp.close();
      this.loaded = true;
      this.draw();
    } catch {
      // offline or too large for this browser: the minimap keeps what it had
    }
  }

  /** A pixel changed (a delta): paint it on the minimap at its scale. */
  pixel(x: number, y: number, color: number): void {
    if (!this.loaded) return;
    const ctx = this.base.getContext('2d')!;
    ctx.fillStyle = `#${(this.lut[color] ?? 0).toString(16).padStart(6, '0')}`;
    const s = Math.max(1, this.scale);
    ctx.fillRect(Math.floor(x * this.scale), Math.floor(y * this.scale), s, s);
  }

  /** Redraw: the image and the view's outline; and the zoom readout. */
  draw(): void {
    this.level.textContent = formatZoom(this.camera.zoom);
    const ctx = this.map.getContext('2d')!;
    ctx.clearRect(0, 0, this.map.width, this.map.height);
    ctx.drawImage(this.base, 0, 0);
    const r = this.camera.visibleRect();
    ctx.strokeStyle = '#ff4500';
    ctx.lineWidth = 2;
    ctx.strokeRect(r.x * this.scale, r.y * this.scale, Math.max(3, r.w * this.scale), Math.max(3, r.h * this.scale));
  }

  private zoom(factor: number): void {
    this.camera.zoomAt(factor, this.camera.screenW / 2, this.camera.screenH / 2);
    this.hooks.viewChanged();
  }

  private async copyLink(): Promise<void> {
    const link = this.hooks.link();
    try {
      await navigator.clipboard.writeText(link);
      this.hooks.toast('Link to this view copied.');
    } catch {
      // No clipboard permission (an insecure origin, a denied prompt): show the link to copy by hand.
      window.prompt('Copy this link:', link);
    }
  }
}
