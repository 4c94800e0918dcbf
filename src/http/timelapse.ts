/**
 * GET /api/timelapse: a region replayed over a time range from the placement log.
 *
 *   ?x=&y=&w=&h=         the region (default: the whole canvas, if within the bounds below)
 *   &since=&until=       ms since the Unix epoch; since <= placedAt < until (default: the last hour up to now)
 *   &format=gif|json     gif (default): an animated GIF of `frames` frames, `delay` ms apart, `scale` px per pixel;
 *                        json: the region's state at `since` and every placement in the range, for a client
 *                        to replay at its own speed (the browser's timelapse)
 *
 * The start state is the region at `since` (timelapse-data.ts), then placements are applied in log order.
 * Work per request is bounded: the region's area, the log rows examined, the placements read, the frames and
 * the GIF's pixels each have a limit; past one the answer is 413 TOO_LARGE naming it. The rows are read on
 * the event loop a slice at a time and the answer is encoded in a worker (timelapse-pool.ts); at most
 * `maxInFlight` timelapses are made at once across all addresses, beyond which the answer is 503 BUSY with
 * Retry-After. Answers are cached by region, range, options and the region's canvas version (the chunk
 * versions, which change with any placement in it), and identical requests in progress share one result.
 */
import type http from 'node:http';
import { LRUCache } from 'lru-cache';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { CHUNK_SHIFT } from '../chunks/geometry.js';
import type { CanvasStorage } from '../storage/canvas-storage.js';
import { IpLimiter } from '../limits/index.js';
import { HttpError, asHttpError, sendHttpError } from './http-error.js';
import { RenderGate, paletteHash } from './png-render.js';
import { TimelapseTooLarge, collectTimelapse } from './timelapse-data.js';
import type { EncodeOptions } from './timelapse-encode.js';
import { EncoderPool } from './timelapse-pool.js';
import { TIMELAPSE_LIMITS } from '../defaults.js';
import { otherSiteSubresource } from './fetch-metadata.js';

export type { TimelapseJson } from '../net/api-types.js';


