/**
 * The overview corner: a minimap of the whole canvas with the current view outlined (click to go there), zoom
 * buttons, a zoom readout and a copy-link button. The minimap's image is /canvas.png (cheap to refetch: it
 * has an ETag), refreshed now and then and kept current between refreshes by the deltas the page receives.
 * Scaled down, each minimap pixel shows a painted pixel of its block if there is one, so sparse art stays
 * visible. The Map button hides and shows the minimap (remembered).
 */
import type { Camera } from './camera.js';
import { recall, remember } from './remembered.js';

const REFRESH_MS = 30_000;
const STEP = 1.5;
/** Longest side of the minimap's bitmap, in its pixels. */
const SIDE = 160;
/** Above this many canvas pixels the PNG is not read back pixel by pixel (memory); it is drawn smoothed instead. */
const MAX_READBACK_PIXELS = 4096 * 4096;

/** RGBA word (little-endian, as ImageData's bytes read through a Uint32Array) of 0xRRGGBB. */
function rgbaWord(rgb: number): number {
  return (0xff000000 | ((rgb & 0xff) << 16) | (rgb & 0xff00) | ((rgb >>> 16) & 0xff)) >>> 0;
}

/**
 * Scales `src` (w × h RGBA words) down to dw × dh: a destination pixel takes a pixel of its block that is
 * not `background` (the last one met), else the background. Averaging would wash a lone pixel out.
 */
export function downscaleKeepingPaint(src: Uint32Array, w: number, h: number, dst: Uint32Array, dw: number, dh: number, background: number): void {
  const bg = background >>> 0;
  for (let dy = 0; dy < dh; dy++) {
    const y0 = Math.floor((dy * h) / dh);
    const y1 = Math.max(y0 + 1, Math.floor(((dy + 1) * h) / dh));
    for (let dx = 0; dx < dw; dx++) {
      const x0 = Math.floor((dx * w) / dw);
      const x1 = Math.max(x0 + 1, Math.floor(((dx + 1) * w) / dw));
      let out = bg;
      for (let y = y0; y < y1; y++) {
        const row = y * w;
        for (let x = x0; x < x1; x++) {
          const v = src[row + x]! >>> 0;
          if (v !== bg) out = v;
        }
      }
      dst[dy * dw + dx] = out;
    }
  }
}

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
  private background = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private loaded = false;
  private readonly toggle = byId('minimap-toggle');

  constructor(private readonly camera: Camera, private readonly hooks: { viewChanged(): void; toast(text: string): void; link(): string; online(): boolean }) {
    byId('zoom-in').addEventListener('click', () => this.zoom(STEP));
    byId('zoom-out').addEventListener('click', () => this.zoom(1 / STEP));
    byId('zoom-fit').addEventListener('click', () => {
      camera.fit();
      hooks.viewChanged();
    });
    byId('copy-link').addEventListener('click', () => void this.copyLink());
    this.showMap(recall('minimap') !== 'hidden');
    this.toggle.addEventListener('click', () => {
      this.showMap(this.map.hidden);
      remember('minimap', this.map.hidden ? 'hidden' : 'shown');
    });
    this.map.addEventListener('click', (e) => {
      const r = this.map.getBoundingClientRect();
      const sx = (e.clientX - r.left) * (this.map.width / r.width);
      const sy = (e.clientY - r.top) * (this.map.height / r.height);
      camera.set({ x: sx / this.scale, y: sy / this.scale, zoom: Math.max(camera.zoom, 4) });
      hooks.viewChanged();
    });
  }

  private showMap(show: boolean): void {
    this.map.hidden = !show;
    this.toggle.setAttribute('aria-pressed', String(show));
  }

  /** A (new) canvas: size the minimap to its aspect and load its image. `background` is a palette index. */
  start(width: number, height: number, palette: readonly number[], background: number): void {
    this.lut = palette;
    this.background = background;
    this.scale = SIDE / Math.max(width, height);
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
      this.paintBase(bmp);
      bmp.close();
      this.loaded = true;
      this.draw();
    } catch {
      // offline or too large for this browser: the minimap keeps what it had
    }
  }

  private paintBase(bmp: ImageBitmap): void {
    const ctx = this.base.getContext('2d')!;
    const { width: w, height: h } = bmp;
    if (this.scale >= 1 || w * h > MAX_READBACK_PIXELS) {
      ctx.imageSmoothingEnabled = this.scale < 1;
      ctx.drawImage(bmp, 0, 0, this.base.width, this.base.height);
      return;
    }
    const full = document.createElement('canvas');
    full.width = w;
    full.height = h;
    const fctx = full.getContext('2d', { willReadFrequently: true })!;
    fctx.drawImage(bmp, 0, 0);
    const src = new Uint32Array(fctx.getImageData(0, 0, w, h).data.buffer);
    const out = ctx.createImageData(this.base.width, this.base.height);
    downscaleKeepingPaint(src, w, h, new Uint32Array(out.data.buffer), out.width, out.height, rgbaWord(this.lut[this.background] ?? 0xffffff));
    ctx.putImageData(out, 0, 0);
  }

  /** A pixel changed (a delta): paint it on the minimap at its scale. */
  pixel(x: number, y: number, color: number): void {
    if (!this.loaded) return;
    // Scaled down, a block shows any painted pixel in it: a pixel set back to the background does not
    // clear the block (others in it may be painted); the next refresh redraws it from the PNG.
    if (color === this.background && this.scale < 1) return;
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
