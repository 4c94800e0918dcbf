/**
 * Serves the built browser client (client/dist), with no path ever leaving that folder. Until the client is
 * built, a placeholder page says how to build it.
 *
 * Caching: bundles have content-hashed names (scripts/build-client.mjs), so they are served `immutable`
 * for a year; HTML and anything else unhashed revalidates every time by a strong ETag (304 when unchanged).
 * That includes /sw.js, the service worker (client/src/sw.ts): at the root its scope is the whole site (no
 * Service-Worker-Allowed needed), and no-cache lets a new build's worker replace the old one at once.
 * Text assets are sent brotli- or gzip-compressed when the browser accepts it; each file is read and
 * compressed once and kept in memory while its size and mtime stay the same.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodePath } from './request-target.js';
import { HttpError, sendHttpError } from './http-error.js';
import { pageHeaders } from './security-headers.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
};

/** Types worth compressing (images are already compressed). */
const TEXT = new Set(['.html', '.js', '.css', '.map', '.json', '.svg', '.webmanifest']);
/** esbuild's `[name]-[hash]` file names. */
const HASHED = /-[A-Z0-9]{8}\.(js|css)(\.map)?$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';

/** No inline style or script: the page CSP (security-headers.ts) allows none. */
const PLACEHOLDER = `<!doctype html><meta charset="utf-8"><title>pixel-canvas</title>
<body><h1>pixel-canvas</h1>
<p>The server is running. The browser client has not been built: run <code>npm run build</code> and reload.</p>
<p>WebSocket endpoint: <code>/ws</code> · health: <a href="/healthz">/healthz</a> · metrics: <a href="/metrics">/metrics</a></p></body>`;

interface CachedFile {
  size: number;
  mtimeMs: number;
  body: Buffer;
  etag: string;
  br?: Buffer;
  gzip?: Buffer;
}

/** The encoding to send: brotli, then gzip, when the request accepts it (q=0 refuses). */
export function pickEncoding(header: string | string[] | undefined): 'br' | 'gzip' | null {
  const accepted = new Map<string, number>();
  for (const part of String(header ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    accepted.set(name, q === undefined ? 1 : Number(q.slice(2)) || 0);
  }
  const ok = (n: string) => (accepted.get(n) ?? accepted.get('*') ?? 0) > 0;
  return ok('br') ? 'br' : ok('gzip') ? 'gzip' : null;
}

export function createStaticHandler(root: string): (req: IncomingMessage, res: ServerResponse, url: URL) => boolean {
  const base = resolve(root);
  const cache = new Map<string, CachedFile>();

  function load(file: string): CachedFile {
    const st = statSync(file);
    const hit = cache.get(file);
    if (hit !== undefined && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit;
    const body = readFileSync(file);
    const entry: CachedFile = { size: st.size, mtimeMs: st.mtimeMs, body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
    cache.set(file, entry);
    return entry;
  }

  return (req, res, url) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    let rel = decodePath(url.pathname);
    if (rel === null || rel.includes('\0')) {
      // A malformed escape is the client's mistake: 400, and nothing worth more than a debug line.
      sendHttpError(res, new HttpError('BAD_REQUEST', 'malformed percent-encoding in the path'));
      return true;
    }
    if (rel === '/' || rel === '') rel = '/index.html';
    if (rel === '/admin') rel = '/admin.html';
    const file = normalize(join(base, rel));
    if (!file.startsWith(base + sep)) return false;
    if (!existsSync(file) || !statSync(file).isFile()) {
      if (rel !== '/index.html') return false;
      res.writeHead(200, { ...pageHeaders(req), 'Content-Type': TYPES['.html']!, 'Cache-Control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : PLACEHOLDER);
      return true;
    }
    const ext = extname(file);
    const f = load(file);
    const headers: Record<string, string | number> = {
      // A service worker runs under its own script's CSP: /sw.js gets the page's, so its fetches may reach us.
      ...(ext === '.html' || file === 'sw.js' || file.endsWith('/sw.js') ? pageHeaders(req) : {}),
      'Content-Type': TYPES[ext] ?? 'application/octet-stream',
      // Hashed bundles never change under their name; everything else must be revalidated (cheap: ETag).
      'Cache-Control': HASHED.test(file) ? IMMUTABLE : 'no-cache',
      ETag: f.etag,
    };
    if (TEXT.has(ext)) headers.Vary = 'Accept-Encoding';
    const inm = req.headers['if-none-match'];
    if (inm !== undefined && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === f.etag)) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    let body = f.body;
    const enc = TEXT.has(ext) && f.body.length > 256 ? pickEncoding(req.headers['accept-encoding']) : null;
    if (enc === 'br') {
      f.br ??= brotliCompressSync(f.body, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 9, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: f.body.length } });
      body = f.br;
      headers['Content-Encoding'] = 'br';
    } else if (enc === 'gzip') {
      f.gzip ??= gzipSync(f.body, { level: 9 });
      body = f.gzip;
      headers['Content-Encoding'] = 'gzip';
    }
    headers['Content-Length'] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
