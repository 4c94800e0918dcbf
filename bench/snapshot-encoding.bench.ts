/**
 * Snapshot pixel encodings compared on four kinds of chunk: real pixel art (every 64x64 chunk of the final
 * r/place 2017 canvas, 1000x1000 padded to 1024x1024 with white), empty chunks, noise (uniform over 32
 * colours) and sparse chunks (8 random pixels on the background). For each: payload bytes of RAW, of what
 * encodeSnapshotPixels ships (EMPTY / RLE / RAW, whichever is smallest), and of deflate (node:zlib
 * deflateRawSync, level 6; for the record, not shipped), plus encode and decode µs per chunk.
 * Payload only: every SNAPSHOT message adds 12 bytes of header.
 *
 *   node scripts/build.mjs && node dist/bench/snapshot-encoding.bench.js [--quick]
 *
 * The fixture loader is exported for test/chunks/snapshot-codec.test.ts. PIXEL_CANVAS_FIXTURES overrides the
 * folder holding rplace-2017-final.png; without it the real-art row is skipped.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { CHUNK_AREA, CHUNK_SIZE } from '../src/chunks/geometry.js';
import { R_PLACE_2017_PALETTE } from '../src/chunks/palette.js';
import { decodeSnapshotPixels, encodeSnapshotPixels } from '../src/chunks/snapshot-codec.js';
import { prng } from './prng.js';

export const FIXTURE_PATH = join(process.env['PIXEL_CANVAS_FIXTURES'] ?? '/work/shared/fixtures', 'rplace-2017-final.png');
/** White, the r/place background, is the last entry of the 2017 palette. */
export const R_PLACE_2017_BACKGROUND = R_PLACE_2017_PALETTE.indexOf(0xffffff);

/** The 0xRRGGBB entries of a PNG file's PLTE chunk. */
export function pngPalette(file: Uint8Array): number[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  for (let o = 8; o + 8 <= file.length;) {
    const len = view.getUint32(o);
    const type = String.fromCharCode(...file.subarray(o + 4, o + 8));
    if (type === 'PLTE') {
      const out: number[] = [];
      for (let i = o + 8; i < o + 8 + len; i += 3) out.push((file[i] << 16) | (file[i + 1] << 8) | file[i + 2]);
      return out;
    }
    o += 12 + len;
  }
  throw new Error('PNG has no PLTE chunk');
}

/**
 * Every 64x64 chunk of the r/place 2017 fixture as palette indices, row by row of chunks, the canvas padded
 * to whole chunks with `background`. pngjs decodes to RGBA, so colours are mapped back through the palette.
 */
export function loadFixtureChunks(background = R_PLACE_2017_BACKGROUND, path = FIXTURE_PATH): Uint8Array[] {
  const png = PNG.sync.read(readFileSync(path));
  const index = new Map(R_PLACE_2017_PALETTE.map((rgb, i) => [rgb, i]));
  const chunksX = Math.ceil(png.width / CHUNK_SIZE);
  const chunksY = Math.ceil(png.height / CHUNK_SIZE);
  const out: Uint8Array[] = [];
  for (let cy = 0; cy < chunksY; cy++) {
    for (let cx = 0; cx < chunksX; cx++) {
      const pixels = new Uint8Array(CHUNK_AREA).fill(background);
      for (let ly = 0; ly < CHUNK_SIZE && cy * CHUNK_SIZE + ly < png.height; ly++) {
        const y = cy * CHUNK_SIZE + ly;
        for (let lx = 0; lx < CHUNK_SIZE && cx * CHUNK_SIZE + lx < png.width; lx++) {
          const x = cx * CHUNK_SIZE + lx;
          const p = (y * png.width + x) * 4;
          const rgb = (png.data[p] << 16) | (png.data[p + 1] << 8) | png.data[p + 2];
          const i = index.get(rgb);
          if (i === undefined) throw new Error(`fixture pixel (${x}, ${y}) #${rgb.toString(16)} is not in the palette`);
          pixels[ly * CHUNK_SIZE + lx] = i;
        }
      }
      out.push(pixels);
    }
  }
  return out;
}


export function noisyChunks(n: number, colours = 32, seed = 1): Uint8Array[] {
  const rand = prng(seed);
  return Array.from({ length: n }, () => Uint8Array.from({ length: CHUNK_AREA }, () => Math.floor(rand() * colours)));
}

export function sparseChunks(n: number, dots: number, background: number, colours = 32, seed = 2): Uint8Array[] {
  const rand = prng(seed);
  return Array.from({ length: n }, () => {
    const pixels = new Uint8Array(CHUNK_AREA).fill(background);
    for (let i = 0; i < dots; i++) pixels[Math.floor(rand() * CHUNK_AREA)] = Math.floor(rand() * colours);
    return pixels;
  });
}

