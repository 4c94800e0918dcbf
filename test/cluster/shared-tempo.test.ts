/**
 * Issue 26, point 5: a music canvas served by several nodes (--redis, the machine's real Redis) changes tempo
 * on every node at once. A change posted to one node reaches the other node's clients as the identical
 * TEMPO (same bar, same bpm, same start time) and the other node's WELCOME; two changes posted to two nodes
 * at once resolve the same way everywhere (log order decides); a node that joins or restarts after the
 * change — even past a stream trimmed beyond the change's entry — learns the map in force.
 */
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { PROTOCOL_VERSION, encodeHello, encodePlace, type ServerMessage, type Tempo, type Welcome } from '../../src/net/protocol.js';
import { beatAt, type TempoSegment } from '../../src/music/tempo-map.js';
import type { RunningServer } from '../../src/server.js';
import type { ServerConfig } from '../../src/config.js';
import { RawPeer, until } from '../helpers/server.js';
import { REDIS_URL } from '../helpers/redis.js';
import { clusterResources } from './cluster-resources.js';
import { prng } from '../../bench/prng.js';
import { withFuzzSeed } from '../helpers/fuzz-seed.js';

const t = clusterResources();
const TOKEN = 'shared-tempo-admin-token-0123456789';
const FAST = { paintRate: 1e6, paintBurst: 1e6, messageRate: 1e6, messageBurst: 1e6 };

function musicConfig(canvas: string, extra: Partial<ServerConfig> = {}): Partial<ServerConfig> {
  return { mode: 'music', redis: REDIS_URL, canvas, width: 128, height: 128, inMemory: false, dataDir: t.dir(), tempo: 120, ...FAST, ...extra };
}

function node(canvas: string, extra: Partial<ServerConfig> = {}): Promise<RunningServer> {
  return t.server(musicConfig(canvas, extra), { adminToken: TOKEN });
}

async function listener(n: RunningServer): Promise<RawPeer> {
  const p = t.track(new RawPeer(n.wsUrl));
  await p.opened;
  p.send(encodeHello(PROTOCOL_VERSION, 'listener'));
  await p.waitFor((m) => m.type === 'welcome');
  return p;
}

const welcomeMap = async (n: RunningServer): Promise<TempoSegment[]> =>
  ((await (await listener(n)).waitFor((m): m is Welcome => m.type === 'welcome')).music!.tempoMap);

const tempos = (p: RawPeer): Tempo[] => p.messages.filter((m: ServerMessage): m is Tempo => m.type === 'tempo');

interface TempoAnswer { startBeat: number; startTime: number; bpm: number; tempoMap: TempoSegment[] }

