/**
 * Publishing a pattern palette to a running music canvas, over real sockets and HTTP: POST
 * /api/admin/patterns (the admin guard) validates the body exactly as `--patterns`, refuses what does not fit
 * the canvas with its own codes, and every connected v2 client gets TEMPO with the PATTERN_SWITCH record (a
 * v1 client gets nothing and keeps painting); a client joining before the bar finds the switch in WELCOME;
 * from the bar WELCOME, /api/music and /canvas.png carry the new palette; the palette is audited and kept
 * in the data dir, so a restart plays it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CanvasClient, type WebSocketLike } from '../../src/client/canvas-client.js';
import { MusicClock } from '../../src/client/music-clock.js';
import { ErrorCode, Op, encodeHello, encodePlace } from '../../src/net/protocol.js';
import { loadPatternFile, defaultPatternFile } from '../../src/music/pattern-file.js';
import { PUBLISHED_PATTERNS_FILE } from '../../src/music/published-palette.js';
import type { RunningServer } from '../../src/server.js';
import { RawPeer, startTestServer, until } from '../helpers/server.js';

const servers: RunningServer[] = [];
const clients: CanvasClient[] = [];
const clocks: MusicClock[] = [];
const peers: RawPeer[] = [];
const dir = mkdtempSync(join(tmpdir(), 'pixel-canvas-publish-'));
afterEach(async () => {
  for (const c of clocks.splice(0)) c.dispose();
  for (const c of clients.splice(0)) c.close();
  for (const p of peers.splice(0)) p.close();
  for (const s of servers.splice(0)) await s.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = 'publish-sekrit';
const DEFAULT_SIZE = loadPatternFile(defaultPatternFile()).patterns.length;

async function serve(overrides = {}): Promise<RunningServer> {
  process.env.ADMIN_TOKEN = TOKEN;
  try {
    const s = await startTestServer({ mode: 'music', tempo: 300, ...overrides }); // 300 bpm: a bar is 0.8 s
    servers.push(s);
    return s;
  } finally {
    delete process.env.ADMIN_TOKEN;
  }
}

async function connect(s: RunningServer): Promise<{ client: CanvasClient; clock: MusicClock }> {
  const client = new CanvasClient({ url: s.wsUrl, reconnect: false, socketFactory: (u) => new WebSocket(u, { perMessageDeflate: false }) as unknown as WebSocketLike });
  clients.push(client);
  const open = new Promise<void>((r) => client.on('open', () => r()));
  client.connect();
  await open;
  const clock = new MusicClock(client, { burst: 4, burstGapMs: 10 });
  clocks.push(clock);
  return { client, clock };
}

const publish = (s: RunningServer, body: string, auth: string | null = TOKEN) => fetch(`${s.url}/api/admin/patterns`, {
  method: 'POST', body, headers: auth === null ? {} : { Authorization: `Bearer ${auth}` },
});

const TICK = {
  scale: { root: 60, intervals: [0, 2, 4, 7, 9] }, beatsPerBar: 4, subdivisions: ['1/4', '1/8'],
  silence: { colour: '#101010' },
  patterns: [
    { name: 'tick', voice: 'hat', pitches: [0], steps: 'x', colour: '#00ff00' },
    { name: 'keys', voice: 'chord', pitches: [[0, 2, 4]], steps: 'X...', colour: '#ff00ff' },
  ],
}; // 5 entries

describe('publishing a palette (POST /api/admin/patterns)', () => {
  it('reaches every client live as TEMPO + PATTERN_SWITCH, switches on a bar ahead, and is what WELCOME, /api/music and images use from then on', async () => {
    const s = await serve();
    const a = await connect(s);
    const b = await connect(s);
    const v1 = new RawPeer(s.wsUrl);
    peers.push(v1);
    await v1.opened;
    v1.send(encodeHello(1, 'old'));
    await v1.waitFor((m) => m.type === 'welcome');
    const png0 = await fetch(`${s.url}/canvas.png?x=0&y=0&w=8&h=8`);
    const etag0 = png0.headers.get('etag');

    const before = Date.now();
    const res = await publish(s, JSON.stringify(TICK));
    expect(res.status).toBe(200);
    const answer = await res.json();
    expect(answer).toMatchObject({ entries: 5, paletteSize: DEFAULT_SIZE, patterns: ['tick', 'keys'], scope: 'canvas' });
    expect(answer.beat % 4).toBe(0);
    expect(answer.time).toBeGreaterThanOrEqual(before + 2000 - 5);
    expect(answer.time).toBeLessThan(Date.now() + 2000 + 800); // the first bar at least 2 s ahead

    // Both clients hear of it at once, padded to the canvas's palette.
    await until(() => a.clock.next !== null && b.clock.next !== null, 3000, 'the switch at both clients');
    for (const { clock } of [a, b]) {
      expect(clock.next!.beat).toBe(answer.beat);
      expect(clock.switchTime()).toBeCloseTo(answer.time, 6);
      const names = clock.next!.patterns.map((p) => p.name);
      expect(names.slice(0, 5)).toEqual(['silence', 'tick', 'tick', 'keys', 'keys']);
      expect(names.length).toBe(DEFAULT_SIZE);
      expect(new Set(names.slice(5))).toEqual(new Set(['unused']));
      expect(clock.next!.patterns[1]!.colour).toBe(0x00ff00);
      expect(clock.next!.patterns[3]!.pitches).toEqual([60, 64, 69]);
      expect(clock.patternsAt(answer.time - 50 - clock.offsetMs)).toBe(clock.music!.patterns); // before the bar
      expect(clock.patternsAt(answer.time + 1 - clock.offsetMs)).toBe(clock.next!.patterns);
    }
    // A client joining before the bar finds the switch in WELCOME (and the palette still in force).
    const late = await connect(s);
    expect(late.client.welcome!.music!.next!.beat).toBe(answer.beat);
    expect(late.client.welcome!.music!.patterns[1]!.name).toBe('kick');
    const pending = await (await fetch(`${s.url}/api/music`)).json();
    expect(pending.next).toMatchObject({ beat: answer.beat, time: answer.time });
    expect(pending.next.patterns[3]).toMatchObject({ name: 'keys', voice: 'chord', subdivision: '1/4', pitches: [60, 64, 69] });

    // From the bar on.
    await until(() => Date.now() > answer.time + 20, 5000, 'the switch bar');
    expect(a.clock.advance() || a.clock.next === null).toBe(true);
    expect(a.clock.music!.patterns[1]!.name).toBe('tick');
    const after = await connect(s);
    const w = after.client.welcome!;
    expect(w.palette.slice(0, 5)).toEqual([0x101010, 0x00ff00, w.palette[2], 0xff00ff, w.palette[4]]);
    expect(w.music!.patterns.map((p) => p.name).slice(0, 3)).toEqual(['silence', 'tick', 'tick']);
    expect(w.music!.next).toBeUndefined();
    const api = await (await fetch(`${s.url}/api/music`)).json();
    expect(api.patterns[1]).toMatchObject({ name: 'tick', voice: 'hat', colour: '#00ff00' });
    expect(api.next).toBeUndefined();
    const png1 = await fetch(`${s.url}/canvas.png?x=0&y=0&w=8&h=8`, { headers: { 'If-None-Match': etag0! } });
    expect(png1.status).toBe(200); // the background's colour changed: a new image, not a 304
    expect(png1.headers.get('etag')).not.toBe(etag0);

    // The v1 client was sent nothing new, and paints as before.
    expect(v1.frames.flatMap((f) => [...f]).length).toBeGreaterThan(0);
    expect(v1.messages.some((m) => m.type === 'tempo')).toBe(false);
    v1.send(encodePlace(1, [{ x: 2, y: 2, color: 1 }]));
    const placed = await v1.waitFor((m) => m.type === 'placeResult');
    expect(placed).toMatchObject({ status: ErrorCode.OK });
    for (const f of v1.frames) for (let at = 0; at < f.length; at += 3 + (f[at + 1]! | (f[at + 2]! << 8))) expect(f[at]).toBeLessThanOrEqual(Op.PONG);

    // Audited like every admin action.
    const audit = await (await fetch(`${s.url}/api/admin/audit`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json();
    expect(audit.entries[0]).toMatchObject({ action: 'patterns', detail: { beat: answer.beat, entries: 5, patterns: ['tick', 'keys'] } });
  }, 20_000);

  it('refuses what is not a pattern file, or does not fit the canvas, with its code; nothing changes', async () => {
    const s = await serve();
    const { clock } = await connect(s);
    const cases: [string, string | null, number, string, RegExp?][] = [
      [JSON.stringify(TICK), null, 401, 'UNAUTHORIZED'],
      [JSON.stringify(TICK), 'wrong', 401, 'UNAUTHORIZED'],
      ['not json', TOKEN, 400, 'BAD_REQUEST'],
      [JSON.stringify({ ...TICK, patterns: [{ ...TICK.patterns[0], voice: 'kazoo' }] }), TOKEN, 400, 'BAD_PATTERNS', /^patterns\[0\] "tick": voice must be one of sine, /],
      [JSON.stringify({ ...TICK, patterns: [{ ...TICK.patterns[1], pitches: [0, 2, 4] }] }), TOKEN, 400, 'BAD_PATTERNS', /pitches\[0\] must be a chord of 3 scale degrees/],
      [JSON.stringify({ ...TICK, tempo: 120 }), TOKEN, 400, 'BAD_PATTERNS', /unknown field "tempo"/],
      [JSON.stringify({ ...TICK, beatsPerBar: 3 }), TOKEN, 409, 'WRONG_BEATS_PER_BAR', /this canvas has 4 beats a bar/],
      [JSON.stringify({ ...TICK, subdivisions: ['1/4', '1/8', '1/8t', '1/16', '1/16t', '1/32'], patterns: Array.from({ length: 11 }, (_, i) => ({ ...TICK.patterns[0], name: `p${i}` })) }),
        TOKEN, 409, 'TOO_MANY_PATTERNS', new RegExp(`^67 palette entries .* this canvas holds ${DEFAULT_SIZE}`)],
      [JSON.stringify({ ...TICK, description: 'x'.repeat(70 * 1024) }), TOKEN, 413, 'BODY_TOO_LARGE'],
    ];
    for (const [body, auth, status, code, message] of cases) {
      const r = await publish(s, body, auth);
      const j = await r.json();
      expect([r.status, j.error], `${code}: ${j.message}`).toEqual([status, code]);
      if (message) expect(j.message).toMatch(message);
    }
    // Larger than the other admin routes' 16 KiB limit, within this one's: fine.
    const long = await publish(s, JSON.stringify({ ...TICK, description: 'y'.repeat(30 * 1024) }));
    expect(long.status).toBe(200);
    await until(() => clock.next !== null, 3000, 'the one accepted switch');
    expect(clock.next!.patterns[1]!.name).toBe('tick');
    const audit = await (await fetch(`${s.url}/api/admin/audit?limit=500`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json();
    expect(audit.entries.filter((e: { action: string }) => e.action === 'patterns')).toHaveLength(1);
  }, 20_000);

  it('the published palette is kept in the data dir: a restart plays it, not --patterns\'', async () => {
    const dataDir = join(dir, 'kept');
    const s = await serve({ inMemory: false, dataDir });
    expect((await publish(s, JSON.stringify(TICK))).status).toBe(200);
    const kept = JSON.parse(readFileSync(join(dataDir, PUBLISHED_PATTERNS_FILE), 'utf8'));
    expect(kept.patterns.map((p: { name: string }) => p.name)).toEqual(['tick', 'keys']);
    await s.close();
    servers.splice(servers.indexOf(s), 1);
    const again = await serve({ inMemory: false, dataDir });
    const { client } = await connect(again);
    expect(client.welcome!.music!.patterns.map((p) => p.name).slice(0, 4)).toEqual(['silence', 'tick', 'tick', 'keys']);
    expect(client.welcome!.palette[1]).toBe(0x00ff00);
    expect(client.welcome!.palette.length).toBe(DEFAULT_SIZE);
  }, 20_000);

  it('off the music canvas there is no such route', async () => {
    process.env.ADMIN_TOKEN = TOKEN;
    let s: RunningServer;
    try {
      s = await startTestServer();
    } finally {
      delete process.env.ADMIN_TOKEN;
    }
    servers.push(s);
    const r = await publish(s, JSON.stringify(TICK));
    expect([r.status, (await r.json()).error]).toEqual([404, 'NOT_FOUND']);
  });
});
