/**
 * Several nodes, one canvas, through the machine's real Redis: seeded painting, panning and reconnects to
 * other nodes end with every node's /canvas.png and every client's replica byte-identical; a client that
 * moves to another node resumes without re-downloading; one address painting through two nodes gets one
 * bucket. A failing seed prints itself (FUZZ_SEED=… reproduces it; CLUSTER_SEED still works).
 */
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CanvasClient, type WebSocketLike } from '../../src/client/canvas-client.js';
import { viewChunkRange } from '../../src/client/replica.js';
import { CHUNK_AREA } from '../../src/chunks/geometry.js';
import { ErrorCode, PROTOCOL_VERSION, encodeCursor, encodeHello, encodePlace, encodeViewport, type Cursors, type PlaceResult } from '../../src/net/protocol.js';
import type { RunningServer } from '../../src/server.js';
import { RawPeer, sleep, until } from '../helpers/server.js';
import { REDIS_URL } from '../helpers/redis.js';
import { clusterResources } from './cluster-resources.js';
import { prng } from '../../bench/prng.js';
import { withFuzzSeed } from '../helpers/fuzz-seed.js';

const t = clusterResources();

const FAST = { paintRate: 1e6, paintBurst: 1e6, messageRate: 1e6, messageBurst: 1e6, viewportHz: 1000, cursorHz: 1000, maxConnectionsPerIp: 1000 };

async function node(canvas: string, size: number, extra: Record<string, unknown> = {}): Promise<RunningServer> {
  return t.server({ redis: REDIS_URL, canvas, width: size, height: size, inMemory: false, dataDir: t.dir(), ...FAST, ...extra });
}

