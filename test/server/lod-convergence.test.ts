/**
 * Seeded fuzz over real sockets with clients zooming in and out: they paint, pan, change level of detail and
 * lose their connection; at the end each client is walked through every level, and at each one its replica
 * of what it sees equals the server's level byte for byte. A failing seed prints itself.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { CanvasClient } from '../../src/client/canvas-client.js';
import type { Replica } from '../../src/client/replica.js';
import { viewChunkRange } from '../../src/client/replica.js';
import { CHUNK_AREA } from '../../src/chunks/geometry.js';
import { levelRect } from '../../src/chunks/lod-geometry.js';
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

/** The client's replica for its current level and the chunk range it sees there. */
function held(c: CanvasClient): { replica: Replica; range: ReturnType<typeof viewChunkRange> } {
  const v = c.viewport!;
  const replica = c.level === 0 ? c.replica : c.lod!;
  const lr = levelRect(v, c.level);
  return { replica, range: viewChunkRange(lr.x, lr.y, lr.w, lr.h, replica.width, replica.height) };
}

async function fuzz(seed: number, steps: number): Promise<void> {
  const random = rng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const size = 512;
  server = await startTestServer({
    width: size, height: size, paintRate: 1e6, paintBurst: 1e6, messageRate: 1e6, messageBurst: 1e6, viewportHz: 1000, cursorHz: 1000,
  });
  const s = server;
  const top = s.room.levels.top;
  expect(top).toBe(3);
  const sockets: WebSocket[] = [];
  const n = 4;
  for (let i = 0; i < n; i++) {
    const c = fuzzClient(s.wsUrl, `zoom${i}`, (ws) => { sockets[i] = ws; });
    clients.push(c);
    c.setViewport(0, 0, size, size, int(top + 1));
    c.connect();
  }
  await until(() => clients.every((c) => c.state === 'open'), 5000, 'all clients open');

  for (let step = 0; step < steps; step++) {
    const c = clients[int(n)]!;
    const roll = random();
    if (roll < 0.5) {
      // Mostly on even coordinates, so the coarse levels change too.
      const x = int(size / 2) * 2;
      const y = int(size / 2) * 2;
      c.placeMany([{ x, y, color: int(32) }, { x: Math.min(size - 1, x + 1), y, color: int(32) }]);
    } else if (roll < 0.85) {
      const level = int(top + 1);
      const side = (32 + int(200)) << level;
      c.setViewport(int(size) - 64, int(size) - 64, side, side, level);
    } else if (roll < 0.92) {
      sockets[clients.indexOf(c)]?.terminate();
    } else {
      await sleep(int(20));
    }
    if (step % 10 === 0) await sleep(1);
  }

  await until(() => clients.every((c) => c.state === 'open'), 5000, 'all clients reconnected');
  await sleep(100);
  for (let l = 0; l <= top; l++) expect(s.room.levels.level(l).allocatedChunks, `level ${l} painted`).toBeGreaterThan(0);
  for (let level = 0; level <= top; level++) {
    for (const c of clients) c.setViewport(0, 0, size, size, level);
    const levelStore = s.room.levels.level(level);
    const converged = () => clients.every((c) => {
      if (c.level !== level || c.viewport === null) return false;
      const { replica, range } = held(c);
      if (!range) return true;
      for (let cy = range.cy0; cy <= range.cy1; cy++) for (let cx = range.cx0; cx <= range.cx1; cx++) {
        const h = replica.chunk(cx, cy);
        if (!h || h.version !== levelStore.version(cx, cy)) return false;
      }
      return true;
    });
    await until(converged, 5000, `replicas at level ${level} to catch up (seed ${seed})`);
    for (const [i, c] of clients.entries()) {
      const { replica, range } = held(c);
      for (let cy = range!.cy0; cy <= range!.cy1; cy++) for (let cx = range!.cx0; cx <= range!.cx1; cx++) {
        const expected = levelStore.chunkPixels(cx, cy) ?? new Uint8Array(CHUNK_AREA).fill(levelStore.background);
        if (!Buffer.from(replica.chunk(cx, cy)!.pixels).equals(Buffer.from(expected))) {
          throw new Error(`seed ${seed}: client ${i} level ${level} chunk (${cx},${cy}) differs from the server`);
        }
      }
      if (level > 0) expect(c.replica.size).toBe(0); // nothing stale kept at full resolution
    }
  }
}

describe('zooming clients converge at every level of detail', () => {
  it('random seed (printed on failure)', async () => {
    await withFuzzSeed('LOD convergence fuzz', (seed) => fuzz(seed, 300));
  }, 60_000);

  it('fixed seed 1', async () => {
    await fuzz(1, 300);
  }, 60_000);
});
