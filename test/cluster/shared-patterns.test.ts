/**
 * Issue 26, point 7: a palette an operator publishes to a music canvas served by several nodes (--redis, the
 * machine's real Redis) reaches every client live. A publish through node A reaches node B's clients as
 * the identical PATTERN_SWITCH (same bar, same palette) and B's WELCOME; B keeps the file in its data dir;
 * a node that joins later — before the bar, and after it — adopts it; two publishes to two nodes at once end
 * the same on both; with Redis unreachable the publish is refused and nothing changes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { PROTOCOL_VERSION, encodeHello, type ServerMessage, type Tempo, type Welcome } from '../../src/net/protocol.js';
import { PUBLISHED_PATTERNS_FILE } from '../../src/music/published-palette.js';
import type { RunningServer } from '../../src/server.js';
import type { ServerConfig } from '../../src/config.js';
import { RawPeer, until } from '../helpers/server.js';
import { REDIS_URL } from '../helpers/redis.js';
import { clusterResources } from './cluster-resources.js';

const t = clusterResources();
const TOKEN = 'shared-patterns-admin-token-0123456789';

function musicConfig(canvas: string, extra: Partial<ServerConfig> = {}): Partial<ServerConfig> {
  // 240 bpm: a bar is 1 s, so a switch's bar comes 2..3 s after the publish.
  return { mode: 'music', redis: REDIS_URL, canvas, width: 128, height: 128, inMemory: false, dataDir: t.dir(), tempo: 240, ...extra };
}

const node = (cfg: Partial<ServerConfig>): Promise<RunningServer> => t.server(cfg, { adminToken: TOKEN });

async function listener(n: RunningServer): Promise<{ peer: RawPeer; welcome: Welcome }> {
  const peer = t.track(new RawPeer(n.wsUrl));
  await peer.opened;
  peer.send(encodeHello(PROTOCOL_VERSION, 'listener'));
  const welcome = await peer.waitFor((m): m is Welcome => m.type === 'welcome');
  return { peer, welcome };
}

const switches = (p: RawPeer): Tempo[] => p.messages.filter((m: ServerMessage): m is Tempo => m.type === 'tempo' && m.next !== undefined);
const names = (ps: ReadonlyArray<{ name: string }>): string[] => ps.map((p) => p.name);

const file = (tag: string) => ({
  scale: { root: 60, intervals: [0, 2, 4, 7, 9] }, beatsPerBar: 4, subdivisions: ['1/4', '1/8'],
  silence: { colour: '#101010' },
  patterns: [
    { name: `tick-${tag}`, voice: 'hat', pitches: [0], steps: 'x', colour: '#00ff00' },
    { name: `keys-${tag}`, voice: 'chord', pitches: [[0, 2, 4]], steps: 'X...', colour: '#ff00ff' },
  ],
}); // 5 entries

interface PublishAnswer { beat: number; time: number; entries: number; scope: string }

async function publish(n: RunningServer, body: unknown): Promise<Response> {
  return fetch(`${n.url}/api/admin/patterns`, { method: 'POST', body: JSON.stringify(body), headers: { Authorization: `Bearer ${TOKEN}` } });
}

async function published(n: RunningServer, body: unknown): Promise<PublishAnswer> {
  const res = await publish(n, body);
  const ans = await res.json();
  if (res.status !== 200) throw new Error(`publish on ${n.url}: ${res.status} ${JSON.stringify(ans)}`);
  return ans as PublishAnswer;
}

describe('published palettes through the shared log', () => {
  it('a publish through node A reaches node B\'s clients as the identical PATTERN_SWITCH, B\'s WELCOME and B\'s data dir', async () => {
    const canvas = t.canvas('patterns');
    const cfgB = musicConfig(canvas);
    const a = await node(musicConfig(canvas));
    const b = await node(cfgB);
    const onA = await listener(a);
    const onB = await listener(b);
    const before = Date.now();
    const ans = await published(a, file('one'));
    expect(ans.scope).toBe('cluster');
    expect(ans.beat % 4).toBe(0);
    expect(ans.time).toBeGreaterThanOrEqual(before + 2000 - 5);
    // B's client hears of it before its bar: the same beat and the same palette as A's client.
    const atB = await onB.peer.waitFor((m): m is Tempo => m.type === 'tempo' && m.next !== undefined, 1500);
    expect(Date.now()).toBeLessThan(ans.time);
    const atA = await onA.peer.waitFor((m): m is Tempo => m.type === 'tempo' && m.next !== undefined, 1500);
    expect(atB.next!.beat).toBe(ans.beat);
    expect(atB.next).toEqual(atA.next);
    expect(names(atB.next!.patterns).slice(0, 5)).toEqual(['silence', 'tick-one', 'tick-one', 'keys-one', 'keys-one']);
    expect(atB.tempoMap).toEqual(atA.tempoMap);
    expect(switches(onA.peer)).toHaveLength(1);
    expect(switches(onB.peer)).toHaveLength(1);
    // A client that connects to B now gets the pending switch in WELCOME, and /api/music says so.
    const late = await listener(b);
    expect(late.welcome.music!.next).toEqual(atA.next);
    expect((await (await fetch(`${b.url}/api/music`)).json()).next.beat).toBe(ans.beat);
    // B keeps the file as the one a restart plays.
    expect(JSON.parse(readFileSync(join(cfgB.dataDir!, PUBLISHED_PATTERNS_FILE), 'utf8'))).toEqual(file('one'));
    // From the bar on, both nodes play it.
    await until(() => Date.now() > ans.time + 50, 5000, 'the bar');
    for (const n of [a, b]) {
      const w = (await listener(n)).welcome;
      expect(w.music!.next).toBeUndefined();
      expect(w.music!.patterns).toEqual(atA.next!.patterns);
    }
  }, 30_000);

  it('a node that joins before the bar, and one that restarts after it (the stream trimmed past the publish), adopt it', async () => {
    const canvas = t.canvas('patterns-late');
    const a = await node(musicConfig(canvas, { redisStreamMax: 100 }));
    const cfgB = musicConfig(canvas, { redisStreamMax: 100 });
    let b = await node(cfgB);
    await until(() => b.cluster!.health().state === 'ok', 3000, 'b synced');
    await b.close();
    const ans = await published(a, file('late'));
    const c = await node(musicConfig(canvas));
    const atC = (await listener(c)).welcome.music!;
    expect(atC.next!.beat).toBe(ans.beat);
    expect(names(atC.next!.patterns).slice(1, 5)).toEqual(['tick-late', 'tick-late', 'keys-late', 'keys-late']);
    // Trim the stream past the publish's entry (one entry per tempo change), then let the bar pass.
    const r = new Redis(REDIS_URL);
    const publishSeq = Number(await r.hget(`pixel-canvas:{${canvas}}:patterns`, 'seq'));
    expect(publishSeq).toBeGreaterThan(0);
    for (let k = 0; k < 300; k++) await fetch(`${a.url}/api/admin/tempo`, { method: 'POST', body: '{"bpm":240}', headers: { Authorization: `Bearer ${TOKEN}` } });
    await a.cluster!.seam.writeSnapshot();
    const first = await r.xrange(`pixel-canvas:{${canvas}}:stream`, '-', '+', 'COUNT', 1);
    r.disconnect();
    expect(Number(first[0]![0].split('-')[0])).toBeGreaterThan(publishSeq);
    await until(() => Date.now() > ans.time + 50, 5000, 'the bar');
    b = await node(cfgB);
    const atB = (await listener(b)).welcome.music!;
    expect(atB.next).toBeUndefined();
    expect(atB.patterns).toEqual(atC.next!.patterns);
    expect(JSON.parse(readFileSync(join(cfgB.dataDir!, PUBLISHED_PATTERNS_FILE), 'utf8'))).toEqual(file('late'));
  }, 60_000);

  it('publishes posted to two nodes at once end as the same pending switch on both', async () => {
    const canvas = t.canvas('patterns-race');
    const a = await node(musicConfig(canvas));
    const b = await node(musicConfig(canvas));
    const onA = await listener(a);
    const onB = await listener(b);
    await Promise.all([published(a, file('a')), published(b, file('b'))]);
    const pending = (n: RunningServer) => JSON.stringify(n.conductor!.pendingSwitch);
    await until(() => pending(a) === pending(b), 2000, 'nodes agree');
    const last = (p: RawPeer) => JSON.stringify(switches(p).at(-1)?.next);
    await until(() => last(onA.peer) === last(onB.peer), 2000, 'clients agree');
    expect(['tick-a', 'tick-b']).toContain(a.conductor!.pendingSwitch!.patterns[1]!.name);
  }, 30_000);

  it('with Redis unreachable a publish is refused 503 with Retry-After, and nothing changes', async () => {
    const canvas = t.canvas('patterns-down');
    const a = await node(musicConfig(canvas, { redis: 'redis://127.0.0.1:1' }));
    const res = await publish(a, file('down'));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await res.json()).error).toBe('PATTERNS_UNAVAILABLE');
    expect(a.conductor!.pendingSwitch).toBeNull();
  }, 30_000);
});