async function png(n: RunningServer): Promise<Buffer> {
  const res = await fetch(`${n.url}/canvas.png`);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

/** Every node's store holds the same pixels under the same versions. */
function sameStores(list: RunningServer[]): boolean {
  const a = list[0]!.store;
  for (const n of list.slice(1)) {
    const b = n.store;
    for (let cy = 0; cy < a.chunksY; cy++) for (let cx = 0; cx < a.chunksX; cx++) {
      if (a.version(cx, cy) !== b.version(cx, cy)) return false;
      const pa = a.chunkPixels(cx, cy), pb = b.chunkPixels(cx, cy);
      if ((pa === null) !== (pb === null)) {
        const p = pa ?? pb!;
        if (p.some((c) => c !== a.background)) return false;
      } else if (pa && pb && !Buffer.from(pa).equals(Buffer.from(pb))) return false;
    }
  }
  return true;
}

function replicaMatches(c: CanvasClient, n: RunningServer, size: number): boolean {
  const v = c.viewport;
  if (!v || c.state !== 'open') return false;
  const r = viewChunkRange(v.x, v.y, v.w, v.h, size, size);
  if (!r) return true;
  for (let cy = r.cy0; cy <= r.cy1; cy++) for (let cx = r.cx0; cx <= r.cx1; cx++) {
    const held = c.replica.chunk(cx, cy);
    if (!held || held.version !== n.store.version(cx, cy)) return false;
    const want = n.store.chunkPixels(cx, cy) ?? new Uint8Array(CHUNK_AREA).fill(n.store.background);
    if (!Buffer.from(held.pixels).equals(Buffer.from(want))) return false;
  }
  return true;
}

async function fuzz(seed: number, steps: number): Promise<void> {
  const random = prng(seed);
  const int = (k: number) => Math.floor(random() * k);
  const size = 256;
  const canvas = t.canvas('fuzz');
  const list = [await node(canvas, size), await node(canvas, size), await node(canvas, size)];
  const at: number[] = [];
  const sockets: WebSocket[] = [];
  const clients: CanvasClient[] = [];
  const n = 6;
  for (let i = 0; i < n; i++) {
    at[i] = i % list.length;
    const c = new CanvasClient({
      url: list[at[i]!]!.wsUrl, name: `c${i}`, minBackoffMs: 5, maxBackoffMs: 50,
      // Each (re)connection goes to the node this client is currently assigned to.
      socketFactory: () => {
        const ws = new WebSocket(list[at[i]!]!.wsUrl, { perMessageDeflate: false });
        sockets[i] = ws;
        return ws as unknown as WebSocketLike;
      },
    });
    clients.push(t.track(c));
    c.setViewport(int(size), int(size), 32 + int(160), 32 + int(160));
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
      c.placeMany(Array.from({ length: count }, (_, k) => ({ x: Math.min(size - 1, x + k), y: Math.min(size - 1, y), color: int(32) })));
    } else if (roll < 0.82) {
      c.setViewport(int(size) - 64, int(size) - 64, 32 + int(200), 32 + int(200));
    } else if (roll < 0.92) {
      at[i] = (at[i]! + 1 + int(list.length - 1)) % list.length; // to another node
      sockets[i]?.terminate();
    } else {
      await sleep(int(15));
    }
    if (step % 10 === 0) await sleep(1);
  }
  await until(() => clients.every((c) => c.state === 'open'), 5000, 'all clients reconnected');
  await until(() => sameStores(list), 10_000, `nodes to converge (seed ${seed})`);
  await until(() => clients.every((c, i) => replicaMatches(c, list[at[i]!]!, size)), 10_000, `replicas to converge (seed ${seed})`);
  // The node may still apply entries while /metrics is read: the gauge lies between the seqs before and after.
  const before = list[1]!.cluster!.seam.appliedSeq;
  const metrics = await (await fetch(`${list[1]!.url}/metrics`)).text();
  const after = list[1]!.cluster!.seam.appliedSeq;
  expect(metrics).toMatch(/^pixel_canvas_redis_up 1$/m);
  const gauge = Number(/^pixel_canvas_stream_applied_seq (\d+)$/m.exec(metrics)?.[1]);
  expect(gauge).toBeGreaterThanOrEqual(before);
  expect(gauge).toBeLessThanOrEqual(after);
  const pngs = await Promise.all(list.map(png));
  for (const p of pngs.slice(1)) expect(p.equals(pngs[0]!)).toBe(true);
  // The painting reached the canvas (the test asserts something that can fail).
  expect(list[0]!.store.allocatedChunks).toBeGreaterThan(0);

  // Moving a quiet client to another node costs no snapshot: versions mean the same on every node.
  const i = 0;
  const c = clients[i]!;
  let snapshots = 0;
  const off = c.on('snapshot', () => { snapshots++; });
  let opened = 0;
  const offOpen = c.on('open', () => { opened++; });
  at[i] = (at[i]! + 1) % list.length;
  sockets[i]!.terminate();
  await until(() => opened > 0 && c.state === 'open', 5000, 'client moved');
  await sleep(300);
  off();
  offOpen();
  expect(replicaMatches(c, list[at[i]!]!, size)).toBe(true);
  expect(snapshots).toBe(0);
}

describe('three nodes, one canvas (real Redis)', () => {
  it('seeded painting, panning and reconnects to other nodes converge byte for byte', async () => {
    await withFuzzSeed('cluster fuzz', (seed) => fuzz(seed, 300), { also: ['CLUSTER_SEED'] });
  }, 60_000);

  it('fixed seed 7 converges', async () => {
    await fuzz(7, 300);
  }, 60_000);

  it('one address painting through two nodes gets one bucket, not two', async () => {
    const canvas = t.canvas('bucket');
    const limits = { paintRate: 0.1, paintBurst: 10, messageRate: 1e6, messageBurst: 1e6 };
    const a = await node(canvas, 128, limits);
    const b = await node(canvas, 128, limits);
    const results: PlaceResult[] = [];
    const open = async (n: RunningServer) => {
      const p = new RawPeer(n.wsUrl);
      t.track(p);
      await p.opened;
      p.send(encodeHello(PROTOCOL_VERSION, 'greedy'));
      await p.waitFor((m) => m.type === 'welcome');
      return p;
    };
    const pa = await open(a);
    const pb = await open(b);
    // 10 single pixels through each node at once: each node's own bucket would allow all 20.
    for (let k = 0; k < 10; k++) {
      pa.send(encodePlace(k + 1, [{ x: k, y: 0, color: 1 }]));
      pb.send(encodePlace(k + 1, [{ x: k, y: 1, color: 2 }]));
    }
    for (const p of [pa, pb]) {
      await until(() => p.messages.filter((m) => m.type === 'placeResult').length === 10, 5000, 'all answers');
      results.push(...(p.messages.filter((m) => m.type === 'placeResult') as PlaceResult[]));
    }
    const ok = results.filter((r) => r.status === ErrorCode.OK).length;
    const limited = results.filter((r) => r.status === ErrorCode.RATE_LIMITED);
    // One bucket: 10 tokens, plus at most one refilled while the test ran (0.1 per second).
    expect(ok).toBeGreaterThanOrEqual(10);
    expect(ok).toBeLessThanOrEqual(11);
    expect(limited.length).toBe(20 - ok);
    for (const r of limited) expect(r.retryAfterMs).toBeGreaterThan(0);
    // And both nodes show exactly the accepted pixels.
    await until(() => sameStores([a, b]), 5000, 'nodes agree');
    let painted = 0;
    for (let k = 0; k < 10; k++) painted += (a.store.get(k, 0) !== 0 ? 1 : 0) + (a.store.get(k, 1) !== 0 ? 1 : 0);
    expect(painted).toBe(ok);
  }, 30_000);
});

