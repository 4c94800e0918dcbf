/**
 * A timelapse's two answers, as bytes: an animated GIF, or the JSON a client replays itself. Pure functions of
 * the collected data; the encoding worker (timelapse-worker.ts) runs them off the event loop, and tests and
 * benches call them directly.
 */
import * as gifencModule from 'gifenc';
import type { TimelapseData } from './timelapse-data.js';
import type { TimelapseJson } from '../net/api-types.js';

/** gifenc ships CommonJS (Node: exports under default) and ESM (bundlers: named exports); take either. */
const GIFEncoder: typeof gifencModule.GIFEncoder =
  (gifencModule as { GIFEncoder?: typeof gifencModule.GIFEncoder }).GIFEncoder ?? gifencModule.default.GIFEncoder;

/** The `format=json` answer: src/net/api-types.ts (the browser reads the same type). */
export type { TimelapseJson };

/** How to encode: the answer's format and its options. */
export type EncodeOptions =
  | { format: 'gif'; palette: readonly number[]; frames: number; delayMs: number; scale: number }
  | { format: 'json'; palette: readonly number[]; background: number };

/** What the worker is asked to make. */
export type EncodeJob = EncodeOptions & { data: TimelapseData };

export function encodeTimelapse(job: EncodeJob): Uint8Array {
  return job.format === 'gif' ? timelapseGif(job.data, job.palette, job.frames, job.delayMs, job.scale) : timelapseJson(job.data, job.palette, job.background);
}

export function timelapseJson(d: TimelapseData, palette: readonly number[], background: number): Uint8Array {
  const placements: TimelapseJson['placements'] = new Array(d.xs.length);
  for (let i = 0; i < d.xs.length; i++) placements[i] = [d.xs[i]!, d.ys[i]!, d.colors[i]!, d.times[i]!];
  const json: TimelapseJson = {
    x: d.x, y: d.y, w: d.w, h: d.h, since: d.since, until: d.until, background, palette,
    start: Buffer.from(d.start.buffer, d.start.byteOffset, d.start.byteLength).toString('base64'), placements,
  };
  // Its own ArrayBuffer (never Buffer's shared pool), so the worker can transfer it.
  return new TextEncoder().encode(JSON.stringify(json));
}

/** An animated GIF of `frames` frames evenly spaced over [since, until), the last showing the state at `until`. */
export function timelapseGif(d: TimelapseData, palette: readonly number[], frames: number, delayMs: number, scale: number): Uint8Array {
  const gif = GIFEncoder();
  const pal = palette.map((c) => [(c >>> 16) & 0xff, (c >>> 8) & 0xff, c & 0xff]);
  // GIF colour tables hold a power of two colours.
  let size = 2;
  while (size < pal.length) size *= 2;
  while (pal.length < size) pal.push([0, 0, 0]);
  const state = d.start.slice();
  const W = d.w * scale, H = d.h * scale;
  const frame = new Uint8Array(W * H);
  let next = 0;
  for (let f = 0; f < frames; f++) {
    const t = d.since + ((d.until - d.since) * (f + 1)) / frames;
    while (next < d.xs.length && d.times[next]! < t) {
      state[(d.ys[next]! - d.y) * d.w + (d.xs[next]! - d.x)] = d.colors[next]!;
      next++;
    }
    if (scale === 1) frame.set(state);
    else {
      for (let j = 0; j < H; j++) {
        const row = ((j / scale) | 0) * d.w;
        for (let i = 0; i < W; i++) frame[j * W + i] = state[row + ((i / scale) | 0)]!;
      }
    }
    gif.writeFrame(frame, W, H, { palette: f === 0 ? pal : undefined, delay: delayMs, repeat: f === 0 ? 0 : undefined });
  }
  gif.finish();
  return gif.bytes();
}