interface Row {
  chunks: number;
  rawBytes: number;
  codecBytes: number;
  deflateBytes: number;
  /** Chunks per encoding: EMPTY, RAW, RLE. */
  picked: [number, number, number];
  encodeUs: number;
  decodeUs: number;
  deflateUs: number;
  inflateUs: number;
}

let sink = 0;

/** µs per chunk of fn over all chunks, best of `reps` passes (the first pass is the warm-up). */
function perChunkUs(chunks: number, reps: number, pass: () => void): number {
  let best = Infinity;
  for (let r = 0; r <= reps; r++) {
    const t0 = process.hrtime.bigint();
    pass();
    const us = Number(process.hrtime.bigint() - t0) / 1e3 / chunks;
    if (r > 0 || reps === 0) best = Math.min(best, us);
  }
  return best;
}

function measure(chunks: Uint8Array[], background: number, reps: number): Row {
  const encoded = chunks.map((c) => encodeSnapshotPixels(c, background));
  // encodeSnapshotPixels returns the pixels themselves for RAW: copy so decoding does not read its own output.
  const payloads = encoded.map((e) => ({ encoding: e.encoding, data: e.data.slice() }));
  const deflated = chunks.map((c) => deflateRawSync(c, { level: 6 }));
  const picked: [number, number, number] = [0, 0, 0];
  for (const e of encoded) picked[e.encoding]++;
  const out = new Uint8Array(CHUNK_AREA);
  return {
    chunks: chunks.length,
    rawBytes: chunks.length * CHUNK_AREA,
    codecBytes: encoded.reduce((s, e) => s + e.data.length, 0),
    deflateBytes: deflated.reduce((s, d) => s + d.length, 0),
    picked,
    encodeUs: perChunkUs(chunks.length, reps, () => {
      for (const c of chunks) sink += encodeSnapshotPixels(c, background).data.length;
    }),
    decodeUs: perChunkUs(chunks.length, reps, () => {
      for (const p of payloads) {
        decodeSnapshotPixels(p.encoding, p.data, background, out);
        sink += out[4095];
      }
    }),
    deflateUs: perChunkUs(chunks.length, Math.min(reps, 3), () => {
      for (const c of chunks) sink += deflateRawSync(c, { level: 6 }).length;
    }),
    inflateUs: perChunkUs(chunks.length, Math.min(reps, 3), () => {
      for (const d of deflated) sink += inflateRawSync(d).length;
    }),
  };
}

/** Measures every data set; prints a table; returns `<set>.<metric>` numbers. */
export async function run(opts: { quick?: boolean } = {}): Promise<Record<string, number>> {
  const quick = opts.quick === true;
  const reps = quick ? 1 : 20;
  const n = quick ? 64 : 256;
  const background = R_PLACE_2017_BACKGROUND;
  const sets: [string, Uint8Array[]][] = [];
  if (existsSync(FIXTURE_PATH)) sets.push(['r/place 2017', loadFixtureChunks(background)]);
  else console.log(`(no fixture at ${FIXTURE_PATH}: real-art row skipped)`);
  sets.push(
    ['empty', Array.from({ length: n }, () => new Uint8Array(CHUNK_AREA).fill(background))],
    ['noisy 32 colours', noisyChunks(n)],
    ['sparse 8 px', sparseChunks(n, 8, background)],
    ['sparse 64 px', sparseChunks(n, 64, background)],
  );

  const results: Record<string, number> = {};
  const table: Record<string, Record<string, string | number>> = {};
  for (const [name, chunks] of sets) {
    const r = measure(chunks, background, reps);
    const avg = (bytes: number): string => (bytes / r.chunks).toFixed(1);
    Object.assign(results, {
      [`${name}.chunks`]: r.chunks,
      [`${name}.raw_bytes`]: r.rawBytes,
      [`${name}.codec_bytes`]: r.codecBytes,
      [`${name}.deflate_bytes`]: r.deflateBytes,
      [`${name}.encode_us`]: r.encodeUs,
      [`${name}.decode_us`]: r.decodeUs,
      [`${name}.deflate_us`]: r.deflateUs,
      [`${name}.inflate_us`]: r.inflateUs,
    });
    table[name] = {
      chunks: r.chunks,
      'raw total': r.rawBytes,
      'codec total': r.codecBytes,
      'deflate total': r.deflateBytes,
      'raw avg': avg(r.rawBytes),
      'codec avg': avg(r.codecBytes),
      'deflate avg': avg(r.deflateBytes),
      'EMPTY/RAW/RLE': r.picked.join('/'),
      'enc µs': r.encodeUs.toFixed(2),
      'dec µs': r.decodeUs.toFixed(2),
      'deflate µs': r.deflateUs.toFixed(1),
      'inflate µs': r.inflateUs.toFixed(1),
    };
  }
  console.log(`Snapshot pixel payloads${quick ? ' (quick)' : ''}: bytes, and µs per chunk (best of ${reps} passes)`);
  console.table(table);
  if (sink === -1) console.log(sink); // keeps results observable
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run({ quick: process.argv.includes('--quick') });
}
