/**
 * Draws the canvas: one 64×64 bitmap per held chunk, kept in step with the replica pixel by pixel, drawn
 * scaled without smoothing. Frames are drawn on requestAnimationFrame only when something changed.
 *
 * Why a bitmap per chunk: a delta rewrites a few pixels of one small ImageData and re-uploads 16 KiB, instead
 * of touching a canvas-sized image; panning only moves drawImage rectangles, so a frame over a 1024×1024
 * canvas is at most 256 drawImage calls whatever the zoom.
 *
 * Zoomed out, the replica is a level of detail L (one value per 2^L × 2^L block, see src/chunks/lod-geometry.ts):
 * its chunks are the same 64×64 bitmaps, each drawn over 64·2^L canvas pixels.
 */
import { CHUNK_AREA, CHUNK_SHIFT, CHUNK_SIZE, chunkKey, keyCx, keyCy, pixelChunkKey } from '../../src/chunks/geometry.js';
import type { Replica } from '../../src/client/replica.js';
import { type Camera, type CanvasRect, GRID_ZOOM } from './camera.js';

/** Colour behind and around the canvas. */
const BACKDROP = '#2b2d31';
/** Around the canvas in the light theme (matches app.css). */
const BACKDROP_LIGHT = '#d9dbe0';
const lightScheme = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: light)') : null;
const GRID_COLOUR = 'rgba(0, 0, 0, 0.18)';

interface ChunkBitmap {
  readonly surface: HTMLCanvasElement;
  readonly ctx: CanvasRenderingContext2D;
  readonly image: ImageData;
  /** The image's pixels as little-endian RGBA words, so one store writes one pixel. */
  readonly words: Uint32Array;
  /** The image changed since it was last put on the surface. */
  stale: boolean;
}

/** Writes the optimistic pixels of chunk (cx, cy) over a freshly drawn chunk (see Painter.overlay). */
export type OverlaySource = (cx: number, cy: number, write: (offset: number, color: number) => void) => void;

function makeSurface(): { surface: HTMLCanvasElement; ctx: CanvasRenderingContext2D } {
  const surface = document.createElement('canvas');
  surface.width = CHUNK_SIZE;
  surface.height = CHUNK_SIZE;
  const ctx = surface.getContext('2d');
  if (ctx === null) throw new Error('2D canvas is not available');
  return { surface, ctx };
}

/** The neutral placeholder for chunks not loaded yet: a light checkerboard of 8×8 squares. */
function makePlaceholder(): HTMLCanvasElement {
  const { surface, ctx } = makeSurface();
  for (let y = 0; y < CHUNK_SIZE; y += 8) {
    for (let x = 0; x < CHUNK_SIZE; x += 8) {
      ctx.fillStyle = ((x + y) >> 3) & 1 ? '#cfd1d4' : '#e1e3e6';
      ctx.fillRect(x, y, 8, 8);
    }
  }
  return surface;
}

/** RGBA word for 0xRRGGBB on a little-endian machine (every browser we target). */
function rgbaWord(rgb: number): number {
  return (0xff000000 | ((rgb & 0xff) << 16) | (rgb & 0xff00) | ((rgb >>> 16) & 0xff)) >>> 0;
}

