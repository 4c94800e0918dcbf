/**
 * The snapshot pixel codec: round trips, the choice of the smallest encoding (against an independent size
 * count), golden RLE bytes, and hostile input. fast-check prints the seed and path on failure; replay with
 * `fc.assert(prop, { seed, path })` and pin the case as a named regression test.
 */
import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHUNK_AREA } from '../../src/chunks/geometry.js';
import { R_PLACE_2017_PALETTE } from '../../src/chunks/palette.js';
import { decodeSnapshotPixels, encodeSnapshotPixels } from '../../src/chunks/snapshot-codec.js';
import { ProtocolError, SnapshotEncoding } from '../../src/net/protocol.js';
import { FIXTURE_PATH, R_PLACE_2017_BACKGROUND, loadFixtureChunks, pngPalette } from '../../bench/snapshot-encoding.bench.js';

const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

/** Index of the first difference, or -1. (expect().toEqual on 4096-byte arrays is slow enough to matter here.) */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Size of the RLE payload by the documented rules, counted independently of the encoder. */
function referenceRleSize(pixels: Uint8Array): number {
  const max = Math.max(...pixels);
  const width = max === 0 ? 0 : Math.ceil(Math.log2(max + 1));
  const longField = 2 ** (8 - width) - 1;
  let size = 1;
  let i = 0;
  while (i < CHUNK_AREA) {
    let j = i;
    while (j < CHUNK_AREA && pixels[j] === pixels[i]) j++;
    const run = j - i;
    size += run <= longField ? 1 : run - longField - 1 < 128 ? 2 : 3;
    i = j;
  }
  return size;
}

// ---- generators ----

const chunkFromRuns = (runs: { color: number; len: number }[], fill: number): Uint8Array => {
  const out = new Uint8Array(CHUNK_AREA).fill(fill);
  let o = 0;
  for (const r of runs) {
    const end = Math.min(CHUNK_AREA, o + r.len);
    out.fill(r.color, o, end);
    o = end;
  }
  return out;
};

const anyBytes = fc.uint8Array({ minLength: CHUNK_AREA, maxLength: CHUNK_AREA });
const smallPaletteNoise = fc
  .tuple(fc.integer({ min: 1, max: 8 }), fc.uint8Array({ minLength: CHUNK_AREA, maxLength: CHUNK_AREA }))
  .map(([bits, b]) => b.map((x) => x & ((1 << bits) - 1)));
const runsChunk = fc
  .tuple(
    fc.array(
      fc.record({
        color: fc.oneof(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 255 })),
        len: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 4096 })),
      }),
      { maxLength: 400 },
    ),
    fc.integer({ min: 0, max: 31 }),
  )
  .map(([runs, fill]) => chunkFromRuns(runs, fill));
