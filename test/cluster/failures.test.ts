/**
 * Failures of a multi-node canvas, with real processes: kill -9 of one node (a child process) under
 * painting loses no acknowledged placement and it converges after a restart; a Redis (our own
 * redis-server on a free port, never the machine's) that dies and comes back — with its data (AOF) or
 * without — makes nodes refuse placements with PLACEMENTS_UNAVAILABLE, not hang or crash, and converge after.
 */
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CHUNK_AREA } from '../../src/chunks/geometry.js';
import { CanvasClient, type WebSocketLike } from '../../src/client/canvas-client.js';
import { decodeSnapshotPixels } from '../../src/chunks/snapshot-codec.js';
import { ErrorCode, PROTOCOL_VERSION, encodeHello, encodePlace, encodeViewport, type PlaceResult } from '../../src/net/protocol.js';
import type { RunningServer } from '../../src/server.js';
import { RawPeer, sleep, startChildServer, until, type ChildServer } from '../helpers/server.js';
import { OwnRedis, REDIS_URL, freePort, uniqueCanvas } from '../helpers/redis.js';
import { clusterResources } from './cluster-resources.js';

const SIZE = 256;
const t = clusterResources();

function tempDir(): string {
  return t.dir('pc-cluster-fail-');
}

const FAST = ['--width', String(SIZE), '--height', String(SIZE), '--paint-rate', '1000000', '--paint-burst', '1000000',
  '--message-rate', '1000000', '--message-burst', '1000000', '--max-connections-per-ip', '100'];

async function child(canvas: string, dir: string, url = REDIS_URL): Promise<ChildServer> {
  return t.child(await startChildServer(['--redis', url, '--canvas', canvas, '--data-dir', dir, ...FAST]));
}

/** The whole canvas (palette indices) as a new client on `wsUrl` sees it. */
async function readCanvas(wsUrl: string, versions: string[] = []): Promise<Uint8Array> {
  const p = new RawPeer(wsUrl);
  t.track(p);
  await p.opened;
  p.send(encodeHello(PROTOCOL_VERSION, 'reader'));
  p.send(encodeViewport(0, 0, SIZE, SIZE));
  const chunks = (SIZE / 64) ** 2;
  await until(() => p.messages.filter((m) => m.type === 'snapshot').length >= chunks, 5000, 'all snapshots');
  const canvas = new Uint8Array(SIZE * SIZE);
  const px = new Uint8Array(CHUNK_AREA);
  for (const m of p.messages) {
    if (m.type !== 'snapshot') continue;
    versions.push(`${m.cx},${m.cy}:${m.version}`);
    decodeSnapshotPixels(m.encoding, m.data, 0, px);
    for (let i = 0; i < CHUNK_AREA; i++) canvas[(m.cy * 64 + (i >> 6)) * SIZE + m.cx * 64 + (i & 63)] = px[i]!;
  }
  p.ws.terminate();
  return canvas;
}

