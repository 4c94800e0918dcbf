/**
 * The overload policy over real sockets: a server whose tick budget is tiny (every tick over it, so the
 * cadence drops to its slowest and clients are carried) still converges every client byte for byte with its
 * canvas; a connection arriving meanwhile completes its handshake; a saturated node refuses upgrades with
 * 503 and Retry-After, and admits again once the load is gone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import type { CanvasClient } from '../../src/client/canvas-client.js';
import { viewChunkRange } from '../../src/client/replica.js';
import { CHUNK_AREA } from '../../src/chunks/geometry.js';
import { OVERLOAD_DEFAULTS } from '../../src/defaults.js';
import type { RunningServer } from '../../src/server.js';
import { fuzzClient, sleep, startTestServer, until } from '../helpers/server.js';
import { prng as rng } from '../../bench/prng.js';
import { withFuzzSeed } from '../helpers/fuzz-seed.js';

let server: RunningServer | null = null;
const clients: CanvasClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server?.close();
  server = null;
});

const SIZE = 512;
const open = { maxConnectionsPerIp: 1000, paintRate: 1e6, paintBurst: 1e6, messageRate: 1e6, messageBurst: 1e6, viewportHz: 1000, cursorHz: 1000 };

function upgrade(url: string): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('open', () => { resolve({ status: 101, retryAfter: undefined }); ws.terminate(); });
    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined });
      ws.terminate();
    });
    ws.on('error', () => resolve({ status: -1, retryAfter: undefined }));
  });
}

/** Clients that paint at random in their views until stopped. */
function painters(s: RunningServer, n: number, random: () => number, views: { x: number; y: number; w: number; h: number }[]) {
  const int = (k: number) => Math.floor(random() * k);
  const mine: CanvasClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = fuzzClient(s.wsUrl, `p${i}`, () => {});
    const v = { x: int(SIZE - 64), y: int(SIZE - 64), w: 64 + int(320), h: 64 + int(320) };
    views.push(v);
    c.setViewport(v.x, v.y, v.w, v.h);
    c.connect();
    clients.push(c);
    mine.push(c);
  }
  let running = true;
  const paint = async () => {
    while (running) {
      for (const [i, c] of mine.entries()) {
        if (c.state !== 'open' || random() < 0.3) continue;
        const v = views[i]!;
        const x = Math.min(SIZE - 1, v.x + int(v.w));
        const y = Math.min(SIZE - 1, v.y + int(v.h));
        c.placeMany(Array.from({ length: 1 + int(3) }, (_, k) => ({ x: Math.min(SIZE - 1, x + k), y, color: int(32) })));
        if (random() < 0.05) { // a pan: snapshots owed, paced across ticks
          const nv = { x: int(SIZE - 64), y: int(SIZE - 64), w: 64 + int(320), h: 64 + int(320) };
          views[i] = nv;
          c.setViewport(nv.x, nv.y, nv.w, nv.h);
        }
      }
      await sleep(2);
    }
  };
  const done = paint();
  return { stop: async () => { running = false; await done; } };
}

function expectConverged(s: RunningServer, views: { x: number; y: number; w: number; h: number }[], seed: number): void {
  for (const [i, c] of clients.entries()) {
    const v = c.viewport!;
    const r = viewChunkRange(v.x, v.y, v.w, v.h, SIZE, SIZE)!;
    for (let cy = r.cy0; cy <= r.cy1; cy++) for (let cx = r.cx0; cx <= r.cx1; cx++) {
      const expected = s.store.chunkPixels(cx, cy) ?? new Uint8Array(CHUNK_AREA).fill(s.store.background);
      const held = c.replica.chunk(cx, cy);
      if (!held || !Buffer.from(held.pixels).equals(Buffer.from(expected))) {
        throw new Error(`seed ${seed}: client ${i} chunk (${cx},${cy}) differs from the server`);
      }
    }
  }
  void views;
}