const sparseChunk = fc
  .tuple(
    fc.integer({ min: 0, max: 31 }),
    fc.array(fc.tuple(fc.integer({ min: 0, max: CHUNK_AREA - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 40 }),
  )
  .map(([bg, dots]) => {
    const out = new Uint8Array(CHUNK_AREA).fill(bg);
    for (const [o, c] of dots) out[o] = c;
    return out;
  });
const emptyChunk = fc.integer({ min: 0, max: 255 }).map((bg) => new Uint8Array(CHUNK_AREA).fill(bg));
const chunk = fc.oneof(anyBytes, smallPaletteNoise, runsChunk, sparseChunk, emptyChunk);
/** Background: usually the chunk's first pixel (so EMPTY and near-empty chunks are common), sometimes any. */
const chunkAndBackground = chunk.chain((c) =>
  fc.tuple(fc.constant(c), fc.oneof(fc.constant(c[0]!), fc.integer({ min: 0, max: 255 }))),
);

// ---- tests ----

describe('encodeSnapshotPixels / decodeSnapshotPixels', () => {
  it('round-trips every chunk and picks the smallest encoding (RAW on ties)', () => {
    fc.assert(
      fc.property(chunkAndBackground, ([pixels, background]) => {
        const { encoding, data } = encodeSnapshotPixels(pixels, background);
        const out = new Uint8Array(CHUNK_AREA).fill(background ^ 1);
        decodeSnapshotPixels(encoding, data, background, out);
        expect(firstDifference(out, pixels)).toBe(-1);

        const empty = pixels.every((p) => p === background);
        const rle = referenceRleSize(pixels);
        if (empty) {
          expect(encoding).toBe(SnapshotEncoding.EMPTY);
          expect(data.length).toBe(0);
        } else if (rle < CHUNK_AREA) {
          expect(encoding).toBe(SnapshotEncoding.RLE);
          expect(data.length).toBe(rle);
        } else {
          expect(encoding).toBe(SnapshotEncoding.RAW);
          expect(data.length).toBe(CHUNK_AREA);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('encodes null (a chunk never painted) as EMPTY, and decodes EMPTY to the background', () => {
    expect(encodeSnapshotPixels(null, 7)).toEqual({ encoding: SnapshotEncoding.EMPTY, data: new Uint8Array(0) });
    const out = new Uint8Array(CHUNK_AREA);
    decodeSnapshotPixels(SnapshotEncoding.EMPTY, new Uint8Array(0), 7, out);
    expect(out.every((p) => p === 7)).toBe(true);
  });

  it('RLE golden bytes: colour width, one-byte short runs, one- and two-byte varint long runs', () => {
    // Offsets 0..2 colour 5, offset 100 colour 2, the rest background 0. Largest colour 5 → W = 3, F = 31.
    const pixels = new Uint8Array(CHUNK_AREA);
    pixels.fill(5, 0, 3);
    pixels[100] = 2;
    const { encoding, data } = encodeSnapshotPixels(pixels, 0);
    expect(encoding).toBe(SnapshotEncoding.RLE);
    // W | 3×5: (2<<3)|5 | 97×0: (31<<3)|0, v=97-32=65 | 1×2: (0<<3)|2 | 3995×0: 0xf8, v=3963 → fb 1e
    expect(toHex(data)).toBe('03 15 f8 41 02 f8 fb 1e');
  });

  it('RLE golden bytes at the extremes of W: 0 (one colour) and 8 (a colour above 127)', () => {
    // All colour 0 on background 1: W = 0, F = 255; one run of 4096 = 256 + 3840 → ff 80 1e.
    expect(toHex(encodeSnapshotPixels(new Uint8Array(CHUNK_AREA), 1).data)).toBe('00 ff 80 1e');
    // Colour 200 at offset 0, then 4095 × 0: W = 8, F = 0, so every token carries a varint.
    const pixels = new Uint8Array(CHUNK_AREA);
    pixels[0] = 200;
    expect(toHex(encodeSnapshotPixels(pixels, 0).data)).toBe('08 c8 00 00 fe 1f');
  });

  it('falls back to RAW for noise, with the pixels array itself as data', () => {
    const pixels = Uint8Array.from({ length: CHUNK_AREA }, (_, i) => (i * 7919) % 251);
    const { encoding, data } = encodeSnapshotPixels(pixels, 0);
    expect(encoding).toBe(SnapshotEncoding.RAW);
    expect(data).toBe(pixels);
  });

  it('rejects pixel arrays of the wrong size and decode targets that are too small (caller bugs)', () => {
    expect(() => encodeSnapshotPixels(new Uint8Array(100), 0)).toThrow(RangeError);
    expect(() => decodeSnapshotPixels(SnapshotEncoding.EMPTY, new Uint8Array(0), 0, new Uint8Array(4095))).toThrow(RangeError);
  });
});

describe('decodeSnapshotPixels on bad data', () => {
  const GUARD = 32;
  /** Decode into the middle of a larger buffer; true if it decoded, and checks nothing outside was written. */
  function decodeGuarded(encoding: number, data: Uint8Array): boolean {
    const buf = new Uint8Array(GUARD + CHUNK_AREA + GUARD).fill(0xaa);
    let ok = true;
    try {
      decodeSnapshotPixels(encoding, data, 3, buf.subarray(GUARD, GUARD + CHUNK_AREA));
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError);
      expect((e as ProtocolError).code).toBe('MALFORMED');
      ok = false;
    }
    expect(buf.subarray(0, GUARD).every((b) => b === 0xaa)).toBe(true);
    expect(buf.subarray(GUARD + CHUNK_AREA).every((b) => b === 0xaa)).toBe(true);
    return ok;
  }

  it.each([
    ['unknown encoding', 3, new Uint8Array(0)],
    ['unknown encoding 255', 255, new Uint8Array(CHUNK_AREA)],
    ['EMPTY with data', SnapshotEncoding.EMPTY, Uint8Array.of(0)],
    ['RAW too short', SnapshotEncoding.RAW, new Uint8Array(CHUNK_AREA - 1)],
    ['RAW too long', SnapshotEncoding.RAW, new Uint8Array(CHUNK_AREA + 1)],
    ['RLE empty', SnapshotEncoding.RLE, new Uint8Array(0)],
    ['RLE header only', SnapshotEncoding.RLE, Uint8Array.of(0)],
    ['RLE width 9', SnapshotEncoding.RLE, Uint8Array.of(9, 0xff, 0x80, 0x1e)],
    ['RLE one pixel short', SnapshotEncoding.RLE, Uint8Array.of(0, 0xff, 0xff, 0x1d)], // 256 + 3839
    ['RLE one pixel over', SnapshotEncoding.RLE, Uint8Array.of(0, 0xff, 0x80, 0x1e, 0x00)],
    ['RLE run past the end', SnapshotEncoding.RLE, Uint8Array.of(0, 0xff, 0x81, 0x1e)],
    ['RLE varint truncated', SnapshotEncoding.RLE, Uint8Array.of(0, 0xff)],
    ['RLE varint second byte truncated', SnapshotEncoding.RLE, Uint8Array.of(0, 0xff, 0x80)],
    ['RLE varint of three bytes', SnapshotEncoding.RLE, Uint8Array.of(0, 0xff, 0x80, 0x80, 0x01)],
    ['RLE huge varint', SnapshotEncoding.RLE, Uint8Array.of(8, 0x00, 0xff, 0x7f)],
  ])('%s → MALFORMED', (_name, encoding, data) => {
    expect(decodeGuarded(encoding, data)).toBe(false);
  });

  it('arbitrary bytes under any encoding: only ProtocolError, never a write outside the chunk', () => {
    const rleish = fc.tuple(fc.integer({ min: 0, max: 9 }), fc.uint8Array({ maxLength: 600 })).map(([w, rest]) => Uint8Array.of(w, ...rest));
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 })),
        fc.oneof(fc.uint8Array({ maxLength: 64 }), rleish, fc.uint8Array({ minLength: 4090, maxLength: 4100 })),
        (encoding, data) => {
          decodeGuarded(encoding, data);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('mutated valid payloads (truncated, extended, bytes changed): only ProtocolError, never a stray write', () => {
    fc.assert(
      fc.property(
        chunkAndBackground,
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom('truncate', 'extend', 'change'),
        ([pixels, background], at, byte, how) => {
          const { encoding, data } = encodeSnapshotPixels(pixels, background);
          let bad: Uint8Array;
          if (how === 'truncate') bad = data.slice(0, data.length === 0 ? 0 : at % data.length);
          else if (how === 'extend') bad = Uint8Array.of(...data, byte);
          else if (data.length === 0) bad = Uint8Array.of(byte);
          else {
            bad = data.slice();
            bad[at % data.length] = byte;
          }
          decodeGuarded(encoding, bad);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe.runIf(existsSync(FIXTURE_PATH))(`real pixel art (${FIXTURE_PATH})`, () => {
  it('R_PLACE_2017_PALETTE is the fixture PNG palette, in order', () => {
    expect(pngPalette(readFileSync(FIXTURE_PATH))).toEqual([...R_PLACE_2017_PALETTE]);
  });

  it('every chunk of the r/place 2017 canvas round-trips, and RLE beats RAW on it', () => {
    const background = R_PLACE_2017_BACKGROUND;
    expect(background).toBe(15);
    const chunks = loadFixtureChunks(background);
    expect(chunks.length).toBe(16 * 16);
    let total = 0;
    const out = new Uint8Array(CHUNK_AREA);
    for (const pixels of chunks) {
      const { encoding, data } = encodeSnapshotPixels(pixels, background);
      decodeSnapshotPixels(encoding, data, background, out);
      expect(firstDifference(out, pixels)).toBe(-1);
      total += data.length;
    }
    expect(total).toBeLessThan(chunks.length * CHUNK_AREA * 0.5);
  });
});