describe('catch-up past a trimmed stream', () => {
  it('a node joining after the stream was trimmed starts from the snapshot and the stream after it', async () => {
    const canvas = t.canvas('trim');
    const a = await node(canvas, 128, { redisStreamMax: 100 });
    const p = new RawPeer(a.wsUrl);
    t.track(p);
    await p.opened;
    p.send(encodeHello(PROTOCOL_VERSION, 'trimmer'));
    await p.waitFor((m) => m.type === 'welcome');
    // One entry per answered PLACE: far more entries than MAXLEN ~ 100 keeps.
    const paint = async (from: number, to: number) => {
      for (let k = from; k < to; k++) {
        p.send(encodePlace(k, [{ x: k % 128, y: Math.floor(k / 128), color: 1 + (k % 20) }]));
        await p.waitFor((m) => m.type === 'placeResult' && m.seq === k, 3000);
      }
    };
    await paint(1, 400);
    await a.cluster!.seam.writeSnapshot();
    await paint(400, 450);
    // The second write only adds the chunks changed since the first (the snapshot is still at a's last seq).
    await a.cluster!.seam.writeSnapshot();
    await paint(450, 470);
    const { Redis } = await import('ioredis');
    const r = new Redis(REDIS_URL);
    expect(Number(await r.hget(`pixel-canvas:{${canvas}}:snapshot`, 'seq'))).toBeGreaterThanOrEqual(449);
    const first = await r.xrange(`pixel-canvas:{${canvas}}:stream`, '-', '+', 'COUNT', 1);
    r.disconnect();
    expect(Number(first[0]![0].split('-')[0])).toBeGreaterThan(1); // really trimmed
    const b = await node(canvas, 128, { redisStreamMax: 100 });
    await until(() => b.cluster!.health().appliedSeq === a.cluster!.health().appliedSeq, 5000, 'b caught up');
    await until(() => sameStores([a, b]), 5000, 'b converged');
    expect(a.store.get(469 % 128, Math.floor(469 / 128))).toBe(1 + (469 % 20));
    expect((await png(a)).equals(await png(b))).toBe(true);
  }, 30_000);
});

describe('catch-up past a trimmed stream, same generation', () => {
  it('a node restarting on its data dir after the stream was trimmed past its seq resyncs from the snapshot', async () => {
    const canvas = t.canvas('trim2');
    const a = await node(canvas, 128, { redisStreamMax: 100 });
    const dirB = t.dir();
    const cfgB = { redis: REDIS_URL, canvas, width: 128, height: 128, inMemory: false, dataDir: dirB, ...FAST, redisStreamMax: 100 };
    let b = await t.server(cfgB);
    const p = new RawPeer(a.wsUrl);
    t.track(p);
    await p.opened;
    p.send(encodeHello(PROTOCOL_VERSION, 'trimmer'));
    await p.waitFor((m) => m.type === 'welcome');
    const paint = async (from: number, to: number) => {
      for (let k = from; k < to; k++) {
        p.send(encodePlace(k, [{ x: k % 128, y: Math.floor(k / 128), color: 1 + (k % 20) }]));
        await p.waitFor((m) => m.type === 'placeResult' && m.seq === k, 3000);
      }
    };
    await paint(1, 20);
    await until(() => b.cluster!.health().appliedSeq === a.cluster!.health().appliedSeq, 5000, 'b in step');
    const epochB = b.room.epoch;
    await b.close();
    await paint(20, 420);
    await a.cluster!.seam.writeSnapshot();
    await paint(420, 440);
    b = await t.server(cfgB);
    expect(b.room.epoch).toBe(epochB); // same generation: clients keep their versions
    await until(() => b.cluster!.health().appliedSeq === a.cluster!.health().appliedSeq, 5000, 'b caught up');
    await until(() => sameStores([a, b]), 5000, 'b converged');
    expect((await png(a)).equals(await png(b))).toBe(true);
  }, 30_000);
});

