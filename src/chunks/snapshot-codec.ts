/**
 * The pixel payload of a SNAPSHOT message: one chunk's 4096 palette indices, encoded as EMPTY, RAW or RLE,
 * whichever is smallest. Pure functions; the encoder reuses one module-level scratch buffer.
 *
 * RLE layout (docs/protocol.md has the same text):
 *
 *   byte 0    W, the colour width in bits, 0..8. The encoder uses the fewest bits that hold the chunk's largest
 *             colour index (W = 0 when it is 0; 4 for 16 colours; 5 for 32).
 *   then      tokens until the data ends. A token starts with one byte t:
 *               colour = t & (2^W - 1)
 *               f      = t >> W, and F = 2^(8-W) - 1 is the largest value f can hold
 *               f < F: the run is f + 1 pixels (1..F), and the token is this one byte;
 *               f = F: the run is F + 1 + v pixels, where v follows as a little-endian base-128 varint of one
 *                      or two bytes (byte 0 holds v's low 7 bits, its high bit says a second byte follows,
 *                      which holds the next 7 bits and must have its high bit clear).
 *             Runs fill the chunk in pixel-offset order (ly * 64 + lx) and must add up to exactly 4096.
 *
 * Why this shape: on real pixel art (the r/place 2017 canvas) 61% of runs are a single pixel and 94% are
 * shorter than 8, so colour and a short run share one byte; the varint keeps long background runs (sparse
 * chunks) to 2-3 bytes. See bench/snapshot-encoding.bench.ts for the measurements.
 */

import { CHUNK_AREA } from './geometry.js';
import { SnapshotEncoding, protocolError } from '../net/protocol.js';

/** An RLE payload must be smaller than RAW to be chosen. */
const RLE_LIMIT = CHUNK_AREA - 1;
// A run needs at most 4096 - F - 1 < 2^14 in its varint, so two bytes always suffice.

const NO_DATA = new Uint8Array(0);
const scratch = new Uint8Array(CHUNK_AREA);

export interface EncodedSnapshotPixels {
  /** A SnapshotEncoding value. */
  encoding: number;
  /** The payload. For RAW this IS the `pixels` array passed in (not a copy); for RLE a fresh array. */
  data: Uint8Array;
}

/**
 * Encode a chunk's pixels (4096 palette indices, or null for a chunk never painted) in the smallest of
 * EMPTY (every pixel is `background`), RLE and RAW. Ties between RLE and RAW go to RAW.
 */
export function encodeSnapshotPixels(pixels: Uint8Array | null, background: number): EncodedSnapshotPixels {
  if (pixels === null) return { encoding: SnapshotEncoding.EMPTY, data: NO_DATA };
  if (pixels.length !== CHUNK_AREA) throw new RangeError(`a chunk has ${CHUNK_AREA} pixels, got ${pixels.length}`);

  // Branch-free scan: the OR of all colours has the same highest bit as the largest colour, which is all
  // the colour width needs; any bit set in (colour XOR background) means the chunk is not empty.
  let any = 0;
  let diff = 0;
  for (let i = 0; i < CHUNK_AREA; i++) {
    const c = pixels[i]!;
    any |= c;
    diff |= c ^ background;
  }
  if (diff === 0) return { encoding: SnapshotEncoding.EMPTY, data: NO_DATA };

  const width = 32 - Math.clz32(any); // bits of the largest colour: 0 when every pixel is 0
  const longField = (1 << (8 - width)) - 1; // F: the run field value that means "a varint follows"
  const longTag = longField << width;
  scratch[0] = width;
  let o = 1;
  let i = 0;
  while (i < CHUNK_AREA) {
    const c = pixels[i]!;
    let j = i + 1;
    while (j < CHUNK_AREA && pixels[j] === c) j++;
    const run = j - i;
    i = j;
    if (run <= longField) {
      if (o + 1 > RLE_LIMIT) return { encoding: SnapshotEncoding.RAW, data: pixels };
      scratch[o++] = ((run - 1) << width) | c;
    } else {
      const v = run - longField - 1;
      const size = v < 0x80 ? 2 : 3;
      if (o + size > RLE_LIMIT) return { encoding: SnapshotEncoding.RAW, data: pixels };
      scratch[o++] = longTag | c;
      if (v < 0x80) {
        scratch[o++] = v;
      } else {
        scratch[o++] = (v & 0x7f) | 0x80;
        scratch[o++] = v >>> 7;
      }
    }
  }
  return { encoding: SnapshotEncoding.RLE, data: scratch.slice(0, o) };
}

