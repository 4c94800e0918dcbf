/**
 * Serves the built browser client (client/dist) from memory-mapped-by-the-OS files, with no path ever
 * leaving that folder. Until the client is built, a placeholder page says how to build it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodePath } from './request-target.js';

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

const PLACEHOLDER = `<!doctype html><meta charset="utf-8"><title>pixel-canvas</title>
<body style="font-family:system-ui;margin:3em"><h1>pixel-canvas</h1>
<p>The server is running. The browser client has not been built: run <code>npm run build</code> and reload.</p>
<p>WebSocket endpoint: <code>/ws</code> · health: <a href="/healthz">/healthz</a> · metrics: <a href="/metrics">/metrics</a></p></body>`;

export function createStaticHandler(root: string): (req: IncomingMessage, res: ServerResponse, url: URL) => boolean {
  const base = resolve(root);
  return (req, res, url) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    let rel = decodePath(url.pathname);
    if (rel === null || rel.includes('\0')) {
      // A malformed escape is the client's mistake: 400, and nothing worth more than a debug line.
      const body = JSON.stringify({ error: 'BAD_REQUEST', message: 'malformed percent-encoding in the path' });
      res.writeHead(400, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    }
    if (rel === '/' || rel === '') rel = '/index.html';
    const file = normalize(join(base, rel));
    if (!file.startsWith(base + sep)) return false;
    if (!existsSync(file) || !statSync(file).isFile()) {
      if (rel !== '/index.html') return false;
      res.writeHead(200, { 'Content-Type': TYPES['.html']!, 'Cache-Control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : PLACEHOLDER);
      return true;
    }
    const body = readFileSync(file);
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': body.length,
      // index.html must revalidate so a new build is picked up; hashed assets could be cached longer.
      'Cache-Control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
