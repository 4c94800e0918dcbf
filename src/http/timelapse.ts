/**
 * GET /api/timelapse: a region replayed over a time range from the placement log.
 *
 *   ?x=&y=&w=&h=         the region (default: the whole canvas, if within the bounds below)
 *   &since=&until=       ms since the Unix epoch; since <= placedAt < until (default: the last hour up to now)
 *   &format=gif|json     gif (default): an animated GIF of `frames` frames, `delay` ms apart, `scale` px per pixel;
 *                        json: the region's state at `since` and every placement in the range, for a client
 *                        to replay at its own speed (the browser's timelapse)
 *
 * The start state is the current region with every placement since `since` undone (src/storage/rollback-plan's
 * plan, read-only), then placements are applied in log order. Work per request is bounded: the region's
 * area, the placements read, the frames and the GIF's pixels each have a limit; past one the answer is
 * 413 TOO_LARGE naming it, and nothing is computed.
 */
import type http from 'node:http';
import * as gifencModule from 'gifenc';
import type { ChunkStore } from '../chunks/chunk-store.js';
import type { CanvasStorage } from '../storage/canvas-storage.js';
import { STORAGE_DEFAULTS } from '../defaults.js';
import { RollbackTooLarge, planRollback } from '../storage/rollback-plan.js';
import { IpLimiter } from '../limits/index.js';
import { HttpError, asHttpError, sendHttpError } from './http-error.js';
import type { TimelapseJson } from '../net/api-types.js';

/** gifenc ships CommonJS (Node: exports under default) and ESM (bundlers: named exports); take either. */
const GIFEncoder: typeof gifencModule.GIFEncoder =
  (gifencModule as { GIFEncoder?: typeof gifencModule.GIFEncoder }).GIFEncoder ?? gifencModule.default.GIFEncoder;

export const TIMELAPSE_LIMITS = {
  maxArea: 512 * 512,
  /**
   * The work runs on the event loop (between ticks), so it is bounded in rows: placements in the range, and
   * log rows examined for the start state (~0.5 s on SQLite at the bound, bench/moderation.bench.ts).
   */
  maxPlacements: 50_000,
  maxScanRows: 100_000,
  /** Requests per address: sustained per second, and burst. */
  rate: 0.5,
  burst: 4,
  maxFrames: 300,
  /** Output pixels over all frames of a GIF (each frame is w·h·scale²). */
  maxGifPixels: 64 * 1024 * 1024,
  maxScale: 16,
  defaultFrames: 60,
  defaultDelayMs: 100,
  defaultRangeMs: 60 * 60 * 1000,
} as const;


/** The `format=json` answer (src/net/api-types.ts): TimelapseData with the palette, the background and `start` as base64. */
export type { TimelapseJson };

export interface TimelapseData {
  x: number;
  y: number;
  w: number;
  h: number;
  since: number;
  until: number;
  /** Palette indices of the region at `since`, row-major. */
  start: Uint8Array;
  /** [x, y, color, time] in log order. */
  placements: [number, number, number, number][];
}

