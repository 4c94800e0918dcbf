/**
 * Template overlay: an image (URL or local file) laid over the canvas at a position, width (the image is
 * resampled to that many canvas pixels, nearest neighbour) and opacity, with every canvas pixel that differs
 * from the template marked. The template and its placement live in the URL after the view, with pxls'
 * parameter names, so a link shares it: `#x,y,zoom&template=<url>&ox=<x>&oy=<y>&tw=<width>&oo=<opacity>`.
 * A local file cannot be shared by link: while one is shown, the hash carries no template.
 */
import type { Camera } from './camera.js';
import type { Replica } from '../../src/client/replica.js';

export interface TemplateParams {
  url: string | null;
  ox: number;
  oy: number;
  /** Width in canvas pixels; null: the image's own width. */
  tw: number | null;
  oo: number;
}

const DEFAULT: TemplateParams = { url: null, ox: 0, oy: 0, tw: null, oo: 0.5 };
/** Template pixels on screen above which differences are not marked in a frame (zoom in to see them). */
const MAX_MARKED = 300_000;
/** Largest template, in canvas pixels: keeps the diff cheap. */
const MAX_PIXELS = 2048 * 2048;

/** The template part of a hash (after the first '&'), or null when it names no template. */
export function parseTemplateHash(hash: string): TemplateParams | null {
  const i = hash.indexOf('&');
  if (i < 0) return null;
  const q = new URLSearchParams(hash.slice(i + 1));
  const url = q.get('template');
  if (url === null || url === '') return null;
  const num = (k: string, d: number) => {
    const v = Number(q.get(k));
    return q.get(k) !== null && Number.isFinite(v) ? v : d;
  };
  const tw = num('tw', 0);
  return {
    url, ox: Math.round(num('ox', 0)), oy: Math.round(num('oy', 0)), tw: tw >= 1 ? Math.round(tw) : null,
    oo: Math.min(1, Math.max(0, num('oo', DEFAULT.oo))),
  };
}

export function formatTemplateHash(p: TemplateParams | null): string {
  if (p === null || p.url === null) return '';
  const q = new URLSearchParams({ template: p.url, ox: String(p.ox), oy: String(p.oy), oo: String(p.oo) });
  if (p.tw !== null) q.set('tw', String(p.tw));
  return `&${q.toString()}`;
}

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`index.html lacks #${id}`);
  return el as T;
}

export class TemplateOverlay {
  params: TemplateParams | null = null;
  /** Template pixels at canvas resolution (RGBA), or null when not loaded or not readable (cross-origin). */
  private pixels: Uint8ClampedArray | null = null;
  private readonly image = document.createElement('canvas');
  private width = 0;
  private height = 0;
  /** Template pixels that differ from the canvas (among loaded chunks); -1 when unknown. */
  differing = -1;
  /** Pixels compared (opaque template pixels on loaded chunks). */
  compared = 0;
  loaded = false;
  private localFile = false;
  private loadId = 0;
  private readonly layer = byId<HTMLCanvasElement>('template-layer');
  private readonly status = byId('template-status');

  constructor(private readonly camera: Camera, private readonly hooks: {
    replica(): Replica; palette(): readonly number[]; changed(): void; requestFrame(): void; toast(t: string): void;
  }) {
    const num = (id: string) => byId<HTMLInputElement>(id);
    byId<HTMLInputElement>('template-url').addEventListener('change', (e) => {
      const url = (e.target as HTMLInputElement).value.trim();
      if (url) this.set({ ...(this.params ?? DEFAULT), url });
    });
    byId<HTMLInputElement>('template-file').addEventListener('change', (e) => {
      const f = (e.target as HTMLInputElement).files?.[0];
      if (f) this.set({ ...(this.params ?? DEFAULT), url: null }, URL.createObjectURL(f));
    });
    for (const id of ['template-x', 'template-y', 'template-w']) {
      num(id).addEventListener('change', () => {
        if (this.params === null) return;
        const w = Number(num('template-w').value);
        this.set({ ...this.params, ox: Math.round(Number(num('template-x').value) || 0), oy: Math.round(Number(num('template-y').value) || 0), tw: w >= 1 ? Math.round(w) : null }, undefined, true);
      });
    }
    num('template-opacity').addEventListener('input', () => {
      if (this.params === null) return;
      this.params = { ...this.params, oo: Number(num('template-opacity').value) };
      this.hooks.changed();
      this.hooks.requestFrame();
    });
    byId('template-here').addEventListener('click', () => {
      if (this.params === null) return;
      this.set({ ...this.params, ox: Math.round(camera.x - this.width / 2), oy: Math.round(camera.y - this.height / 2) }, undefined, true);
    });
    byId('template-clear').addEventListener('click', () => this.set(null));
  }

