/**
 * The HTTP views over a real loopback server, backed by a real SQLite store.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pngjs from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChunkStore } from '../../src/chunks/chunk-store.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import { createCanvasApi } from '../../src/http/canvas-api.js';
import type { CanvasStorage, PlacementRecord } from '../../src/storage/canvas-storage.js';
import { openSqliteStorage } from '../../src/storage/sqlite-storage.js';
import { newStore, record, tempDir, tick } from '../storage/fixtures.js';

const { PNG } = pngjs;
const W = 256, H = 192;

let server: http.Server;
let base: string;
let store: ChunkStore;
let storage: CanvasStorage;
let clock = 0;
const log: PlacementRecord[] = [];

function paint(batch: PlacementRecord[]): void {
  tick(storage, store, batch, clock++);
  log.push(...batch);
}

beforeAll(async () => {
  store = newStore(W, H, DEFAULT_PALETTE.length, 0);
  storage = openSqliteStorage({ dataDir: tempDir() });
  storage.load(store);
  const api = createCanvasApi({ store, storage, palette: DEFAULT_PALETTE, epoch: 0xdeadbeef, maxPngPixels: 128 * 128 });
  server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://localhost');
    if (!api(req, res, url)) {
      res.writeHead(404);
      res.end('not mine');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A picture: stripes in chunk (0, 0), a block across the chunk border, a pixel in the far corner.
  const batch: PlacementRecord[] = [];
  for (let x = 0; x < 64; x++) batch.push(record(x, x % 8, (x % 31) + 1, 1000 + x, `p${x % 3}`));
  for (let y = 60; y < 70; y++) for (let x = 60; x < 70; x++) batch.push(record(x, y, 7, 2000, 'blk'));
  batch.push(record(W - 1, H - 1, 4, 3000, ''));
  paint(batch);
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  storage.close(store);
});

async function json(path: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(base + path, init);
  return { status: res.status, body: await res.json() };
}

function decode(buf: ArrayBuffer): { width: number; height: number; data: Buffer } {
  return PNG.sync.read(Buffer.from(buf));
}

/** Asserts the decoded PNG shows exactly the store's region, pixel for pixel. */
function expectRegion(img: { width: number; height: number; data: Buffer }, x0: number, y0: number, w: number, h: number): void {
  expect([img.width, img.height]).toEqual([w, h]);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const rgb = DEFAULT_PALETTE[store.get(x0 + x, y0 + y)]!;
      const o = (y * w + x) * 4;
      const got = (img.data[o]! << 16) | (img.data[o + 1]! << 8) | img.data[o + 2]!;
      if (got !== rgb) throw new Error(`pixel (${x0 + x}, ${y0 + y}): got #${got.toString(16)}, want #${rgb.toString(16)}`);
    }
  }
}