describe('overloaded server (tiny tick budget)', () => {
  it('still converges every client byte for byte, while slowing their cadence', async () => {
    await withFuzzSeed('overload convergence', async (seed) => {
      const random = rng(seed);
      server = await startTestServer({ width: SIZE, height: SIZE, tickBudgetShare: 0, ...open });
      const s = server;
      const views: { x: number; y: number; w: number; h: number }[] = [];
      const load = painters(s, 10, random, views);
      await until(() => clients.every((c) => c.state === 'open'), 5000, 'all clients open');
      await until(() => s.room.overload.level === OVERLOAD_DEFAULTS.maxLevel, 5000, 'the slowest cadence');
      await sleep(1500);
      const health = await (await fetch(`${s.url}/healthz`)).json() as { overload: { level: number; cadences: Record<string, number> } };
      expect(health.overload.level).toBe(OVERLOAD_DEFAULTS.maxLevel);
      expect(Object.values(health.overload.cadences).reduce((a, b) => a + b, 0)).toBe(10);
      await load.stop();
      const converged = () => clients.every((c) => {
        const v = c.viewport;
        if (!v) return false;
        const r = viewChunkRange(v.x, v.y, v.w, v.h, SIZE, SIZE)!;
        for (let cy = r.cy0; cy <= r.cy1; cy++) for (let cx = r.cx0; cx <= r.cx1; cx++) {
          if (c.replica.chunk(cx, cy)?.version !== s.store.version(cx, cy)) return false;
        }
        return true;
      });
      await until(converged, 10_000, `replicas to catch up (seed ${seed})`);
      expectConverged(s, views, seed);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toMatch(/pixel_canvas_overload_level \d/);
      expect(metrics).toMatch(/pixel_canvas_pan_snapshot_seconds_count [1-9]/);
    });
  }, 60_000);

  it('a connection arriving while every tick is over budget completes its handshake', async () => {
    server = await startTestServer({ width: SIZE, height: SIZE, tickBudgetShare: 0, ...open });
    const s = server;
    const load = painters(s, 10, rng(7), []);
    await until(() => s.room.overload.level === OVERLOAD_DEFAULTS.maxLevel, 5000, 'the slowest cadence');
    const late = fuzzClient(s.wsUrl, 'late', () => {});
    const online: number[] = [];
    late.on('online', (n) => online.push(n));
    late.setViewport(0, 0, 128, 128);
    const started = performance.now();
    late.connect();
    clients.push(late);
    await until(() => late.state === 'open', 5000, 'the late client welcomed');
    const welcomedMs = performance.now() - started;
    await until(() => late.replica.size === 4, 5000, 'its snapshots');
    await load.stop();
    expect(welcomedMs).toBeLessThan(5000);
    expect(s.room.overload.level).toBeGreaterThan(0); // it really arrived under load
  }, 30_000);

  it('past what the slowest cadence can serve, an upgrade gets 503 with Retry-After; admitted again once calm', async () => {
    server = await startTestServer({ width: SIZE, height: SIZE, tickBudgetShare: 0, ...open });
    const s = server;
    // Enough painters that more are due each tick than the zero budget's minimum: some are left unwritten.
    const load = painters(s, 40, rng(11), []);
    await until(() => s.room.admit() > 0, 15_000, 'the node to saturate');
    const refused = await upgrade(s.wsUrl);
    expect(refused.status).toBe(503);
    expect(Number(refused.retryAfter)).toBe(OVERLOAD_DEFAULTS.retryAfterS);
    const health = await (await fetch(`${s.url}/healthz`)).json() as { overload: { refusing: boolean } };
    expect(health.overload.refusing).toBe(true);
    await load.stop();
    await until(() => s.room.admit() === 0, 10_000, 'the node to calm down');
    expect((await upgrade(s.wsUrl)).status).toBe(101);
  }, 60_000);
});