  /** Adopts placement params; reloads the image when its URL (or a local file) changed. */
  set(p: TemplateParams | null, localUrl?: string, keepImage = false): void {
    const prevUrl = this.params?.url ?? null;
    this.params = p;
    this.syncInputs();
    if (p === null) {
      this.pixels = null;
      this.loaded = false;
      this.localFile = false;
      this.layer.hidden = true;
      this.status.textContent = '';
      this.hooks.changed();
      this.hooks.requestFrame();
      return;
    }
    this.layer.hidden = false;
    const src = localUrl ?? p.url;
    if (keepImage || (localUrl === undefined && src === prevUrl && this.loaded) || src === null) {
      if (this.loaded) this.resample();
      this.hooks.changed();
      this.hooks.requestFrame();
      return;
    }
    this.localFile = localUrl !== undefined;
    void this.load(src);
    this.hooks.changed();
  }

  private syncInputs(): void {
    const p = this.params;
    byId<HTMLInputElement>('template-x').value = String(p?.ox ?? 0);
    byId<HTMLInputElement>('template-y').value = String(p?.oy ?? 0);
    byId<HTMLInputElement>('template-w').value = p?.tw === null || p === null ? '' : String(p.tw);
    byId<HTMLInputElement>('template-opacity').value = String(p?.oo ?? DEFAULT.oo);
    if (p?.url) byId<HTMLInputElement>('template-url').value = p.url;
  }

  private source: HTMLImageElement | null = null;

  private async load(src: string): Promise<void> {
    const id = ++this.loadId;
    this.loaded = false;
    this.status.textContent = 'Loading the template…';
    const img = new Image();
    img.crossOrigin = 'anonymous';
    img.decoding = 'async';
    img.src = src;
    try {
      await img.decode();
    } catch {
      if (id !== this.loadId) return;
      this.status.textContent = 'The template image could not be loaded (check the URL; the host must allow cross-origin use).';
      this.hooks.toast('The template image could not be loaded.');
      return;
    }
    if (id !== this.loadId) return;
    this.source = img;
    this.loaded = true;
    this.resample();
    this.hooks.requestFrame();
  }

  /** The image at canvas resolution: `tw` wide, nearest neighbour. */
  private resample(): void {
    const img = this.source;
    const p = this.params;
    if (img === null || p === null) return;
    const w = Math.max(1, p.tw ?? img.naturalWidth);
    const h = Math.max(1, Math.round((img.naturalHeight * w) / img.naturalWidth));
    if (w * h > MAX_PIXELS) {
      this.status.textContent = `The template is ${w}×${h}: at most ${MAX_PIXELS} pixels. Give a smaller width.`;
      this.pixels = null;
      return;
    }
    this.width = w;
    this.height = h;
    this.image.width = w;
    this.image.height = h;
    const ctx = this.image.getContext('2d', { willReadFrequently: true })!;
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(0, 0, w, h);
    ctx.drawImage(img, 0, 0, w, h);
    try {
      this.pixels = ctx.getImageData(0, 0, w, h).data;
    } catch {
      this.pixels = null; // cross-origin without CORS: shown, but cannot be compared
    }
    this.recount();
  }