/** The region's state at `since` and the placements in [since, until). Throws HttpError TOO_LARGE past a bound. */
export function timelapseData(storage: CanvasStorage, store: ChunkStore, x: number, y: number, w: number, h: number, since: number, until: number): TimelapseData {
  if (w * h > TIMELAPSE_LIMITS.maxArea) throw new HttpError('TOO_LARGE', `region is ${w}x${h}; at most ${TIMELAPSE_LIMITS.maxArea} pixels per timelapse`);
  const start = new Uint8Array(w * h);
  for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) start[j * w + i] = store.get(x + i, y + j);
  let plan;
  try {
    plan = planRollback(storage, store, { x0: x, y0: y, x1: x + w - 1, y1: y + h - 1, since },
      { maxScan: TIMELAPSE_LIMITS.maxScanRows, maxPixels: TIMELAPSE_LIMITS.maxArea });
  } catch (err) {
    if (err instanceof RollbackTooLarge) throw new HttpError('TOO_LARGE', `too much activity since ${since}: ${err.message}`);
    throw err;
  }
  for (const c of plan.changes) start[(c.y - y) * w + (c.x - x)] = c.color;
  const placements: TimelapseData['placements'] = [];
  let after: string | undefined;
  for (;;) {
    const page = storage.history({ x0: x, y0: y, x1: x + w - 1, y1: y + h - 1, since, until, limit: STORAGE_DEFAULTS.maxHistoryLimit, after });
    for (const p of page.placements) placements.push([p.x, p.y, p.color, p.placedAt]);
    if (placements.length > TIMELAPSE_LIMITS.maxPlacements) {
      throw new HttpError('TOO_LARGE', `more than ${TIMELAPSE_LIMITS.maxPlacements} placements in the range; narrow the region or the time range`);
    }
    if (page.next === null) break;
    after = page.next;
  }
  return { x, y, w, h, since, until, start, placements };
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
    while (next < d.placements.length && d.placements[next]![3] < t) {
      const [px, py, c] = d.placements[next++]!;
      state[(py - d.y) * d.w + (px - d.x)] = c;
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

/** The route; returns false for other paths. */
export function createTimelapseApi(deps: {
  store: ChunkStore; storage: CanvasStorage; palette: readonly number[]; now?: () => number; addressOf?: (req: http.IncomingMessage) => string;
}): (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean {
  const { store, storage, palette } = deps;
  const now = deps.now ?? Date.now;
  const perIp = new IpLimiter({ rate: TIMELAPSE_LIMITS.rate, burst: TIMELAPSE_LIMITS.burst });
  const addressOf = deps.addressOf ?? ((req: http.IncomingMessage) => req.socket.remoteAddress ?? 'unknown');
  return (req, res, url) => {
    if (url.pathname !== '/api/timelapse') return false;
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        throw new HttpError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on /api/timelapse`);
      }
      const q = url.searchParams;
      const x = int(q, 'x', 0, store.width - 1) ?? 0;
      const y = int(q, 'y', 0, store.height - 1) ?? 0;
      const w = int(q, 'w', 1, store.width - x) ?? store.width - x;
      const h = int(q, 'h', 1, store.height - y) ?? store.height - y;
      const until = int(q, 'until', 0, Number.MAX_SAFE_INTEGER) ?? now();
      const since = int(q, 'since', 0, Number.MAX_SAFE_INTEGER) ?? Math.max(0, until - TIMELAPSE_LIMITS.defaultRangeMs);
      if (until <= since) throw new HttpError('BAD_REQUEST', 'need since < until');
      const format = q.get('format') ?? 'gif';
      if (format !== 'gif' && format !== 'json') throw new HttpError('BAD_REQUEST', 'format must be gif or json');
      const frames = int(q, 'frames', 1, TIMELAPSE_LIMITS.maxFrames) ?? TIMELAPSE_LIMITS.defaultFrames;
      const delay = int(q, 'delay', 20, 10_000) ?? TIMELAPSE_LIMITS.defaultDelayMs;
      const scale = int(q, 'scale', 1, TIMELAPSE_LIMITS.maxScale) ?? 1;
      if (format === 'gif' && frames * w * h * scale * scale > TIMELAPSE_LIMITS.maxGifPixels) {
        throw new HttpError('TOO_LARGE', `frames × w × h × scale² is ${frames * w * h * scale * scale}; at most ${TIMELAPSE_LIMITS.maxGifPixels}`);
      }
      const wait = perIp.take(addressOf(req), 1, performance.now());
      if (wait !== 0) {
        res.setHeader('Retry-After', String(Math.max(1, Math.ceil(wait / 1000))));
        throw new HttpError('RATE_LIMITED', `at most ${TIMELAPSE_LIMITS.burst} timelapses at once and one per ${1 / TIMELAPSE_LIMITS.rate} s per address; retry later`);
      }
      const data = timelapseData(storage, store, x, y, w, h, since, until);
      if (format === 'json') {
        const json: TimelapseJson = {
          x, y, w, h, since, until, background: store.background, palette,
          start: Buffer.from(data.start.buffer, data.start.byteOffset, data.start.byteLength).toString('base64'), placements: data.placements,
        };
        const body = JSON.stringify(json);
        res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
        return true;
      }
      const gif = timelapseGif(data, palette, frames, delay, scale);
      res.writeHead(200, { 'Content-Type': 'image/gif', 'Content-Length': gif.length, 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : Buffer.from(gif.buffer, gif.byteOffset, gif.byteLength));
    } catch (err) {
      sendHttpError(res, asHttpError(err));
    }
    return true;
  };
}

function int(q: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const s = q.get(name);
  if (s === null || s === '') return undefined;
  if (!/^\d{1,16}$/.test(s)) throw new HttpError('BAD_REQUEST', `${name} must be a non-negative integer`);
  const n = Number(s);
  if (n < min || n > max) throw new HttpError('BAD_REQUEST', `${name} must be in [${min}, ${max}], got ${n}`);
  return n;
}