/** The route's handler (returns false for other paths), and `close` to end its encoding workers. */
export type TimelapseApi = ((req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean) & { close(): Promise<void> };

export function createTimelapseApi(deps: {
  store: ChunkStore; storage: CanvasStorage; palette: readonly number[]; now?: () => number; addressOf?: (req: http.IncomingMessage) => string;
  /** A palette that changes while the server runs (music mode's published palettes): read per request. */
  colours?: () => readonly number[];
  /** Overrides TIMELAPSE_LIMITS.maxInFlight (tests). */
  maxInFlight?: number;
}): TimelapseApi {
  const { store, storage, palette } = deps;
  const now = deps.now ?? Date.now;
  const perIp = new IpLimiter({ rate: TIMELAPSE_LIMITS.rate, burst: TIMELAPSE_LIMITS.burst });
  const addressOf = deps.addressOf ?? ((req: http.IncomingMessage) => req.socket.remoteAddress ?? 'unknown');
  const gate = new RenderGate(deps.maxInFlight ?? TIMELAPSE_LIMITS.maxInFlight);
  const pool = new EncoderPool(Math.min(gate.max, TIMELAPSE_LIMITS.encoderThreads));
  const cache = new LRUCache<string, Uint8Array>({
    maxSize: TIMELAPSE_LIMITS.cacheBytes, maxEntrySize: TIMELAPSE_LIMITS.maxCachedAnswerBytes, sizeCalculation: (b) => b.length,
  });
  /** Answers being made, so identical requests share one. */
  const making = new Map<string, Promise<Uint8Array>>();

  const make = async (key: string, job: EncodeOptions, x: number, y: number, w: number, h: number, since: number, until: number): Promise<Uint8Array> => {
    try {
      const data = await collectTimelapse(storage, store, x, y, w, h, since, until, TIMELAPSE_LIMITS);
      const bytes = await pool.run({ ...job, data });
      cache.set(key, bytes);
      return bytes;
    } catch (err) {
      if (err instanceof TimelapseTooLarge) throw new HttpError('TOO_LARGE', err.message);
      throw err;
    }
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL): boolean => {
    if (url.pathname !== '/api/timelapse') return false;
    const fail = (err: unknown) => {
      sendHttpError(res, asHttpError(err));
    };
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
      if (w * h > TIMELAPSE_LIMITS.maxArea) throw new HttpError('TOO_LARGE', `region is ${w}x${h}; at most ${TIMELAPSE_LIMITS.maxArea} pixels per timelapse`);
      if (format === 'gif' && frames * w * h * scale * scale > TIMELAPSE_LIMITS.maxGifPixels) {
        throw new HttpError('TOO_LARGE', `frames × w × h × scale² is ${frames * w * h * scale * scale}; at most ${TIMELAPSE_LIMITS.maxGifPixels}`);
      }
      // An <img> or fetch on another site would spend the visitor's allowance (and the shared encoders).
      if (otherSiteSubresource(req)) throw new HttpError('CROSS_SITE', 'timelapses are not served to pages of other sites; link to them instead');
      const wait = perIp.take(addressOf(req), 1, performance.now());
      if (wait !== 0) {
        res.setHeader('Retry-After', String(Math.max(1, Math.ceil(wait / 1000))));
        throw new HttpError('RATE_LIMITED', `at most ${TIMELAPSE_LIMITS.burst} timelapses at once and one per ${1 / TIMELAPSE_LIMITS.rate} s per address; retry later`);
      }
      const pal = deps.colours?.() ?? palette;
      const job: EncodeOptions = format === 'gif' ? { format, palette: pal, frames, delayMs: delay, scale } : { format, palette: pal, background: store.background };
      const palTag = pal === palette ? '' : `|${paletteHash(pal).toString(36)}`;
      const key = `${format === 'gif' ? `gif.${frames}.${delay}.${scale}` : 'json'}|${x}.${y}.${w}.${h}|${since}.${until}|${regionVersion(store, storage.epoch, x, y, w, h)}${palTag}`;
      let answer: Uint8Array | Promise<Uint8Array> | undefined = cache.get(key) ?? making.get(key);
      if (answer === undefined) {
        if (!gate.tryEnter()) {
          throw new HttpError('BUSY', `${gate.max} timelapses are being made; try again shortly`,
            { 'Retry-After': String(TIMELAPSE_LIMITS.busyRetryAfterSeconds) });
        }
        const pending = make(key, job, x, y, w, h, since, until);
        making.set(key, pending);
        pending.catch(() => {}).finally(() => {
          making.delete(key);
          gate.leave();
        });
        answer = pending;
      }
      Promise.resolve(answer).then((bytes) => {
        res.writeHead(200, { 'Content-Type': format === 'gif' ? 'image/gif' : 'application/json; charset=utf-8', 'Content-Length': bytes.length, 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : bytes);
      }, fail);
    } catch (err) {
      fail(err);
    }
    return true;
  };
  return Object.assign(handler, { close: () => pool.close() });
}

/**
 * The canvas version of a region: the epoch and the sum of its chunks' versions. A version only grows within
 * an epoch (each drain in which its chunk changed), so any placement in the region changes the sum.
 */
function regionVersion(store: ChunkStore, epoch: number, x: number, y: number, w: number, h: number): string {
  let sum = 0;
  for (let cy = y >>> CHUNK_SHIFT; cy <= (y + h - 1) >>> CHUNK_SHIFT; cy++) {
    for (let cx = x >>> CHUNK_SHIFT; cx <= (x + w - 1) >>> CHUNK_SHIFT; cx++) sum += store.version(cx, cy);
  }
  return `${(epoch >>> 0).toString(36)}.${sum.toString(36)}`;
}

function int(q: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const s = q.get(name);
  if (s === null || s === '') return undefined;
  if (!/^\d{1,16}$/.test(s)) throw new HttpError('BAD_REQUEST', `${name} must be a non-negative integer`);
  const n = Number(s);
  if (n < min || n > max) throw new HttpError('BAD_REQUEST', `${name} must be in [${min}, ${max}], got ${n}`);
  return n;
}