async function png(url: string): Promise<Buffer> {
  const res = await fetch(`${url}/canvas.png`);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

/**
 * A painter on one node: placement k goes to its own pixel (row band `band`), never repainted, so every
 * acknowledged one must still be visible at the end. Records what was acknowledged and how others ended.
 */
class Painter {
  readonly peer: RawPeer;
  readonly acked = new Map<number, { x: number; y: number; color: number }>();
  readonly statuses = new Map<number, number>();
  private readonly sent = new Map<number, { x: number; y: number; color: number }>();
  private k = 0;
  private seen = 0;
  constructor(wsUrl: string, private readonly band: number) {
    this.peer = new RawPeer(wsUrl);
    t.track(this.peer);
  }
  async open(): Promise<void> {
    await this.peer.opened;
    this.peer.send(encodeHello(PROTOCOL_VERSION, `painter${this.band}`));
    await this.peer.waitFor((m) => m.type === 'welcome');
  }
  paint(): void {
    if (this.peer.closeCode !== null) return;
    const k = ++this.k;
    const px = { x: k % SIZE, y: this.band * 16 + Math.floor(k / SIZE), color: 1 + (k % 30) };
    this.sent.set(k, px);
    this.peer.send(encodePlace(k, [px]));
  }
  collect(): void {
    const msgs = this.peer.messages;
    for (; this.seen < msgs.length; this.seen++) {
      const m = msgs[this.seen]!;
      if (m.type !== 'placeResult') continue;
      this.statuses.set(m.seq, m.status);
      if (m.status === ErrorCode.OK) this.acked.set(m.seq, this.sent.get(m.seq)!);
    }
  }
}

function expectAllAcked(canvas: Uint8Array, painters: Painter[]): void {
  let n = 0;
  for (const p of painters) {
    p.collect();
    for (const px of p.acked.values()) {
      n++;
      if (canvas[px.y * SIZE + px.x] !== px.color) throw new Error(`acknowledged (${px.x}, ${px.y}) colour ${px.color} lost`);
    }
  }
  expect(n).toBeGreaterThan(0);
}

describe('multi-node failures', () => {
  it('kill -9 of one node under painting: nothing acknowledged is lost, the others serve on, it converges after restart', async () => {
    const canvas = t.canvas('kill');
    const d = [tempDir(), tempDir(), tempDir()];
    const a = await child(canvas, d[0]!);
    const b = await child(canvas, d[1]!);
    let c = await child(canvas, d[2]!);
    const painters = [new Painter(a.wsUrl, 0), new Painter(b.wsUrl, 1), new Painter(c.wsUrl, 2)];
    for (const p of painters) await p.open();
    // Paint on all three until the doomed node has acknowledged some, kill it mid-stream, and keep painting
    // on the others until each has acknowledged 50 more (bounded: a loaded machine is slow, not wrong).
    const deadline0 = Date.now() + 20_000;
    const acked = () => { for (const p of painters) p.collect(); return painters.map((p) => p.acked.size); };
    while (acked()[2]! < 20 && Date.now() < deadline0) {
      for (const p of painters) p.paint();
      await sleep(3);
    }
    for (let i = 0; i < 5; i++) painters[2]!.paint(); // in flight at the kill: answered or not, never half-applied
    c.proc.kill('SIGKILL');
    const [a0, b0] = acked();
    while ((acked()[0]! < a0! + 50 || acked()[1]! < b0! + 50) && Date.now() < deadline0) {
      for (const p of painters.slice(0, 2)) p.paint();
      await sleep(3);
    }
    await sleep(500);
    for (const p of painters) p.collect();
    // The survivors kept serving and accepting.
    expect(painters[0]!.acked.size).toBeGreaterThanOrEqual(a0! + 50);
    expect(painters[1]!.acked.size).toBeGreaterThanOrEqual(b0! + 50);
    expect(painters[2]!.acked.size).toBeGreaterThanOrEqual(20);
    c = await child(canvas, d[2]!);
    const urls = [a, b, c];
    let pngs: Buffer[] = [];
    const deadline = Date.now() + 15_000;
    for (;;) {
      pngs = await Promise.all(urls.map((u) => png(u.url)));
      if (pngs.every((p) => p.equals(pngs[0]!))) break;
      if (Date.now() > deadline) {
        const h = await Promise.all(urls.map(async (u) => (await fetch(`${u.url}/healthz`)).text()));
        const cv = await Promise.all(urls.map((u) => readCanvas(u.wsUrl)));
        const diffs: string[] = [];
        for (let i = 0; i < SIZE * SIZE && diffs.length < 10; i++) if (cv[0]![i] !== cv[2]![i] || cv[0]![i] !== cv[1]![i]) diffs.push(`${i % SIZE},${Math.floor(i / SIZE)}: ${cv[0]![i]} ${cv[1]![i]} ${cv[2]![i]}`);
        throw new Error(`nodes did not converge after the restart: ${h.join('\n')}\n${diffs.join('\n')}\n${c.stderr()}`);
      }
      await sleep(100);
    }
    const versions: string[][] = [];
    for (const u of urls) {
      const v: string[] = [];
      expectAllAcked(await readCanvas(u.wsUrl, v), painters);
      versions.push(v.sort());
    }
    // The restarted node (kill -9: its chunk versions come from its SQLite checkpoint) names chunks as the others do.
    expect(versions[2]).toEqual(versions[0]);
    expect(versions[1]).toEqual(versions[0]);
  }, 60_000);

  for (const persistent of [true, false]) {
    it(`Redis killed and restarted ${persistent ? 'with its AOF' : 'empty (no persistence)'}: placements refused meanwhile, no crash, convergence after`, async () => {
      const redis = new OwnRedis(await freePort(), persistent);
      t.redis(redis);
      await redis.start();
      const canvas = uniqueCanvas('redis');
      const size = { width: SIZE, height: SIZE, paintRate: 1e6, paintBurst: 1e6, messageRate: 1e6, messageBurst: 1e6 };
      const nodes: RunningServer[] = [];
      for (let i = 0; i < 2; i++) {
        nodes.push(await t.server({ redis: redis.url, canvas, inMemory: false, dataDir: tempDir(), ...size }));
      }
      const [a, b] = nodes as [RunningServer, RunningServer];
      const painters = [new Painter(a.wsUrl, 0), new Painter(b.wsUrl, 1)];
      for (const p of painters) await p.open();
      // Viewers holding a replica of the whole canvas, one per node: they must end equal to their node.
      const viewers = [a, b].map((n) => {
        const c = new CanvasClient({ url: n.wsUrl, minBackoffMs: 20, maxBackoffMs: 200,
          socketFactory: (u) => new WebSocket(u, { perMessageDeflate: false }) as unknown as WebSocketLike });
        c.setViewport(0, 0, SIZE, SIZE);
        c.connect();
        return c;
      });
      for (const v of viewers) t.track(v);
      for (let i = 0; i < 40; i++) {
        for (const p of painters) p.paint();
        await sleep(5);
      }
      await until(() => { for (const p of painters) p.collect(); return painters.every((p) => p.statuses.size === 40); }, 5000, 'answers');

      await redis.kill();
      await until(() => a.cluster!.health().state === 'down' && b.cluster!.health().state === 'down', 5000, 'nodes see Redis down');
      const health = await (await fetch(`${a.url}/healthz`)).json() as { status: string; redis: { state: string } };
      expect(health.status).toBe('ok');
      expect(health.redis.state).toBe('down');
      // Painting while Redis is gone: refused at once with the documented code, never hanging.
      const before = painters[0]!.statuses.size;
      const t0 = Date.now();
      for (let i = 0; i < 10; i++) painters[0]!.paint();
      await until(() => { painters[0]!.collect(); return painters[0]!.statuses.size === before + 10; }, 3000, 'refusals');
      expect(Date.now() - t0).toBeLessThan(1500); // at once: below the 2 s command timeout, so never waiting on it
      const refused = [...painters[0]!.statuses.entries()].filter(([seq]) => seq > 40).map(([, s]) => s);
      expect(refused.every((s) => s === ErrorCode.PLACEMENTS_UNAVAILABLE)).toBe(true);
      // Still serving what they hold.
      expect((await png(a.url)).length).toBeGreaterThan(0);
      const answer = painters[0]!.peer.messages.filter((m): m is PlaceResult => m.type === 'placeResult').at(-1)!;
      expect(answer.retryAfterMs).toBeGreaterThan(0);

      await redis.start();
      await until(() => a.cluster!.health().state === 'ok' && b.cluster!.health().state === 'ok' &&
        a.cluster!.seam.epoch === b.cluster!.seam.epoch && a.cluster!.seam.appliedSeq === b.cluster!.seam.appliedSeq, 10_000, 'nodes see Redis back');
      if (!persistent) {
        // Redis came back empty: one node re-seeded it under a new epoch and the other resynced to it, closing
        // its clients (1013) so they reload; exactly the resynced node's painter is disconnected.
        await until(() => painters.some((p) => p.peer.closeCode !== null), 5000, 'the resynced node closes its clients');
        expect(painters.filter((p) => p.peer.closeCode === 1013).length).toBe(1);
      }
      // Painting after recovery, on fresh connections (bands 2 and 3): accepted again…
      const after = [new Painter(a.wsUrl, 2), new Painter(b.wsUrl, 3)];
      for (const p of after) await p.open();
      for (let i = 0; i < 40; i++) {
        for (const p of after) p.paint();
        await sleep(5);
      }
      await until(() => { for (const p of after) p.collect(); return after.every((p) => p.statuses.size >= 40); }, 5000, 'answers after');
      const okAfter = [...after[1]!.statuses.values()].filter((s) => s === ErrorCode.OK).length;
      expect(okAfter).toBeGreaterThan(30);
      painters.push(...after);
      // …and both nodes converge, holding every acknowledged placement.
      await until(() => {
        const sa = a.store, sb = b.store;
        for (let cy = 0; cy < sa.chunksY; cy++) for (let cx = 0; cx < sa.chunksX; cx++) {
          if (sa.version(cx, cy) !== sb.version(cx, cy)) return false;
        }
        return true;
      }, 10_000, 'versions agree');
      const [pa, pb] = [await png(a.url), await png(b.url)];
      expect(pa.equals(pb)).toBe(true);
      expectAllAcked(await readCanvas(a.wsUrl), painters);
      expectAllAcked(await readCanvas(b.wsUrl), painters);
      // Every viewer's replica equals its node's canvas (after a new generation, by reconnecting and reloading).
      const matches = (c: CanvasClient, n: RunningServer) => {
        if (c.state !== 'open') return false;
        for (let cy = 0; cy < SIZE / 64; cy++) for (let cx = 0; cx < SIZE / 64; cx++) {
          const held = c.replica.chunk(cx, cy);
          const want = n.store.chunkPixels(cx, cy) ?? new Uint8Array(CHUNK_AREA);
          if (!held || held.version !== n.store.version(cx, cy) || !Buffer.from(held.pixels).equals(Buffer.from(want))) return false;
        }
        return true;
      };
      await until(() => matches(viewers[0]!, a) && matches(viewers[1]!, b), 10_000, 'viewers match their nodes');
    }, 60_000);
  }

  it('a node started while Redis is unreachable serves what it holds, refuses placements, and joins once Redis is up', async () => {
    const redis = new OwnRedis(await freePort(), true);
    t.redis(redis);
    const canvas = uniqueCanvas('late');
    const t0 = Date.now();
    const n = await t.server({ redis: redis.url, canvas, inMemory: false, dataDir: tempDir(), width: SIZE, height: SIZE });
    expect(Date.now() - t0).toBeLessThan(10_000); // started, not stuck waiting for Redis
    expect(n.cluster!.health().state).not.toBe('ok');
    expect((await png(n.url)).length).toBeGreaterThan(0);
    const p = new Painter(n.wsUrl, 0);
    await p.open();
    p.paint();
    await until(() => { p.collect(); return p.statuses.size === 1; }, 3000, 'answer');
    expect(p.statuses.get(1)).toBe(ErrorCode.PLACEMENTS_UNAVAILABLE);
    await redis.start();
    await until(() => n.cluster!.health().state === 'ok', 10_000, 'joined');
    p.paint();
    await until(() => { p.collect(); return p.statuses.size === 2; }, 3000, 'answer');
    expect(p.statuses.get(2)).toBe(ErrorCode.OK);
  }, 30_000);

  it('a failed local commit (disk error) is retried: the node still converges and its SQLite ends complete', async () => {
    const canvas = t.canvas('diskfail');
    const cfg = { redis: REDIS_URL, canvas, width: SIZE, height: SIZE, inMemory: false, paintRate: 1e6, paintBurst: 1e6, messageRate: 1e6, messageBurst: 1e6 };
    const a = await t.server({ ...cfg, dataDir: tempDir() });
    const dirB = tempDir();
    let b = await t.server({ ...cfg, dataDir: dirB });
    // B's disk fails for its next three commits (ClusterStorage → SqliteStorage.commit throws).
    const inner = (b.storage as unknown as { inner: { commit(batch: unknown): void } }).inner;
    const realCommit = inner.commit.bind(inner);
    let failures = 3;
    inner.commit = (batch) => {
      if (failures > 0) { failures--; throw new Error('disk I/O error (test)'); }
      realCommit(batch);
    };
    const p = new Painter(a.wsUrl, 0);
    await p.open();
    for (let i = 0; i < 30; i++) { p.paint(); await sleep(5); }
    await until(() => { p.collect(); return p.statuses.size === 30; }, 5000, 'answers');
    expect([...p.statuses.values()].every((s) => s === ErrorCode.OK)).toBe(true);
    await until(() => failures === 0 && b.cluster!.health().appliedSeq === a.cluster!.health().appliedSeq, 10_000, 'b retried and caught up');
    expect((await png(a.url)).equals(await png(b.url))).toBe(true);
    // Everything reached B's SQLite: a restart on the same data dir (Redis stream aside) holds every pixel.
    await b.close();
    b = await t.server({ ...cfg, dataDir: dirB, redis: 'redis://127.0.0.1:1' }); // Redis unreachable: local state only
    expectAllAcked(await readCanvas(b.wsUrl), [p]);
  }, 30_000);
});