/**
 * Decode a snapshot payload into `out[0..4096)`. Bad data (wrong length for the encoding, runs that overflow
 * or do not fill the chunk, an unknown encoding) throws ProtocolError MALFORMED and nothing else; nothing is
 * ever written outside `out[0..4096)`, though on error what was written inside it is unspecified.
 * `out` shorter than 4096 is a caller bug and throws RangeError.
 */
export function decodeSnapshotPixels(encoding: number, data: Uint8Array, background: number, out: Uint8Array): void {
  if (out.length < CHUNK_AREA) throw new RangeError(`decode target holds ${out.length} pixels, needs ${CHUNK_AREA}`);
  switch (encoding) {
    case SnapshotEncoding.EMPTY:
      if (data.length !== 0) throw protocolError('MALFORMED', `SNAPSHOT EMPTY: expected no data, got ${data.length} bytes`);
      out.fill(background, 0, CHUNK_AREA);
      return;
    case SnapshotEncoding.RAW:
      if (data.length !== CHUNK_AREA) throw protocolError('MALFORMED', `SNAPSHOT RAW: expected ${CHUNK_AREA} bytes, got ${data.length}`);
      out.set(data, 0);
      return;
    case SnapshotEncoding.RLE:
      decodeRle(data, out);
      return;
    default:
      throw protocolError('MALFORMED', `SNAPSHOT: unknown pixel encoding ${encoding}`);
  }
}

function decodeRle(data: Uint8Array, out: Uint8Array): void {
  const n = data.length;
  if (n < 2) throw protocolError('MALFORMED', `SNAPSHOT RLE: ${n} bytes is too short`);
  const width = data[0]!;
  if (width > 8) throw protocolError('MALFORMED', `SNAPSHOT RLE: colour width ${width} is over 8 bits`);
  const mask = (1 << width) - 1;
  const longField = (1 << (8 - width)) - 1;
  let o = 0;
  let i = 1;
  while (i < n) {
    const t = data[i++]!;
    const c = t & mask;
    const f = t >>> width;
    let run = f + 1;
    if (f === longField) {
      if (i >= n) throw protocolError('MALFORMED', `SNAPSHOT RLE: run length truncated at byte ${i}`);
      let v = data[i++]!;
      if (v & 0x80) {
        if (i >= n) throw protocolError('MALFORMED', `SNAPSHOT RLE: run length truncated at byte ${i}`);
        const hi = data[i++]!;
        if (hi & 0x80) throw protocolError('MALFORMED', `SNAPSHOT RLE: run length longer than 2 bytes at byte ${i - 1}`);
        v = (v & 0x7f) | (hi << 7);
      }
      run += v;
    }
    const end = o + run;
    if (end > CHUNK_AREA) throw protocolError('MALFORMED', `SNAPSHOT RLE: runs overflow the chunk at byte ${i - 1}`);
    // Most runs are short: a plain loop beats fill()'s call overhead there.
    if (run < 16) {
      while (o < end) out[o++] = c;
    } else {
      out.fill(c, o, end);
      o = end;
    }
  }
  if (o !== CHUNK_AREA) throw protocolError('MALFORMED', `SNAPSHOT RLE: runs cover ${o} of ${CHUNK_AREA} pixels`);
}
