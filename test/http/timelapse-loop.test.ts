/**
 * Timelapse work and the event loop (issue 24, defect 7), on a real server: while a large GIF is being made,
 * other requests are answered; beyond the in-flight bound across addresses the answer is 503 BUSY with
 * Retry-After; a cached answer is byte for byte the one made fresh, and a placement in the region makes a
 * new one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import type { PlacementRecord } from '../../src/storage/canvas-storage.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import { TIMELAPSE_LIMITS } from '../../src/defaults.js';
import { collectTimelapse } from '../../src/http/timelapse-data.js';
import { encodeTimelapse } from '../../src/http/timelapse-encode.js';
import { startTestServer, until } from '../helpers/server.js';

let server: RunningServer | null = null;
afterEach(async () => { await server?.close(); server = null; });

async function paint(s: RunningServer, records: Omit<PlacementRecord, 'clientId' | 'name' | 'ip'>[]): Promise<void> {
  for (let i = 0; i < records.length; i += 5000) {
    s.room.seam.submit(records.slice(i, i + 5000).map((r) => ({ ...r, clientId: 1, name: 'p', ip: '127.0.0.1' })), { clientId: 0, seq: 0, count: 0 });
    s.room.tick(performance.now());
    await until(() => s.room.seam.pending === 0);
  }
}

/** Noise over a side² region at times 1000.., so GIF frames are slow to encode and every frame differs. */
function noise(side: number, n: number, seed: number): Omit<PlacementRecord, 'clientId' | 'name' | 'ip'>[] {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  return Array.from({ length: n }, (_, i) => ({ x: (rnd() * side) | 0, y: (rnd() * side) | 0, color: 1 + ((rnd() * 15) | 0), time: 1000 + i }));
}

describe('GET /api/timelapse off the event loop', () => {
  it('answers /healthz while a 512² × 256-frame GIF is being made', async () => {
    const s = server = await startTestServer({ width: 512, height: 512 });
    await paint(s, noise(512, 40_000, 7));
    const order: string[] = [];
    const gif = fetch(`${s.url}/api/timelapse?x=0&y=0&w=512&h=512&since=0&until=41000&frames=256`)
      .then(async (r) => { order.push('gif answered'); return [r.status, (await r.arrayBuffer()).byteLength]; });
    await new Promise((r) => setTimeout(r, 300));
    const health = await fetch(`${s.url}/healthz`, { signal: AbortSignal.timeout(20_000) });
    order.push('healthz');
    expect(health.status).toBe(200);
    const [status, bytes] = await gif;
    expect(status).toBe(200);
    expect(bytes).toBeGreaterThan(1_000_000);
    // The GIF takes seconds of encoding; /healthz, asked 300 ms in, was answered before the GIF's head.
    expect(order).toEqual(['healthz', 'gif answered']);
  });

  it('bounds the timelapses in flight across addresses: 503 BUSY with Retry-After beyond, a cached answer still served', async () => {
    const s = server = await startTestServer({ width: 512, height: 512, trustProxy: true });
    await paint(s, noise(512, 20_000, 9));
    const small = `${s.url}/api/timelapse?x=0&y=0&w=16&h=16&since=0&until=30000&format=json`;
    const cached = await fetch(small, { headers: { 'X-Forwarded-For': '10.1.0.1' } });
    expect(cached.status).toBe(200);
    const cachedBytes = Buffer.from(await cached.arrayBuffer());
    const big = (k: number) => fetch(`${s.url}/api/timelapse?x=0&y=0&w=512&h=512&since=${k}&until=30000&frames=200`,
      { headers: { 'X-Forwarded-For': `10.2.0.${k + 1}` } });
    const running = Array.from({ length: TIMELAPSE_LIMITS.maxInFlight }, (_, k) => big(k));
    // Ask again until the slots are full: on a loaded machine the first ones may not have reached the server
    // yet, and one admitted in their place runs (seconds) like them. Past maxInFlight running, one is refused.
    let refused: Response | null = null;
    for (let k = TIMELAPSE_LIMITS.maxInFlight; k < TIMELAPSE_LIMITS.maxInFlight + 20 && refused === null; k++) {
      await new Promise((r) => setTimeout(r, 100));
      const asked = big(k);
      const r = await Promise.race([asked, new Promise<null>((done) => setTimeout(() => done(null), 250))]);
      if (r === null) running.push(asked); // still being made: it holds a slot (answered below)
      else if (r.status === 503) refused = r;
      else { expect(r.status).toBe(200); await r.arrayBuffer(); }
    }
    expect(refused, 'no request was refused with maxInFlight timelapses running').not.toBeNull();
    if (refused === null) return;
    expect(refused.status).toBe(503);
    expect((await refused.json() as { error: string }).error).toBe('BUSY');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // The cache answers without taking a slot, from another address, the same bytes.
    const again = await fetch(small, { headers: { 'X-Forwarded-For': '10.1.0.2' } });
    expect(again.status).toBe(200);
    expect(Buffer.from(await again.arrayBuffer()).equals(cachedBytes)).toBe(true);
    for (const r of await Promise.all(running)) {
      expect(r.status).toBe(200);
      await r.arrayBuffer();
    }
  });

  it('a cached answer equals a fresh one byte for byte; a placement in the region makes a new one', async () => {
    const s = server = await startTestServer({ width: 256, height: 256, trustProxy: true });
    await paint(s, noise(64, 3000, 11));
    let asked = 0;
    const q = 'x=0&y=0&w=64&h=64&since=2000&until=100000';
    const fresh = async (format: 'gif' | 'json') => {
      const data = await collectTimelapse(s.storage, s.store, 0, 0, 64, 64, 2000, 100000, TIMELAPSE_LIMITS);
      return Buffer.from(encodeTimelapse(format === 'gif'
        ? { format, data, palette: DEFAULT_PALETTE, frames: 10, delayMs: 100, scale: 2 }
        : { format, data, palette: DEFAULT_PALETTE, background: s.store.background }));
    };
    const get = async (format: 'gif' | 'json') => {
      // Each from its own address: the per-address allowance is not what this test is about.
      const r = await fetch(`${s.url}/api/timelapse?${q}&format=${format}&frames=10&delay=100&scale=2`, { headers: { 'X-Forwarded-For': `10.3.0.${++asked}` } });
      expect(r.status).toBe(200);
      return Buffer.from(await r.arrayBuffer());
    };
    for (const format of ['gif', 'json'] as const) {
      const first = await get(format);
      const second = await get(format);
      expect(second.equals(first), `${format}: repeat`).toBe(true);
      expect(second.equals(await fresh(format)), `${format}: fresh`).toBe(true);
    }
    await paint(s, [{ x: 5, y: 5, color: 9, time: 50_000 }]);
    const json = JSON.parse((await get('json')).toString()) as { placements: number[][] };
    expect(json.placements.at(-1)).toEqual([5, 5, 9, 50_000]);
    expect((await get('json')).equals(await fresh('json'))).toBe(true);
  });
});