async function postTempo(n: RunningServer, bpm: number): Promise<TempoAnswer> {
  const res = await fetch(`${n.url}/api/admin/tempo`, {
    method: 'POST', body: JSON.stringify({ bpm }), headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`tempo ${bpm} on ${n.url}: ${res.status} ${JSON.stringify(body)}`);
  return body as TempoAnswer;
}

describe('tempo changes through the shared log', () => {
  it('a change posted to node A reaches node B\'s clients as the identical TEMPO, and B\'s WELCOME', async () => {
    const canvas = t.canvas('tempo');
    const a = await node(canvas);
    const b = await node(canvas);
    const onA = await listener(a);
    const onB = await listener(b);
    const before = Date.now();
    const ans = await postTempo(a, 90);
    expect(ans.bpm).toBe(90);
    expect(ans.startBeat % 4).toBe(0);
    expect(ans.startTime).toBeGreaterThanOrEqual(before + 2000 - 5);
    // B's client hears of it before it takes effect: the whole map, the same numbers to the bit.
    const onBTempo = await onB.waitFor((m): m is Tempo => m.type === 'tempo', 1500);
    expect(Date.now()).toBeLessThan(ans.startTime);
    expect(onBTempo.tempoMap).toEqual(ans.tempoMap);
    expect(onBTempo.tempoMap.at(-1)).toEqual({ startBeat: ans.startBeat, startTime: ans.startTime, bpm: 90 });
    expect((await onA.waitFor((m): m is Tempo => m.type === 'tempo', 1500)).tempoMap).toEqual(ans.tempoMap);
    expect(b.conductor!.tempoMap).toEqual(a.conductor!.tempoMap);
    expect(await welcomeMap(b)).toEqual(ans.tempoMap);
    expect((await (await fetch(`${b.url}/api/music`)).json()).tempoMap).toEqual(ans.tempoMap);
    // Each node told its clients once.
    expect(tempos(onA)).toHaveLength(1);
    expect(tempos(onB)).toHaveLength(1);
    // The change is audited on the node that got it.
    const audit = await (await fetch(`${a.url}/api/admin/audit`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json();
    expect(audit.entries[0]).toMatchObject({ action: 'tempo', detail: { bpm: 90, startBeat: ans.startBeat } });
  }, 30_000);

  it('changes posted to two nodes at once resolve the same way on both (seeded rounds)', async () => {
    const canvas = t.canvas('tempo-race');
    const a = await node(canvas);
    const b = await node(canvas);
    const onA = await listener(a);
    const onB = await listener(b);
    await withFuzzSeed('TEMPO_RACE', async (seed) => {
      const random = prng(seed);
      for (let round = 0; round < 6; round++) {
        const bpmA = 40 + Math.floor(random() * 200);
        const bpmB = 40 + Math.floor(random() * 200);
        const [ansA, ansB] = await Promise.all([postTempo(a, bpmA), postTempo(b, bpmB)]);
        // Both are in the log now; the one that landed last is held by its own node already, and every node
        // and client must end with it: the later change computed on top of the earlier (which it replaced,
        // as it had not started yet).
        const segOf = (x: TempoAnswer) => JSON.stringify({ startBeat: x.startBeat, startTime: x.startTime, bpm: x.bpm });
        const lastOf = (n: RunningServer) => JSON.stringify(n.conductor!.tempoMap.at(-1));
        const what = `seed ${seed} round ${round} (${bpmA} on A, ${bpmB} on B)`;
        await until(() => lastOf(a) === lastOf(b) && JSON.stringify(a.conductor!.tempoMap) === JSON.stringify(b.conductor!.tempoMap),
          2000, `${what}: nodes agree`);
        const winner = [ansA, ansB].find((x) => segOf(x) === lastOf(a));
        expect(winner, `${what}: the map held is one of the two changes`).toBeDefined();
        expect(a.conductor!.tempoMap, what).toEqual(winner!.tempoMap);
        expect(winner!.tempoMap, what).toHaveLength(2);
        const final = JSON.stringify(winner!.tempoMap);
        await until(() => [onA, onB].every((p) => JSON.stringify(tempos(p).at(-1)?.tempoMap) === final), 2000, `${what}: clients agree`);
        expect(await welcomeMap(a), what).toEqual(winner!.tempoMap);
        expect(await welcomeMap(b), what).toEqual(winner!.tempoMap);
      }
    });
  }, 60_000);

  it('a node that restarts, and one that joins, after the change (the stream trimmed past it) learn the map in force', async () => {
    const canvas = t.canvas('tempo-late');
    const a = await node(canvas, { redisStreamMax: 100 });
    const cfgB = musicConfig(canvas, { redisStreamMax: 100 });
    let b = await t.server(cfgB, { adminToken: TOKEN });
    await until(() => b.cluster!.health().state === 'ok', 3000, 'b synced');
    await b.close();
    const ans = await postTempo(a, 75);
    const r = new Redis(REDIS_URL);
    const tempoSeq = Number(await r.hget(`pixel-canvas:{${canvas}}:tempo`, 'seq'));
    expect(tempoSeq).toBeGreaterThan(0);
    // One stream entry per answered PLACE: far more than MAXLEN ~ 100 keeps, so the tempo entry is trimmed.
    const p = await listener(a);
    for (let k = 1; k < 400; k++) {
      p.send(encodePlace(k, [{ x: k % 128, y: Math.floor(k / 128), color: 1 + (k % 5) }]));
      await p.waitFor((m) => m.type === 'placeResult' && m.seq === k, 3000);
    }
    await a.cluster!.seam.writeSnapshot();
    const first = await r.xrange(`pixel-canvas:{${canvas}}:stream`, '-', '+', 'COUNT', 1);
    r.disconnect();
    expect(Number(first[0]![0].split('-')[0])).toBeGreaterThan(tempoSeq); // really trimmed past the change

    // b restarts on its data dir (behind the trimmed stream), c is new; both started with another --tempo.
    b = await t.server({ ...cfgB, tempo: 200 }, { adminToken: TOKEN });
    const c = await node(canvas, { redisStreamMax: 100, tempo: 60 });
    // The change may have started by now, and a map drops the segments that ended: compare what it plays.
    const playsLike = (map: readonly TempoSegment[], ref: readonly TempoSegment[]) => {
      expect(map.at(-1)).toEqual(ref.at(-1));
      // From now on (a pruned map says nothing of the past it dropped): just before the change, if still ahead, and after.
      const now = Date.now();
      for (const at of [now, Math.max(now, ref.at(-1)!.startTime - 1), ref.at(-1)!.startTime + 5000]) expect(beatAt(map, at)).toBeCloseTo(beatAt(ref, at), 6);
    };
    for (const n of [b, c]) {
      playsLike(n.conductor!.tempoMap, ans.tempoMap);
      playsLike(await welcomeMap(n), ans.tempoMap);
      await until(() => n.cluster!.health().appliedSeq === a.cluster!.health().appliedSeq, 5000, 'caught up');
    }
    // And the next change, posted to the late joiner, reaches the first node.
    const onA = await listener(a);
    const next = await postTempo(c, 130);
    expect((await onA.waitFor((m): m is Tempo => m.type === 'tempo', 1500)).tempoMap).toEqual(next.tempoMap);
    // Computed on top of the shared map, not c's own --tempo: up to the new bar the beat is the shared map's.
    for (const at of [Date.now(), next.startTime - 1]) expect(beatAt(next.tempoMap, at)).toBeCloseTo(beatAt(ans.tempoMap, at), 6);
  }, 60_000);

  it('with Redis unreachable a change is refused 503 with Retry-After, and nothing changes', async () => {
    const canvas = t.canvas('tempo-down');
    const a = await node(canvas, { redis: 'redis://127.0.0.1:1' });
    const res = await fetch(`${a.url}/api/admin/tempo`, { method: 'POST', body: '{"bpm":100}', headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await res.json()).error).toBe('TEMPO_UNAVAILABLE');
    expect(a.conductor!.tempoMap).toHaveLength(1);
  }, 30_000);
});
