/**
 * GET /api/timelapse on a real server: the JSON form gives the region's state at `since` (placements since
 * undone) and the placements in range; the GIF form decodes (omggif) to frames showing that history; the
 * bounds refuse with 413 and bad parameters with 400.
 */
import { afterEach, describe, expect, it } from 'vitest';
import omggif from 'omggif';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import type { RunningServer } from '../../src/server.js';
import type { PlacementRecord } from '../../src/storage/canvas-storage.js';
import { startTestServer, until } from '../helpers/server.js';

let server: RunningServer | null = null;
afterEach(async () => { await server?.close(); server = null; });

function paint(s: RunningServer, records: Omit<PlacementRecord, 'clientId' | 'name' | 'ip'>[]): Promise<void> {
  s.room.seam.submit(records.map((r) => ({ ...r, clientId: 1, name: 'p', ip: '127.0.0.1' })), { clientId: 0, seq: 0, count: 0 });
  s.room.tick(performance.now());
  return until(() => s.room.seam.pending === 0);
}

describe('GET /api/timelapse', () => {
  it('json: the state at since and the placements in [since, until)', async () => {
    const s = server = await startTestServer();
    await paint(s, [{ x: 10, y: 10, color: 3, time: 1000 }, { x: 11, y: 10, color: 4, time: 1000 }]);
    await paint(s, [{ x: 10, y: 10, color: 5, time: 2000 }, { x: 12, y: 10, color: 6, time: 3000 }]);
    await paint(s, [{ x: 10, y: 10, color: 7, time: 9000 }]); // after until: not in the answer, undone in the start
    const r = await fetch(`${s.url}/api/timelapse?x=10&y=10&w=4&h=1&since=1500&until=5000&format=json`);
    expect(r.status).toBe(200);
    const j = await r.json() as { start: string; placements: number[][]; palette: number[]; w: number };
    expect([...Buffer.from(j.start, 'base64')]).toEqual([3, 4, 0, 0]);
    expect(j.placements).toEqual([[10, 10, 5, 2000], [12, 10, 6, 3000]]);
    expect(j.palette).toEqual([...DEFAULT_PALETTE]);
  });

  it('gif: frames evenly spaced over the range, the last the state at until, scaled', async () => {
    const s = server = await startTestServer();
    await paint(s, [{ x: 0, y: 0, color: 3, time: 100 }]);
    await paint(s, [{ x: 1, y: 0, color: 4, time: 1100 }]);
    await paint(s, [{ x: 0, y: 0, color: 5, time: 2100 }]);
    const r = await fetch(`${s.url}/api/timelapse?x=0&y=0&w=2&h=1&since=0&until=3000&frames=3&scale=2&delay=50`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/gif');
    const gif = new omggif.GifReader(new Uint8Array(await r.arrayBuffer()));
    expect([gif.width, gif.height, gif.numFrames()]).toEqual([4, 2, 3]);
    const rgb = (c: number) => [(DEFAULT_PALETTE[c]! >> 16) & 255, (DEFAULT_PALETTE[c]! >> 8) & 255, DEFAULT_PALETTE[c]! & 255];
    const expected = [[3, 0], [3, 4], [5, 4]];
    for (let f = 0; f < 3; f++) {
      const px = new Uint8Array(4 * 2 * 4);
      gif.decodeAndBlitFrameRGBA(f, px);
      expect([...px.subarray(0, 3)], `frame ${f} left`).toEqual(rgb(expected[f]![0]!));
      expect([...px.subarray(2 * 4, 2 * 4 + 3)], `frame ${f} right`).toEqual(rgb(expected[f]![1]!));
      expect(gif.frameInfo(f).delay).toBe(5); // centiseconds
    }
  });

  it('refuses what would exceed its bounds (413) and bad parameters (400, 405)', async () => {
    const s = server = await startTestServer();
    const big = await fetch(`${s.url}/api/timelapse?x=0&y=0&w=1024&h=1024&since=0&until=10`);
    expect(big.status).toBe(413);
    expect((await big.json() as { error: string }).error).toBe('TOO_LARGE');
    expect((await fetch(`${s.url}/api/timelapse?x=0&y=0&w=512&h=512&since=0&until=10&frames=300&scale=4`)).status).toBe(413);
    expect((await fetch(`${s.url}/api/timelapse?since=10&until=5&w=8&h=8`)).status).toBe(400);
    expect((await fetch(`${s.url}/api/timelapse?format=bmp&w=8&h=8`)).status).toBe(400);
    expect((await fetch(`${s.url}/api/timelapse?x=-1`)).status).toBe(400);
    expect((await fetch(`${s.url}/api/timelapse`, { method: 'POST' })).status).toBe(405);
  });

  it('rate-limits each address: a burst of 4, then 429 with Retry-After', async () => {
    const s = server = await startTestServer();
    const statuses: number[] = [];
    let retry: string | null = null;
    for (let i = 0; i < 6; i++) {
      const r = await fetch(`${s.url}/api/timelapse?x=0&y=0&w=8&h=8&format=json`);
      statuses.push(r.status);
      if (r.status === 429) retry = r.headers.get('retry-after');
      await r.arrayBuffer();
    }
    expect(statuses.slice(0, 4)).toEqual([200, 200, 200, 200]);
    expect(statuses.slice(4)).toEqual([429, 429]);
    expect(Number(retry)).toBeGreaterThan(0);
  });
});

describe('GET /api/timelapse and static paths: hostile input (seeded fuzz against a running server)', () => {
  it('random query strings and paths get a clean answer, never a 500 or a crash', async () => {
    const fc = (await import('fast-check')).default;
    const s = server = await startTestServer({ width: 256, height: 256 });
    await paint(s, [{ x: 1, y: 1, color: 3, time: 1000 }]);
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 100000);
    console.log(`timelapse/static fuzz seed ${seed}`);
    const value = fc.oneof(fc.nat(600).map(String), fc.string({ maxLength: 8 }), fc.constantFrom('-1', '1e3', '0x10', '', '99999999999999999', 'json', 'gif'));
    const query = fc.dictionary(fc.constantFrom('x', 'y', 'w', 'h', 'since', 'until', 'format', 'frames', 'delay', 'scale', 'zz'), value, { maxKeys: 8 });
    const path = fc.oneof(fc.constant('/api/timelapse'), fc.stringMatching(/^\/[\w.%~-]{0,30}$/), fc.constantFrom('/..%2f..%2fetc/passwd', '/%', '/admin', '/index.html'));
    await fc.assert(fc.asyncProperty(path, query, async (p, q) => {
      const qs = new URLSearchParams(q as Record<string, string>).toString();
      const res = await fetch(`${s.url}${p}?${qs}`);
      expect([200, 304, 400, 404, 405, 413, 429]).toContain(res.status);
      await res.arrayBuffer();
    }), { numRuns: 200, seed });
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
  });
});