describe('GET /api/pixel', () => {
  it('answers painted and unpainted pixels', async () => {
    expect(await json('/api/pixel?x=65&y=65')).toEqual({ status: 200, body: { x: 65, y: 65, color: 7, placedAt: 2000, placedBy: 'blk' } });
    expect(await json(`/api/pixel?x=${W - 1}&y=${H - 1}`)).toEqual({ status: 200, body: { x: W - 1, y: H - 1, color: 4, placedAt: 3000, placedBy: '' } });
    expect(await json('/api/pixel?x=100&y=150')).toEqual({ status: 200, body: { x: 100, y: 150, color: 0, placedAt: null, placedBy: null } });
  });

  it('answers 400 for missing, malformed or out-of-range coordinates', async () => {
    for (const q of ['', '?x=1', '?y=1', `?x=${W}&y=0`, '?x=-1&y=0', '?x=1.5&y=0', '?x=1e2&y=0', '?x=0x10&y=0', '?x=abc&y=0', '?x=%201&y=0']) {
      const { status, body } = await json(`/api/pixel${q}`);
      expect(status, q).toBe(400);
      expect(body.error).toBe('BAD_REQUEST');
      expect(typeof body.message).toBe('string');
    }
  });

  it('answers 405 for other methods and leaves other paths alone', async () => {
    const res = await fetch(`${base}/api/pixel?x=1&y=1`, { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${base}/api/other`)).status).toBe(404);
  });
});

describe('GET /canvas.png', () => {
  it('is the whole canvas, pixel for pixel, with caching headers', async () => {
    const small = createCanvasApi({ store, storage, palette: DEFAULT_PALETTE, epoch: 1 });
    // The server above caps images at 128², below the whole canvas; check the whole canvas on an uncapped API.
    const s2 = http.createServer((req, res) => { small(req, res, new URL(req.url!, 'http://x')); });
    await new Promise<void>((resolve) => s2.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(s2.address() as AddressInfo).port}/canvas.png`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/png');
      expect(res.headers.get('cache-control')).toBe('public, max-age=1');
      expect(res.headers.get('etag')).toMatch(/^"[0-9a-z]+-0\.0\.256\.192-[0-9a-z]+"$/);
      expectRegion(decode(await res.arrayBuffer()), 0, 0, W, H);
    } finally {
      await new Promise((resolve) => s2.close(resolve));
    }
  });

  it('serves a region, pixel for pixel', async () => {
    for (const [x, y, w, h] of [[50, 55, 30, 20], [0, 0, 64, 8], [W - 3, H - 2, 3, 2], [63, 63, 1, 1]] as const) {
      const res = await fetch(`${base}/canvas.png?x=${x}&y=${y}&w=${w}&h=${h}`);
      expect(res.status).toBe(200);
      expectRegion(decode(await res.arrayBuffer()), x, y, w, h);
    }
  });

  it('answers 304 to a matching If-None-Match and changes the ETag only when the region changes', async () => {
    const url = `${base}/canvas.png?x=0&y=0&w=64&h=64`;
    const first = await fetch(url);
    const etag = first.headers.get('etag')!;
    await first.arrayBuffer();
    const again = await fetch(url, { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(etag);
    expect((await fetch(url, { headers: { 'If-None-Match': `"x", W/${etag}` } })).status).toBe(304);

    paint([record(200, 100, 3)]); // another chunk
    expect((await fetch(url, { headers: { 'If-None-Match': etag } })).status).toBe(304);

    paint([record(10, 10, 3)]); // inside the region
    const changed = await fetch(url, { headers: { 'If-None-Match': etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expectRegion(decode(await changed.arrayBuffer()), 0, 0, 64, 64);
  });

  it('changes the ETag with the epoch', async () => {
    const other = createCanvasApi({ store, storage, palette: DEFAULT_PALETTE, epoch: 2 });
    const res = new FakeResponse();
    // If-None-Match: * answers 304 synchronously, with the ETag.
    other({ method: 'GET', headers: { 'if-none-match': '*' } } as unknown as http.IncomingMessage, res as unknown as http.ServerResponse, new URL('http://x/canvas.png?w=8&h=8'));
    const mine = await fetch(`${base}/canvas.png?w=8&h=8`);
    expect(res.headers.etag).toBeDefined();
    expect(res.headers.etag).not.toBe(mine.headers.get('etag'));
  });

  it('answers 400 for a malformed, off-canvas or too large region', async () => {
    for (const q of ['?x=-1', '?w=0', `?x=${W}`, `?x=10&w=${W - 9}`, '?h=abc', `?y=${H - 1}&h=2`]) {
      const { status, body } = await json(`/canvas.png${q}`);
      expect(status, q).toBe(400);
      expect(body.error).toBe('BAD_REQUEST');
    }
    const { status, body } = await json('/canvas.png'); // 256x192 > the 128² cap of this server
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: 'REGION_TOO_LARGE' });
    expect(body.message).toMatch(/at most 16384/);
  });
});

describe('GET /api/history', () => {
  it('pages through placements in order with filters', async () => {
    const collected: unknown[] = [];
    let after = '';
    let pages = 0;
    for (;;) {
      const { status, body } = await json(`/api/history?x0=60&y0=60&x1=69&y1=69&limit=7${after ? `&after=${after}` : ''}`);
      expect(status).toBe(200);
      pages++;
      collected.push(...body.placements);
      if (body.next === null) break;
      after = body.next;
    }
    const want = log.filter((r) => r.x >= 60 && r.x <= 69 && r.y >= 60 && r.y <= 69).map((r) => ({ x: r.x, y: r.y, color: r.color, placedAt: r.time, placedBy: r.name }));
    expect(collected).toEqual(want);
    expect(pages).toBe(Math.ceil(want.length / 7)); // limit + 1 rows are read, so no empty last page

    const timed = await json('/api/history?since=1010&until=1013');
    expect(timed.body.placements.map((p: { placedAt: number }) => p.placedAt)).toEqual([1010, 1011, 1012]);
    const dflt = await json('/api/history');
    expect(dflt.body.placements).toHaveLength(100);
    expect(dflt.body.next).not.toBeNull();
  });

  it('answers 400 for bad parameters', async () => {
    for (const q of ['?limit=0', '?limit=1001', '?limit=x', '?x0=5&x1=4', `?x1=${W}`, '?after=garbage', '?since=-5', `?after=${'h'.repeat(80)}`]) {
      const { status, body } = await json(`/api/history${q}`);
      expect(status, q).toBe(400);
      expect(body.error).toBe('BAD_REQUEST');
    }
  });
});

/** Just enough of ServerResponse for a handler called directly. */
class FakeResponse {
  headers: Record<string, string> = {};
  headersSent = false;
  status = 0;
  writeHead(status: number, headers: Record<string, string>): this {
    this.status = status;
    for (const [k, v] of Object.entries(headers)) this.headers[k.toLowerCase()] = String(v);
    this.headersSent = true;
    return this;
  }
  setHeader(k: string, v: string): void { this.headers[k.toLowerCase()] = v; }
  end(): void {}
  destroy(): void {}
}
