/**
 * Renders a region of the canvas as an 8-bit RGB PNG without holding the event loop or the whole image.
 *
 * The region's painted chunks are copied first, synchronously (4 KiB each, so at most `w·h` bytes however the
 * canvas changes meanwhile, and the image is exactly the state its ETag names). Rows are then produced one band
 * (about 192 KiB of RGB) at a time and fed to a zlib deflate stream whose work runs on libuv's thread pool; the
 * loop yields between bands, so a tick or a /healthz never waits for more than one band. Memory per render:
 * the copied chunks, one band of RGB (about 192 KiB), and the compressed output.
 *
 * `RenderGate` bounds how many renders run at once; the route answers 503 with Retry-After beyond it.
 */
import { createDeflate, crc32 } from 'node:zlib';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { CHUNK_SHIFT, CHUNK_SIZE } from '../chunks/geometry.js';

/** Rows are produced this many bytes at a time (about 1 ms of work), then the loop is yielded. */
const BAND_BYTES = 192 * 1024;

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** FNV-1a over the colours: names a palette in an ETag or cache key (the same after a restart, unlike a counter). */
export function paletteHash(palette: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const c of palette) {
    for (let k = 0; k < 24; k += 8) h = Math.imul(h ^ ((c >>> k) & 0xff), 0x01000193);
  }
  return h >>> 0;
}

/** r, g, b per palette index, for all 256 indices (unknown indices are black). */
export function paletteLut(palette: readonly number[]): Uint8Array {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < Math.min(256, palette.length); i++) {
    const rgb = palette[i]!;
    lut[i * 3] = (rgb >>> 16) & 0xff;
    lut[i * 3 + 1] = (rgb >>> 8) & 0xff;
    lut[i * 3 + 2] = rgb & 0xff;
  }
  return lut;
}

/** One PNG chunk: length, type, data, CRC over type and data. */
function pngChunk(type: string, data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** The pixels of every chunk the region touches, copied now; null for unpainted chunks. */
interface RegionCopy {
  cx0: number;
  cy0: number;
  cols: number;
  chunks: (Uint8Array | null)[];
}

function copyRegion(store: ChunkStore, x: number, y: number, w: number, h: number): RegionCopy {
  const cx0 = x >>> CHUNK_SHIFT, cx1 = (x + w - 1) >>> CHUNK_SHIFT;
  const cy0 = y >>> CHUNK_SHIFT, cy1 = (y + h - 1) >>> CHUNK_SHIFT;
  const cols = cx1 - cx0 + 1;
  const chunks: (Uint8Array | null)[] = new Array(cols * (cy1 - cy0 + 1));
  let i = 0;
  for (let cy = cy0; cy <= cy1; cy++) {
    for (let cx = cx0; cx <= cx1; cx++) {
      const px = store.chunkPixels(cx, cy);
      chunks[i++] = px === null ? null : px.slice();
    }
  }
  return { cx0, cy0, cols, chunks };
}

/** Filter-type-0 scanlines for rows [py0, py1) of the region into `band`; returns the bytes written. */
function fillBand(copy: RegionCopy, lut: Uint8Array, bg: number, x: number, w: number, py0: number, py1: number, band: Buffer): number {
  const stride = 1 + w * 3;
  const cx1 = (x + w - 1) >>> CHUNK_SHIFT;
  for (let py = py0; py < py1; py++) {
    const row0 = (py >>> CHUNK_SHIFT) - copy.cy0;
    let o = (py - py0) * stride;
    band[o++] = 0; // filter: none
    const inRow = (py & (CHUNK_SIZE - 1)) << CHUNK_SHIFT;
    for (let cx = x >>> CHUNK_SHIFT; cx <= cx1; cx++) {
      const pixels = copy.chunks[row0 * copy.cols + (cx - copy.cx0)]!;
      const px0 = Math.max(x, cx << CHUNK_SHIFT), px1 = Math.min(x + w, (cx + 1) << CHUNK_SHIFT);
      if (pixels === null) {
        const r = lut[bg]!, g = lut[bg + 1]!, b = lut[bg + 2]!;
        for (let px = px0; px < px1; px++) {
          band[o] = r; band[o + 1] = g; band[o + 2] = b;
          o += 3;
        }
        continue;
      }
      for (let px = px0; px < px1; px++) {
        const c = pixels[inRow | (px & (CHUNK_SIZE - 1))]! * 3;
        band[o] = lut[c]!; band[o + 1] = lut[c + 1]!; band[o + 2] = lut[c + 2]!;
        o += 3;
      }
    }
  }
  return (py1 - py0) * stride;
}

/**
 * The region as a PNG (colour type 2, 8 bits per channel, no row filter, zlib level 6: for palette art the
 * fastest and about the smallest choice measured). Resolves once the last band is compressed.
 */
export async function renderRegionPng(store: ChunkStore, lut: Uint8Array, x: number, y: number, w: number, h: number): Promise<Buffer> {
  const copy = copyRegion(store, x, y, w, h);
  const bg = store.background * 3;
  const deflate = createDeflate({ level: 6, strategy: 0 });
  const parts: Buffer[] = [];
  deflate.on('data', (d: Buffer) => parts.push(d));
  const ended = new Promise<void>((resolve, reject) => {
    deflate.once('end', resolve);
    deflate.once('error', reject);
  });
  const stride = 1 + w * 3;
  const rows = Math.max(1, Math.floor(BAND_BYTES / stride));
  // One band buffer, reused: zlib is done with it once the write's callback runs.
  const band = Buffer.allocUnsafe(Math.min(h, rows) * stride);
  for (let py = y; py < y + h; py += rows) {
    const n = fillBand(copy, lut, bg, x, w, py, Math.min(y + h, py + rows), band);
    // Wait for zlib to take the band before making the next: memory stays at one band, and the loop is free.
    await new Promise<void>((resolve, reject) => deflate.write(band.subarray(0, n), (err) => (err ? reject(err) : resolve())));
  }
  deflate.end();
  await ended;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', Buffer.concat(parts)), pngChunk('IEND', Buffer.alloc(0))]);
}

/** Counts renders in flight; `tryEnter` refuses beyond the bound instead of queueing. */
export class RenderGate {
  private inFlight = 0;
  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`render gate: max must be an integer >= 1, got ${max}`);
  }
  tryEnter(): boolean {
    if (this.inFlight >= this.max) return false;
    this.inFlight++;
    return true;
  }
  leave(): void {
    this.inFlight--;
  }
  get active(): number {
    return this.inFlight;
  }
}