export class ChunkRenderer {
  private readonly ctx: CanvasRenderingContext2D;
  private readonly chunks = new Map<number, ChunkBitmap>();
  /** Bitmaps of chunks that left the view, reused for the next ones to enter (panning allocates nothing). */
  private readonly pool: ChunkBitmap[] = [];
  private readonly placeholder = makePlaceholder();
  private lut = new Uint32Array(256);
  private replica: Replica | null = null;
  private overlay: OverlaySource | null = null;
  private dpr = 1;
  /** Level of detail of the attached replica (0: full resolution). */
  private level = 0;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly camera: Camera, private readonly invalidate: () => void) {
    const ctx = canvas.getContext('2d', { alpha: false });
    if (ctx === null) throw new Error('2D canvas is not available');
    this.ctx = ctx;
  }

  /** Palette from WELCOME; unknown indices draw as magenta, which no palette should make look intended. */
  setPalette(palette: readonly number[]): void {
    const lut = new Uint32Array(256).fill(rgbaWord(0xff00ff));
    for (let i = 0; i < palette.length && i < 256; i++) lut[i] = rgbaWord(palette[i]!);
    this.lut = lut;
    this.redrawAll();
  }

  setOverlay(source: OverlaySource): void {
    this.overlay = source;
  }

  /** Follows a replica from now on (a new client brings a new one); forgets the old one's chunks. */
  attach(replica: Replica, level = 0): void {
    this.level = level;
    if (this.replica !== null) {
      this.replica.onChange = undefined;
      this.replica.onDrop = undefined;
    }
    for (const key of [...this.chunks.keys()]) this.release(key);
    this.replica = replica;
    replica.onChange = (cx, cy, offsets) => this.onChunkChange(cx, cy, offsets);
    replica.onDrop = (cx, cy) => {
      this.release(chunkKey(cx, cy));
      this.invalidate();
    };
    this.invalidate();
  }

  /** True when every chunk of a pixel rect (within the canvas) has its pixels: no placeholder drawn there. */
  loaded(r: CanvasRect): boolean {
    if (r.w === 0 || r.h === 0) return true;
    const s = CHUNK_SHIFT + this.level;
    for (let cy = r.y >>> s; cy <= (r.y + r.h - 1) >>> s; cy++) {
      for (let cx = r.x >>> s; cx <= (r.x + r.w - 1) >>> s; cx++) {
        if (!this.chunks.has(chunkKey(cx, cy))) return false;
      }
    }
    return true;
  }

  /** Shows one pixel in a colour without touching the replica (optimistic painting and its revert). */
  showPixel(x: number, y: number, color: number): void {
    const l = this.level;
    if (l > 0) {
      if (((x | y) & ((1 << l) - 1)) !== 0) return; // not a pixel the level samples
      x >>>= l;
      y >>>= l;
    }
    const bmp = this.chunks.get(pixelChunkKey(x, y));
    if (bmp === undefined) return; // not loaded: the overlay is applied when its snapshot arrives
    bmp.words[((y & (CHUNK_SIZE - 1)) << CHUNK_SHIFT) | (x & (CHUNK_SIZE - 1))] = this.lut[color]!;
    bmp.stale = true;
    this.invalidate();
  }

  /** Matches the drawing buffer to the element's size in device pixels. */
  resize(cssW: number, cssH: number, dpr: number): void {
    this.dpr = dpr;
    const w = Math.max(1, Math.round(cssW * dpr));
    const h = Math.max(1, Math.round(cssH * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.invalidate();
  }

  /** Draws one frame. */
  draw(): void {
    const { ctx, camera: cam, dpr } = this;
    const W = this.canvas.width;
    const H = this.canvas.height;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.fillStyle = lightScheme?.matches ? BACKDROP_LIGHT : BACKDROP;
    ctx.fillRect(0, 0, W, H);
    const r = cam.visiblePixels();
    if (r.w === 0 || r.h === 0) return;
    const shift = CHUNK_SHIFT + this.level;
    const span = CHUNK_SIZE << this.level; // canvas pixels one bitmap covers
    const cx0 = r.x >>> shift;
    const cy0 = r.y >>> shift;
    const cx1 = (r.x + r.w - 1) >>> shift;
    const cy1 = (r.y + r.h - 1) >>> shift;
    // Chunk edges are rounded to whole device pixels, each edge computed once, so neighbours share it: no seams.
    for (let cy = cy0; cy <= cy1; cy++) {
      const top = Math.round(cam.toScreenY(cy * span) * dpr);
      const bottom = Math.round(cam.toScreenY((cy + 1) * span) * dpr);
      for (let cx = cx0; cx <= cx1; cx++) {
        const left = Math.round(cam.toScreenX(cx * span) * dpr);
        const right = Math.round(cam.toScreenX((cx + 1) * span) * dpr);
        const bmp = this.chunks.get(chunkKey(cx, cy));
        let source = this.placeholder;
        if (bmp !== undefined) {
          if (bmp.stale) {
            bmp.ctx.putImageData(bmp.image, 0, 0);
            bmp.stale = false;
          }
          source = bmp.surface;
        }
        ctx.drawImage(source, left, top, right - left, bottom - top);
      }
    }
    if (cam.zoom >= GRID_ZOOM) this.drawGrid(r.x, r.y, r.x + r.w, r.y + r.h);
  }

  private drawGrid(x0: number, y0: number, x1: number, y1: number): void {
    const { ctx, camera: cam, dpr } = this;
    const top = Math.round(cam.toScreenY(y0) * dpr);
    const bottom = Math.round(cam.toScreenY(y1) * dpr);
    const left = Math.round(cam.toScreenX(x0) * dpr);
    const right = Math.round(cam.toScreenX(x1) * dpr);
    ctx.beginPath();
    for (let x = x0; x <= x1; x++) {
      const sx = Math.round(cam.toScreenX(x) * dpr) + 0.5;
      ctx.moveTo(sx, top);
      ctx.lineTo(sx, bottom);
    }
    for (let y = y0; y <= y1; y++) {
      const sy = Math.round(cam.toScreenY(y) * dpr) + 0.5;
      ctx.moveTo(left, sy);
      ctx.lineTo(right, sy);
    }
    ctx.strokeStyle = GRID_COLOUR;
    ctx.lineWidth = 1;
    ctx.stroke();
  }

  private onChunkChange(cx: number, cy: number, offsets: Uint16Array | null): void {
    const held = this.replica?.chunk(cx, cy);
    if (held === undefined) return;
    const key = chunkKey(cx, cy);
    let bmp = this.chunks.get(key);
    const { lut } = this;
    const src = held.pixels;
    if (bmp === undefined || offsets === null) {
      bmp ??= this.acquire(key);
      const words = bmp.words;
      for (let i = 0; i < CHUNK_AREA; i++) words[i] = lut[src[i]!]!;
      if (this.level === 0) this.overlay?.(cx, cy, (o, color) => { words[o] = lut[color]!; });
    } else {
      const words = bmp.words;
      for (let i = 0; i < offsets.length; i++) {
        const o = offsets[i]!;
        words[o] = lut[src[o]!]!;
      }
    }
    bmp.stale = true;
    this.invalidate();
  }

  /** Rebuilds every held chunk's image (palette change). */
  private redrawAll(): void {
    const replica = this.replica;
    if (replica === null) return;
    for (const key of [...this.chunks.keys()]) {
      const cx = keyCx(key);
      const cy = keyCy(key);
      if (replica.has(cx, cy)) this.onChunkChange(cx, cy, null);
    }
  }

  private acquire(key: number): ChunkBitmap {
    let bmp = this.pool.pop();
    if (bmp === undefined) {
      const { surface, ctx } = makeSurface();
      const image = ctx.createImageData(CHUNK_SIZE, CHUNK_SIZE);
      bmp = { surface, ctx, image, words: new Uint32Array(image.data.buffer), stale: true };
    }
    this.chunks.set(key, bmp);
    return bmp;
  }

  private release(key: number): void {
    const bmp = this.chunks.get(key);
    if (bmp === undefined) return;
    this.chunks.delete(key);
    if (this.pool.length < 256) this.pool.push(bmp);
  }
}