  /** Counts differing pixels (call when the replica changed; cheap enough for templates up to MAX_PIXELS). */
  recount(): void {
    const p = this.params;
    const px = this.pixels;
    if (p === null || !this.loaded) return;
    if (px === null) {
      this.differing = -1;
      this.status.textContent = `${this.width}×${this.height} at (${p.ox}, ${p.oy}). The image’s host does not allow reading its pixels, so differences cannot be marked.`;
      return;
    }
    const replica = this.hooks.replica();
    const lut = this.hooks.palette();
    let differ = 0, compared = 0;
    for (let j = 0; j < this.height; j++) {
      for (let i = 0; i < this.width; i++) {
        const o = (j * this.width + i) * 4;
        if (px[o + 3]! < 128) continue;
        const c = replica.get(p.ox + i, p.oy + j);
        if (c === undefined) continue;
        compared++;
        const rgb = lut[c] ?? -1;
        if (rgb !== ((px[o]! << 16) | (px[o + 1]! << 8) | px[o + 2]!)) differ++;
      }
    }
    this.differing = differ;
    this.compared = compared;
    this.status.textContent = `${this.width}×${this.height} at (${p.ox}, ${p.oy})${this.localFile ? ' (local file: links cannot share it)' : ''}. ` +
      (compared === 0 ? 'Move over it to compare.' : `${differ} of ${compared} pixels in view differ (marked).`);
  }

  /** Draws the overlay for the current camera onto its layer. */
  draw(dpr: number): void {
    const p = this.params;
    const layer = this.layer;
    if (p === null || !this.loaded) return;
    const W = Math.round(this.camera.screenW * dpr), H = Math.round(this.camera.screenH * dpr);
    if (layer.width !== W || layer.height !== H) {
      layer.width = W;
      layer.height = H;
    }
    const ctx = layer.getContext('2d')!;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.imageSmoothingEnabled = false;
    const cam = this.camera;
    const z = cam.zoom * dpr;
    const left = cam.toScreenX(p.ox) * dpr, top = cam.toScreenY(p.oy) * dpr;
    ctx.globalAlpha = p.oo;
    ctx.drawImage(this.image, left, top, this.width * z, this.height * z);
    ctx.globalAlpha = 1;
    const px = this.pixels;
    if (px === null) return;
    // Mark differing pixels on screen.
    const replica = this.hooks.replica();
    const lut = this.hooks.palette();
    const vis = cam.visiblePixels();
    const i0 = Math.max(0, vis.x - p.ox), j0 = Math.max(0, vis.y - p.oy);
    const i1 = Math.min(this.width, vis.x + vis.w - p.ox), j1 = Math.min(this.height, vis.y + vis.h - p.oy);
    // Marking is per pixel on screen: past this many (a big template far out) only the image is drawn.
    if ((i1 - i0) * (j1 - j0) > MAX_MARKED) return;
    const size = Math.max(1, z);
    const big = z >= 6;
    for (let j = j0; j < j1; j++) {
      for (let i = i0; i < i1; i++) {
        const o = (j * this.width + i) * 4;
        if (px[o + 3]! < 128) continue;
        const c = replica.get(p.ox + i, p.oy + j);
        if (c === undefined) continue;
        const want = (px[o]! << 16) | (px[o + 1]! << 8) | px[o + 2]!;
        if ((lut[c] ?? -1) === want) continue;
        const x = left + i * z, y = top + j * z;
        if (big) {
          // The wanted colour as a dot in the pixel's centre, outlined so it shows on any background.
          const d = size / 3;
          ctx.fillStyle = '#000';
          ctx.fillRect(x + d - 1, y + d - 1, d + 2, d + 2);
          ctx.fillStyle = `#${want.toString(16).padStart(6, '0')}`;
          ctx.fillRect(x + d, y + d, d, d);
        } else {
          ctx.fillStyle = 'rgba(255, 0, 200, 0.85)';
          ctx.fillRect(x, y, size, size);
        }
      }
    }
  }
}
