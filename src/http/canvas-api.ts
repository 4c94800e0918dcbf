/**
 * Read-only HTTP views of the canvas: pixel info, the canvas (or a region) as PNG, and placement history.
 *
 *   GET /api/pixel?x=&y=                 → { x, y, color, placedAt, placedBy }
 *   GET /canvas.png[?x=&y=&w=&h=]        → RGB PNG; ETag from epoch + chunk versions; 304 on If-None-Match
 *   GET /api/history?x0=&y0=&x1=&y1=&since=&until=&limit=&after=
 *                                        → { placements, next }; region bounds inclusive, default whole canvas;
 *                                          since <= placedAt < until; a page may be short with next != null
 *
 * Errors are JSON `{ error, message }`: 400 BAD_REQUEST / REGION_TOO_LARGE, 405 METHOD_NOT_ALLOWED,
 * 503 BUSY (too many renders in flight; Retry-After given),
 * 500 INTERNAL.
 */
import type http from 'node:http';
import { LRUCache } from 'lru-cache';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { CHUNK_SHIFT } from '../chunks/geometry.js';
import { RenderGate, paletteHash, paletteLut, renderRegionPng } from './png-render.js';
import { HttpError, asHttpError, sendHttpError } from './http-error.js';
import type { PixelAnswer } from '../net/api-types.js';
import type { CanvasStorage } from '../storage/canvas-storage.js';
import { STORAGE_DEFAULTS } from '../defaults.js';
import { CANVAS_API_DEFAULTS } from '../defaults.js';


export interface CanvasApiDeps {
  store: ChunkStore;
  storage: CanvasStorage;
  palette: readonly number[];
  /** A palette that changes while the server runs (music mode's published palettes): read per image, and named in its ETag. */
  colours?: () => readonly number[];
  /** The canvas epoch: part of every ETag; with the chunk versions it names the image exactly (a clean restart keeps both). */
  epoch: number;
  maxPngPixels?: number;
  maxConcurrentRenders?: number;
}

export type CanvasApiHandler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean;

function badRequest(message: string): HttpError {
  return new HttpError('BAD_REQUEST', message);
}

