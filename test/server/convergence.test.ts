/**
 * Seeded multi-client fuzz over real sockets: clients with random viewports paint, pan, lose their
 * connection and resume; at the end every client's replica of what it sees equals the server byte for byte.
 * A failing seed prints itself; once fixed it joins REGRESSION_SEEDS.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CanvasClient, type WebSocketLike } from '../../src/client/canvas-client.js';
import { viewChunkRange } from '../../src/client/replica.js';
import { CHUNK_AREA } from '../../src/chunks/geometry.js';
import type { RunningServer } from '../../src/server.js';
import { sleep, startTestServer, until } from '../helpers/server.js';
import { prng as rng } from '../../bench/prng.js';


/** Seeds that once failed, kept as named regressions. */
const REGRESSION_SEEDS: number[] = [];

let server: RunningServer | null = null;
const clients: CanvasClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server?.close();
  server = null;
});

async function fuzz(seed: number, steps: number, mode: 'pixel' | 'music' = 'pixel'): Promise<void> {
  const random = rng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const size = 512;
  server = await startTestServer({ mode, width: size, height: size, paintRate: 1e6, paintBurst: 1e6, messageRate: 1e6, messageBurst: 1e6, viewportHz: 1000, cursorHz: 1000 });
  const s = server;
  const sockets: WebSocket[] = [];
  const n = 5;
  for (let i = 0; i < n; i++) {
    const c = new CanvasClient({
      url: s.wsUrl, name: `fuzz${i}`, minBackoffMs: 5, maxBackoffMs: 50,
      socketFactory: (u) => {
        const ws = new WebSocket(u, { perMessageDeflate: false });
        sockets[i] = ws;
        return ws as unknown as WebSocketLike;
      },
    });
    clients.push(c);
    c.setViewport(int(size), int(size), 32 + int(256), 32 + int(256));
    c.connect();
  }
  await until(() => clients.every((c) => c.state === 'open'), 5000, 'all clients open');

  for (let step = 0; step < steps; step++) {
    const i = int(n);
    const c = clients[i]!;
    const roll = random();
    if (roll < 0.55) {
      const v = c.viewport;
      const inView = v && random() < 0.8;
      const x = inView ? v.x + int(v.w) : int(size);
      const y = inView ? v.y + int(v.h) : int(size);
      const count = 1 + int(4);
      c.placeMany(Array.from({ length: count }, (_, k) => ({ x: Math.min(size - 1, x + k), y, color: int(32) })));
    } else if (roll < 0.85) {
      c.setViewport(int(size) - 64, int(size) - 64, 32 + int(300), 32 + int(300));
    } else if (roll < 0.93) {
      sockets[i]?.terminate(); // connection lost: the client reconnects and resumes
    } else {
      await sleep(int(20));
    }
    if (step % 10 === 0) await sleep(1);
  }

  // Quiesce: everyone connected, placements committed, replicas hold every chunk in view at its version.
  await until(() => clients.every((c) => c.state === 'open'), 5000, 'all clients reconnected');
  await sleep(200);
  const store = s.store;
  const converged = () => clients.every((c) => {
    const v = c.viewport;
    if (!v) return true;
    const r = viewChunkRange(v.x, v.y, v.w, v.h, size, size);
    if (!r) return true;
    for (let cy = r.cy0; cy <= r.cy1; cy++) for (let cx = r.cx0; cx <= r.cx1; cx++) {
      const held = c.replica.chunk(cx, cy);
      if (!held || held.version !== store.version(cx, cy)) return false;
    }
    return true;
  });
  await until(converged, 5000, `replicas to catch up (seed ${seed})`);

  for (const [i, c] of clients.entries()) {
    const v = c.viewport!;
    const r = viewChunkRange(v.x, v.y, v.w, v.h, size, size)!;
    for (let cy = r.cy0; cy <= r.cy1; cy++) for (let cx = r.cx0; cx <= r.cx1; cx++) {
      const expected = store.chunkPixels(cx, cy) ?? new Uint8Array(CHUNK_AREA).fill(store.background);
      const got = c.replica.chunk(cx, cy)!.pixels;
      if (!Buffer.from(got).equals(Buffer.from(expected))) {
        throw new Error(`seed ${seed}: client ${i} chunk (${cx},${cy}) differs from the server`);
      }
    }
    // Nothing outside the view is kept (it would go stale).
    expect(c.replica.size).toBe((r.cx1 - r.cx0 + 1) * (r.cy1 - r.cy0 + 1));
  }
}

describe('multi-client convergence fuzz', () => {
  it.each(REGRESSION_SEEDS)('regression seed %i', async (seed) => {
    await fuzz(seed, 300);
  }, 60_000);

  it('random seed converges (seed printed on failure)', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    try {
      await fuzz(seed, 400);
    } catch (err) {
      console.error(`convergence fuzz failed: FUZZ_SEED=${seed} reproduces it`);
      throw err;
    }
  }, 60_000);

  it('fixed seed 1 converges', async () => {
    await fuzz(1, 400);
  }, 60_000);

  // A music canvas reuses the data path unchanged (cells are pattern indices): it converges the same way.
  it('fixed seed 2 converges on a music canvas', async () => {
    await fuzz(2, 400, 'music');
  }, 60_000);
});