describe('joining checks', () => {
  it('a node configured with another canvas size refuses to start, with one clear message', async () => {
    const canvas = t.canvas('shape');
    await node(canvas, 128);
    await expect(node(canvas, 256)).rejects.toThrow(/is 128x128x\d+x0 .*this node is 256x256/);
  }, 30_000);
});

describe('limits and presence across nodes', () => {
  it('the per-address connection cap counts connections on every node', async () => {
    const canvas = t.canvas('conn');
    const a = await node(canvas, 128, { maxConnectionsPerIp: 3 });
    const b = await node(canvas, 128, { maxConnectionsPerIp: 3 });
    const opened: RawPeer[] = [];
    const tryOpen = async (n: RunningServer) => {
      const p = new RawPeer(n.wsUrl);
      t.track(p);
      try {
        await p.opened;
        opened.push(p);
        return true;
      } catch {
        return false;
      }
    };
    expect(await tryOpen(a)).toBe(true);
    expect(await tryOpen(b)).toBe(true);
    expect(await tryOpen(a)).toBe(true);
    // Each node holds at most 2 of its own 3: only the shared count refuses these.
    expect(await tryOpen(b)).toBe(false);
    expect(await tryOpen(a)).toBe(false);
    opened[1]!.ws.close();
    await opened[1]!.closed;
    let again = false;
    for (let i = 0; i < 20 && !again; i++) {
      again = await tryOpen(b);
      if (!again) await sleep(50);
    }
    expect(again).toBe(true);
  }, 30_000);

  it('the online count spans nodes', async () => {
    const canvas = t.canvas('online');
    const a = await node(canvas, 128, { onlineIntervalMs: 50 });
    const b = await node(canvas, 128, { onlineIntervalMs: 50 });
    const open = async (n: RunningServer) => {
      const p = new RawPeer(n.wsUrl);
      t.track(p);
      await p.opened;
      p.send(encodeHello(PROTOCOL_VERSION, 'here'));
      return p;
    };
    const list = [await open(a), await open(a), await open(b)];
    for (const p of list) await p.waitFor((m) => m.type === 'online' && m.count === 3, 5000);
  }, 30_000);

  it('cursors span nodes: a viewer on one node sees a cursor moved on another, and sees it go', async () => {
    const canvas = t.canvas('cursors');
    const a = await node(canvas, 256);
    const b = await node(canvas, 256);
    const open = async (n: RunningServer, name: string) => {
      const p = new RawPeer(n.wsUrl);
      t.track(p);
      await p.opened;
      p.send(encodeHello(PROTOCOL_VERSION, name));
      p.send(encodeViewport(0, 0, 256, 256));
      await p.waitFor((m) => m.type === 'welcome');
      return p;
    };
    const viewer = await open(a, 'viewer');
    const mover = await open(b, 'mover');
    await sleep(100);
    mover.send(encodeCursor(100, 120));
    const seen = await viewer.waitFor((m): m is Cursors => m.type === 'cursors' && m.moved.some((c) => c.x === 100 && c.y === 120), 5000);
    const entry = seen.moved.find((c) => c.x === 100 && c.y === 120)!;
    expect(entry.name).toBe('mover');
    mover.ws.close();
    await viewer.waitFor((m) => m.type === 'cursors' && m.removed.includes(entry.id), 5000);
  }, 30_000);
});
