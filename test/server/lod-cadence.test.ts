/**
 * Levels of detail at their own cadence (--lod-hz): a zoomed-out viewer gets its level's changes coalesced
 * into at most ~lod-hz LOD_DELTAs a second, and still ends with exactly the server's level; with lod-hz
 * equal to the tick rate it gets them every tick, as a full-resolution viewer gets DELTAs.
 */
import { describe, expect, it } from 'vitest';
import { fuzzClient, sleep, testResources, until } from '../helpers/server.js';

const resources = testResources();

/**
 * One painter places a pixel on level 2's grid every ~10 ms for `ms`; a level-2 viewer of the whole 256²
 * canvas counts the LOD_DELTAs it receives and the painter the DELTAs. Returns both counts and whether the
 * viewer's level replica then equals the server's level 2.
 */
async function run(lodHz: number, ms: number): Promise<{ lodDeltas: number; deltas: number; equal: boolean }> {
  const s = await resources.server({ width: 256, height: 256, tickHz: 60, lodHz, paintRate: 1e6, paintBurst: 1e6, messageRate: 1e6, messageBurst: 1e6 });
  const viewer = resources.track(fuzzClient(s.wsUrl, 'viewer', () => {}));
  const painter = resources.track(fuzzClient(s.wsUrl, 'painter', () => {}));
  viewer.setViewport(0, 0, 256, 256, 2);
  painter.setViewport(0, 0, 256, 256, 0);
  viewer.connect();
  painter.connect();
  await until(() => viewer.state === 'open' && painter.state === 'open' && viewer.lod?.chunk(0, 0) !== undefined, 5000, 'both open, viewer holds its chunk');
  let lodDeltas = 0;
  let deltas = 0;
  viewer.on('lodDelta', () => { lodDeltas++; });
  painter.on('delta', () => { deltas++; });
  const end = performance.now() + ms;
  for (let i = 0; performance.now() < end; i++) {
    painter.place((i * 4) % 256, (Math.floor(i / 64) * 4) % 256, 1 + (i % 30));
    await sleep(10);
  }
  await sleep(300);
  const level = s.room.levels.level(2);
  const held = viewer.lod!.chunk(0, 0)!;
  const equal = Buffer.from(held.pixels).equals(Buffer.from(level.chunkPixels(0, 0)!)) && held.version === level.version(0, 0);
  return { lodDeltas, deltas, equal };
}

describe('level-of-detail cadence', () => {
  it('coalesces a level\'s changes into at most ~lod-hz LOD_DELTAs a second, ending equal to the server', async () => {
    const r = await run(10, 1500);
    // ~1.8 s of changes at 10 Hz: about 18 (a tick's timer jitter allows a few more); a DELTA-per-tick
    // cadence would have given the painter's ~100.
    expect(r.lodDeltas).toBeGreaterThan(5);
    expect(r.lodDeltas).toBeLessThanOrEqual(25);
    expect(r.deltas).toBeGreaterThan(2 * r.lodDeltas);
    expect(r.equal).toBe(true);
  });

  it('with lod-hz equal to the tick rate, a level gets a LOD_DELTA in every tick its pixels change', async () => {
    const r = await run(60, 1500);
    expect(r.lodDeltas).toBeGreaterThan(0.7 * r.deltas);
    expect(r.equal).toBe(true);
  });
});
