/**
 * The r/place 2017 final canvas (test fixture, 1000×1000, indexed with the 2017 palette) painted through the
 * placement seam of a server started with `--palette rplace2017` reads back exactly from /canvas.png, and
 * WELCOME announces the 16 colours with white (index 15) as the background.
 */
import fs from 'node:fs';
import path from 'node:path';
import pngjs from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { R_PLACE_2017_PALETTE } from '../../src/chunks/palette.js';
import type { PlacementRecord } from '../../src/storage/canvas-storage.js';
import { type RunningServer } from '../../src/server.js';
import { RawPeer, startTestServer, until } from '../helpers/server.js';
import { PROTOCOL_VERSION, encodeHello } from '../../src/net/protocol.js';

const FIXTURE = path.join(process.env.PIXEL_CANVAS_FIXTURES ?? '/work/shared/fixtures', 'rplace-2017-final.png');
const present = fs.existsSync(FIXTURE);
if (!present) console.log(`palette fixture test skipped: ${FIXTURE} not found`);

describe.skipIf(!present && process.env.CI === undefined)('--palette rplace2017 with the r/place 2017 fixture', () => {
  let server: RunningServer | undefined;
  afterAll(async () => { await server?.close(); });

  it('paints the fixture and reads it back exactly via /canvas.png', async () => {
    const png = pngjs.PNG.sync.read(fs.readFileSync(FIXTURE));
    expect([png.width, png.height]).toEqual([1000, 1000]);
    server = await startTestServer({ palette: 'rplace2017' });
    const s = server;
    expect(s.store.background).toBe(15);

    const peer = new RawPeer(s.wsUrl);
    await peer.opened;
    peer.send(encodeHello(PROTOCOL_VERSION, "p"));
    const welcome = await peer.waitFor((m) => m.type === 'welcome');
    expect((welcome as { palette: number[] }).palette).toEqual([...R_PLACE_2017_PALETTE]);
    expect((welcome as { background: number }).background).toBe(15);
    peer.close();

    const index = new Map(R_PLACE_2017_PALETTE.map((c, i) => [c, i]));
    const records: PlacementRecord[] = [];
    for (let y = 0; y < png.height; y++) {
      for (let x = 0; x < png.width; x++) {
        const o = (y * png.width + x) * 4;
        const rgb = (png.data[o]! << 16) | (png.data[o + 1]! << 8) | png.data[o + 2]!;
        const color = index.get(rgb);
        if (color === undefined) throw new Error(`fixture pixel (${x}, ${y}) #${rgb.toString(16)} is not in the 2017 palette`);
        if (color !== 15) records.push({ x, y, color, time: 1, clientId: 1, name: 'fixture', ip: '127.0.0.1' });
      }
    }
    // Through the same seam and tick as any placement, in slices the size of a busy tick.
    for (let i = 0; i < records.length; i += 50_000) s.room.seam.submit(records.slice(i, i + 50_000), { clientId: 0, seq: 0, count: 0 });
    s.room.tick(performance.now());
    await until(() => s.room.seam.pending === 0, 10_000, 'seam drained');

    const res = await fetch(`${s.url}/canvas.png?x=0&y=0&w=1000&h=1000`);
    expect(res.status).toBe(200);
    const back = pngjs.PNG.sync.read(Buffer.from(await res.arrayBuffer()));
    expect([back.width, back.height]).toEqual([1000, 1000]);
    let diff = -1;
    for (let p = 0; p < 1000 * 1000 && diff < 0; p++) {
      for (let k = 0; k < 3; k++) if (back.data[p * 4 + k] !== png.data[p * 4 + k]) { diff = p; break; }
    }
    expect(diff, `first differing pixel index ${diff}`).toBe(-1);
    // The unpainted margin beyond 1000 is the 2017 background, white.
    const margin = pngjs.PNG.sync.read(Buffer.from(await (await fetch(`${s.url}/canvas.png?x=1000&y=1000&w=24&h=24`)).arrayBuffer()));
    expect([...margin.data.subarray(0, 3)]).toEqual([255, 255, 255]);
  }, 60_000);
});
