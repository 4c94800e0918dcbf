/**
 * A music canvas over real sockets: WELCOME announces patterns, tempo and epoch; cells are pattern indices
 * through the ordinary PLACE path (same limits); the client library's MusicClock syncs its offset over
 * PING/PONG; an admin tempo change reaches every client as TEMPO, on a bar boundary ahead; a bad pattern
 * file is refused at start with one line.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CanvasClient, type WebSocketLike } from '../../src/client/canvas-client.js';
import { MusicClock } from '../../src/client/music-clock.js';
import { rttSlack } from '../../src/client/clock-sync.js';
import { ConfigError, parseConfig } from '../../src/config.js';
import { ErrorCode } from '../../src/net/protocol.js';
import { loadPatternFile, defaultPatternFile } from '../../src/music/pattern-file.js';
import { timeAtBeat } from '../../src/music/tempo-map.js';
import type { RunningServer } from '../../src/server.js';
import { serverEntry, startTestServer, until } from '../helpers/server.js';
import { prng } from '../../bench/prng.js';

const servers: RunningServer[] = [];
const clients: CanvasClient[] = [];
const clocks: MusicClock[] = [];
const dir = mkdtempSync(join(tmpdir(), 'pixel-canvas-music-'));
afterEach(async () => {
  for (const c of clocks.splice(0)) c.dispose();
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function serve(overrides = {}): Promise<RunningServer> {
  const s = await startTestServer({ mode: 'music', ...overrides });
  servers.push(s);
  return s;
}

async function connect(s: RunningServer): Promise<CanvasClient> {
  const c = new CanvasClient({ url: s.wsUrl, reconnect: false, socketFactory: (u) => new WebSocket(u, { perMessageDeflate: false }) as unknown as WebSocketLike });
  clients.push(c);
  const open = new Promise<void>((r) => c.on('open', () => r()));
  c.connect();
  await open;
  return c;
}

describe('music mode: configuration', () => {
  it('--music and --mode music; --tempo; a separate default data dir; --patterns needs music', () => {
    expect(parseConfig(['--music'], {}).mode).toBe('music');
    const c = parseConfig(['--mode', 'music', '--tempo', '132'], {});
    expect(c).toMatchObject({ mode: 'music', tempo: 132, dataDir: './data-music' });
    expect(parseConfig(['--music', '--data-dir', '/x'], {}).dataDir).toBe('/x');
    expect(parseConfig([], {})).toMatchObject({ mode: 'pixel', dataDir: './data' });
    expect(() => parseConfig(['--mode', 'jazz'], {})).toThrow(/--mode must be pixel or music/);
    expect(() => parseConfig(['--music', '--tempo', '5'], {})).toThrow(/--tempo must be 20..300/);
    expect(() => parseConfig(['--patterns', 'x.json'], {})).toThrow(ConfigError);
  });
});

describe('music mode: server', () => {
  it('WELCOME carries the pattern palette (as the colours), the tempo and the musical epoch', async () => {
    const s = await serve({ tempo: 120 });
    const c = await connect(s);
    const w = c.welcome!;
    const file = loadPatternFile(defaultPatternFile());
    expect(w.music).toBeDefined();
    expect(w.palette).toEqual(file.patterns.map((p) => p.colour));
    expect(w.music!.patterns.map((p) => [p.voice, p.stepsPerBeat, p.steps, p.pitches, p.name]))
      .toEqual(file.patterns.map((p) => [p.voice, p.stepsPerBeat, p.steps, p.pitches, p.name]));
    expect(w.music!.tempoMap).toEqual([{ startBeat: 0, startTime: w.music!.musicEpoch, bpm: 120 }]);
    expect(w.music!.musicEpoch).toBe(Date.UTC(2024, 0, 1)); // fixed: every node and every restart share the beat phase
    const api = await (await fetch(`${s.url}/api/music`)).json();
    expect(api.patterns[1]).toMatchObject({ index: 1, name: 'kick', voice: 'kick', subdivision: '1/4' });
  });

  it('cells are pattern indices through the ordinary PLACE path: out-of-palette values are refused', async () => {
    const s = await serve();
    const c = await connect(s);
    const n = c.welcome!.palette.length;
    const results = new Map<number, number>();
    c.on('placeResult', (r) => results.set(r.seq, r.status));
    const ok = c.place(3, 4, n - 1);
    const bad = c.place(3, 5, n);
    await until(() => results.size === 2, 3000);
    expect([results.get(ok), results.get(bad)]).toEqual([ErrorCode.OK, ErrorCode.BAD_COLOR]);
    expect(s.store.get(3, 4)).toBe(n - 1);
  });

  it('the pixel canvas\'s limits hold unchanged: the paint bucket refuses past its burst', async () => {
    const s = await serve({ paintBurst: 3, paintRate: 0.001 });
    const c = await connect(s);
    const results = new Map<number, { status: number; retryAfterMs: number }>();
    c.on('placeResult', (r) => results.set(r.seq, r));
    const seqs = [1, 2, 3, 4].map((i) => c.place(i, 1, 1 + i));
    await until(() => results.size === 4, 3000);
    expect(seqs.map((q) => results.get(q)!.status)).toEqual([ErrorCode.OK, ErrorCode.OK, ErrorCode.OK, ErrorCode.RATE_LIMITED]);
    expect(results.get(seqs[3]!)!.retryAfterMs).toBeGreaterThan(0);
  });

  it('MusicClock estimates the offset over PING/PONG and agrees with the server clock on loopback', async () => {
    const s = await serve();
    const c = await connect(s);
    const clock = new MusicClock(c, { burst: 8, burstGapMs: 10 });
    clocks.push(clock);
    await until(() => clock.sync.sampleCount >= 8, 3000, 'eight samples');
    expect(clock.synced).toBe(true);
    // Same machine: the server's clock (Date.now()) is ours, so the estimate of server time must match it within
    // what NTP promises: half the round trips it used (plus their slack), plus 2 ms for Date.now()'s 1 ms steps
    // on both sides. On an idle machine that is ~2.5 ms; a loaded one gets longer round trips, and a wider bound.
    // (The offset itself is not 0: it also absorbs the drift between the monotonic clock and the wall clock.)
    const rtt = clock.sync.rtt;
    expect(Math.abs(clock.serverNow() - Date.now())).toBeLessThanOrEqual((rtt + rttSlack(rtt)) / 2 + 2);
    expect(rtt).toBeLessThan(50); // loopback
    const beat = clock.beatAt();
    const truth = (Date.now() - s.conductor!.musicEpoch) * 100 / 60_000;
    expect(Math.abs(beat - truth) * 600).toBeLessThanOrEqual((rtt + rttSlack(rtt)) / 2 + 2.5); // ms at 100 bpm
  });

  it('an admin tempo change needs the token, lands on a bar boundary ahead, and every client gets TEMPO', async () => {
    process.env.ADMIN_TOKEN = 'sekrit';
    let s: RunningServer;
    try {
      s = await serve();
    } finally {
      delete process.env.ADMIN_TOKEN;
    }
    const a = await connect(s);
    const b = await connect(s);
    const clockA = new MusicClock(a);
    const clockB = new MusicClock(b);
    clocks.push(clockA, clockB);
    const post = (auth: string | null, body: string) => fetch(`${s.url}/admin/tempo`, {
      method: 'POST', body, headers: auth === null ? {} : { Authorization: `Bearer ${auth}` },
    });
    expect((await post(null, '{"bpm":120}')).status).toBe(401);
    expect((await post('wrong!', '{"bpm":120}')).status).toBe(401);
    expect((await post('sekrit', '{"bpm":1000}')).status).toBe(400);
    const before = Date.now();
    const res = await post('sekrit', '{"bpm":120}');
    expect(res.status).toBe(200);
    const seg = await res.json();
    expect(seg.bpm).toBe(120);
    expect(seg.startBeat % 4).toBe(0);
    expect(seg.startTime).toBeGreaterThanOrEqual(before + 2000 - 5);
    await until(() => clockA.tempoMap.length === 2 && clockB.tempoMap.length === 2, 3000, 'TEMPO at both clients');
    expect(clockA.tempoMap).toEqual(s.conductor!.tempoMap);
    expect(clockB.tempoMap).toEqual(s.conductor!.tempoMap);
    expect(timeAtBeat(clockA.tempoMap, seg.startBeat + 4)).toBeCloseTo(seg.startTime + 2000, 6);
    // Hostile bodies: seeded garbage, JSON of the wrong shape, too big; answered 400/413, never a crash.
    const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const random = prng(seed);
    const bodies = ['', 'null', '[]', '{"bpm":"120"}', '{"bpm":null}', '{"bpm":1e400}', '{"bpm":-5}', 'x'.repeat(5000)];
    for (let i = 0; i < 20; i++) bodies.push(String.fromCharCode(...Array.from({ length: Math.floor(random() * 60) }, () => Math.floor(random() * 256))));
    for (const body of bodies) {
      const r = await post('sekrit', body);
      if (![400, 413].includes(r.status)) throw new Error(`seed ${seed}: body ${JSON.stringify(body.slice(0, 40))} got ${r.status}`);
    }
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    // A late joiner learns the same map from WELCOME.
    const late = await connect(s);
    expect(late.welcome!.music!.tempoMap).toEqual(s.conductor!.tempoMap);
  });

  it('admin is disabled without ADMIN_TOKEN', async () => {
    const s = await serve();
    const r = await fetch(`${s.url}/admin/tempo`, { method: 'POST', body: '{"bpm":90}', headers: { Authorization: 'Bearer x' } });
    expect(r.status).toBe(403);
  });

  it('a bad pattern file: the server refuses to start with one line naming the file and the problem', async () => {
    const entry = await serverEntry();
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ scale: { root: 60, intervals: [0, 2, 4, 7, 9] }, patterns: [{ name: 'x', voice: 'kazoo', pitches: [0], steps: 'x', colour: '#ffffff' }] }));
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const proc = spawn(process.execPath, [entry, '--port', '0', '--music', '--in-memory', '--patterns', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
      proc.once('exit', (code) => resolve({ code, stderr }));
    });
    expect(run.code).not.toBe(0);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`patterns file ${file}: patterns[0] "x": voice must be one of`);
  });
});