/** Returns a handler that answers its own paths and returns false for any other. */
export function createCanvasApi(deps: CanvasApiDeps): CanvasApiHandler {
  const { store, storage, epoch } = deps;
  const maxPngPixels = deps.maxPngPixels ?? CANVAS_API_DEFAULTS.maxPngPixels;
  if (!Number.isSafeInteger(maxPngPixels) || maxPngPixels < 1) throw new RangeError(`maxPngPixels must be a positive integer, got ${maxPngPixels}`);
  let lutOf = deps.palette;
  let lut = paletteLut(lutOf);
  let paletteTag = '';
  /** The lookup table for the palette in force, rebuilt when it changed. */
  const currentLut = (): Uint8Array => {
    const palette = deps.colours?.() ?? deps.palette;
    if (palette !== lutOf) {
      lutOf = palette;
      lut = paletteLut(palette);
      paletteTag = `-${paletteHash(palette).toString(36)}`;
    }
    return lut;
  };
  const pngCache = new LRUCache<string, Buffer>({ maxSize: CANVAS_API_DEFAULTS.pngCacheBytes, sizeCalculation: (b) => b.length });
  /** Encodes in progress, so concurrent requests for the same image share one. */
  const encoding = new Map<string, Promise<Buffer>>();
  const gate = new RenderGate(deps.maxConcurrentRenders ?? CANVAS_API_DEFAULTS.maxConcurrentRenders);

  const routes: Record<string, (req: http.IncomingMessage, res: http.ServerResponse, q: URLSearchParams) => void> = {
    '/api/pixel': (_req, res, q) => {
      const x = intParam(q, 'x', 0, store.width - 1);
      const y = intParam(q, 'y', 0, store.height - 1);
      if (x === undefined || y === undefined) throw badRequest('x and y are required');
      const info = storage.pixelInfo(x, y, store);
      // The public answer: who painted by name only. The identity and address hash are for moderators
      // (/api/admin/pixel): shown to all they would tie a painter's pixels together across names.
      const answer: PixelAnswer = { x: info.x, y: info.y, color: info.color, placedAt: info.placedAt, placedBy: info.placedBy };
      if (info.moderation) answer.moderation = true;
      sendJson(res, 200, answer); // the browser reads this shape
    },

    '/api/history': (_req, res, q) => {
      const x0 = intParam(q, 'x0', 0, store.width - 1) ?? 0;
      const y0 = intParam(q, 'y0', 0, store.height - 1) ?? 0;
      const x1 = intParam(q, 'x1', 0, store.width - 1) ?? store.width - 1;
      const y1 = intParam(q, 'y1', 0, store.height - 1) ?? store.height - 1;
      if (x1 < x0 || y1 < y0) throw badRequest('need x0 <= x1 and y0 <= y1 (bounds are inclusive)');
      const since = intParam(q, 'since', 0, Number.MAX_SAFE_INTEGER);
      const until = intParam(q, 'until', 0, Number.MAX_SAFE_INTEGER);
      const limit = intParam(q, 'limit', 1, STORAGE_DEFAULTS.maxHistoryLimit) ?? STORAGE_DEFAULTS.defaultHistoryLimit;
      const after = q.get('after') ?? undefined;
      if (after !== undefined && after.length > CANVAS_API_DEFAULTS.maxCursorLength) throw badRequest('after: malformed cursor');
      let page;
      try {
        page = storage.history({ x0, y0, x1, y1, since, until, limit, after: after === '' ? undefined : after });
      } catch (err) {
        if (err instanceof RangeError) throw badRequest(err.message);
        throw err;
      }
      sendJson(res, 200, page);
    },

    '/canvas.png': (req, res, q) => {
      const x = intParam(q, 'x', 0, store.width - 1) ?? 0;
      const y = intParam(q, 'y', 0, store.height - 1) ?? 0;
      const w = intParam(q, 'w', 1, store.width - x) ?? store.width - x;
      const h = intParam(q, 'h', 1, store.height - y) ?? store.height - y;
      if (w * h > maxPngPixels) {
        throw new HttpError('REGION_TOO_LARGE', `region is ${w}x${h} = ${w * h} pixels; at most ${maxPngPixels} per image — request it in parts with x, y, w, h`);
      }
      const pngLut = currentLut();
      const etag = regionEtag(store, epoch, x, y, w, h, paletteTag);
      const headers = { 'Cache-Control': `public, max-age=${CANVAS_API_DEFAULTS.pngMaxAgeSeconds}`, ETag: etag };
      if (etagMatches(req.headers['if-none-match'], etag)) {
        res.writeHead(304, headers);
        res.end();
        return;
      }
      let png: Promise<Buffer> | Buffer | undefined = pngCache.get(etag) ?? encoding.get(etag);
      if (png === undefined) {
        if (!gate.tryEnter()) {
          throw new HttpError('BUSY', `${gate.max} images are being rendered; try again shortly`,
            { 'Retry-After': String(CANVAS_API_DEFAULTS.renderRetryAfterSeconds) });
        }
        // The chunks are copied synchronously inside, so the image is exactly the state the ETag names.
        const pending = renderRegionPng(store, pngLut, x, y, w, h);
        encoding.set(etag, pending);
        pending.then((buf) => pngCache.set(etag, buf), () => {}).finally(() => {
          encoding.delete(etag);
          gate.leave();
        });
        png = pending;
      }
      Promise.resolve(png).then(
        (buf) => {
          res.writeHead(200, { ...headers, 'Content-Type': 'image/png', 'Content-Length': buf.length });
          res.end(buf);
        },
        (err: unknown) => sendHttpError(res, new HttpError('INTERNAL', `PNG encoding failed: ${err instanceof Error ? err.message : String(err)}`)),
      );
    },
  };

  return (req, res, url) => {
    const route = routes[url.pathname];
    if (route === undefined) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      sendHttpError(res, new HttpError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname}`));
      return true;
    }
    try {
      route(req, res, url.searchParams);
    } catch (err) {
      sendHttpError(res, asHttpError(err));
    }
    return true;
  };
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

/**
 * A query parameter as an integer in [min, max], or undefined when absent. Only plain decimal digits (with an
 * optional minus) are accepted: no '1e3', '0x10', ' 5' or '5.0'.
 */
function intParam(q: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const s = q.get(name);
  if (s === null || s === '') return undefined;
  if (!/^-?\d{1,16}$/.test(s)) throw badRequest(`${name} must be an integer, got ${JSON.stringify(s.slice(0, 32))}`);
  const n = Number(s);
  if (n < min || n > max) throw badRequest(`${name} must be in [${min}, ${max}], got ${n}`);
  return n;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

/**
 * Strong ETag of a region: epoch, region, and the sum of the versions of the chunks it touches. A version
 * only grows within an epoch (each drain in which its chunk changed), so any change to the region changes
 * the sum; no hashing, no encoding. The tick sets pixels and drains in one synchronous step, so a request
 * never sees pixels newer than the versions.
 */
function regionEtag(store: ChunkStore, epoch: number, x: number, y: number, w: number, h: number, paletteTag: string): string {
  let sum = 0;
  for (let cy = y >>> CHUNK_SHIFT; cy <= (y + h - 1) >>> CHUNK_SHIFT; cy++) {
    for (let cx = x >>> CHUNK_SHIFT; cx <= (x + w - 1) >>> CHUNK_SHIFT; cx++) sum += store.version(cx, cy);
  }
  return `"${(epoch >>> 0).toString(36)}-${x}.${y}.${w}.${h}-${sum.toString(36)}${paletteTag}"`;
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  for (const part of header.split(',')) {
    const tag = part.trim();
    if (tag === '*' || tag === etag || (tag.startsWith('W/') && tag.slice(2) === etag)) return true;
  }
  return false;
}
