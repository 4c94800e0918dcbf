/**
 * Does a crowd panning a huge canvas make the server hold its snapshot streams in memory? (issue 24, defect 8:
 * twenty sockets moving a 4096² viewport every message on a 65536² canvas, reading what they got, once grew RSS
 * by 533 MB and put /healthz's worst at 433 ms.) What bounds it is --global-buffer-bytes: what every socket
 * holds unsent plus what a tick queues, across all clients (src/realtime/client-write.ts).
 *
 * On the real server as a child process (65536² canvas, SQLite in a temp dir, a region of noisy chunks seeded
 * as checkpoints before it starts), raw WebSocket clients send a new viewport at a random place in that region
 * on every message they get, and read everything. /healthz is probed every 10 ms and the server's RSS read from
 * /proc. Runs with the default --global-buffer-bytes and with 4 GiB (no global bound), alternately, twice each;
 * then the same pair with the per-client high-water mark raised, so that only the global bound can bind (with
 * the defaults, 20 clients' per-client marks already add up to less than it). Quick mode: the first pair once.
 *
 * BENCH_SERVER_ENTRY=path/to/main.js runs it against another build (e.g. an older commit) for comparison.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { DEFAULTS } from '../src/config.js';
import { CHUNK_AREA, CHUNK_SIZE } from '../src/chunks/geometry.js';
import { Op, PROTOCOL_VERSION, encodeHello, encodeViewport } from '../src/net/protocol.js';
import { ourServerArgs, serverEntry, spawnNodeServer } from '../loadtest/server-child.js';
import { SERVER_NODE_FLAGS } from '../src/node-flags.js';
import { prng } from './prng.js';

const pct = (s: number[], p: number) => (s.length ? [...s].sort((a, b) => a - b)[Math.min(s.length - 1, Math.floor(s.length * p))]! : NaN);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SIDE = 65536;
const MiB = 2 ** 20;
/** "No global bound": far above anything the clients can be sent in a run. */
const UNBOUNDED = String(4 * 2 ** 30);
/**
 * The server's defaults against no global bound; then the same with per-client marks raised (high-water
 * 16 MiB), where 20 clients' marks add up to far more than --global-buffer-bytes and only it holds the crowd.
 */
const CONFIGS: Array<{ name: string; args: string[] }> = [
  { name: `defaults (global ${DEFAULTS.globalBufferBytes / MiB} MiB)`, args: [] },
  { name: 'global 4 GiB', args: ['--global-buffer-bytes', UNBOUNDED] },
  ...[DEFAULTS.globalBufferBytes, Number(UNBOUNDED)].map((g) => ({
    name: `high-water 16 MiB, global ${g < 2 ** 30 ? `${g / MiB} MiB` : `${g / 2 ** 30} GiB`}`,
    args: ['--high-water-bytes', String(16 * MiB), '--hard-limit-bytes', String(64 * MiB), '--global-buffer-bytes', String(g)],
  })),
];

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/**
 * Checkpoints `painted` chunks of noise (one colour of 16 per pixel: RAW snapshots, 4 KB each), picked at random
 * in the top-left `regionChunks`² chunks, straight into the database: no log rows, so seeding takes a second.
 * It is written by the storage code of the server that will read it (`entry`'s build), whose schema may be older.
 */
async function seed(entry: string, dataDir: string, regionChunks: number, painted: number): Promise<void> {
  const from = (file: string) => import(pathToFileURL(join(dirname(entry), file)).href);
  const { openSqliteStorage } = await from('storage/sqlite-storage.js') as typeof import('../src/storage/sqlite-storage.js');
  const { ChunkStore } = await from('chunks/chunk-store.js') as typeof import('../src/chunks/chunk-store.js');
  const storage = openSqliteStorage({ dataDir, synchronous: 'NORMAL' });
  const store = new ChunkStore({ width: SIDE, height: SIDE, paletteSize: 32 });
  storage.load(store);
  const rnd = prng(8);
  const keys = new Set<number>();
  while (keys.size < Math.min(painted, regionChunks * regionChunks)) keys.add((rnd() * regionChunks * regionChunks) | 0);
  const pixels = new Uint8Array(CHUNK_AREA);
  for (const k of keys) {
    for (let i = 0; i < CHUNK_AREA; i++) pixels[i] = 1 + ((rnd() * 15) | 0);
    store.loadChunk(k % regionChunks, Math.floor(k / regionChunks), pixels, 1);
  }
  storage.close(store);
}

/** nodejs_eventloop_lag_{max,p99}_seconds from /metrics, in ms; scraping resets them. */
async function loopDelay(url: string): Promise<{ max: number; p99: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const get = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  return { max: get('nodejs_eventloop_lag_max_seconds'), p99: get('nodejs_eventloop_lag_p99_seconds') };
}

interface Pan {
  clients: number;
  /** Side of each viewport, pixels, and of the region (top-left of the canvas) the viewports land in. */
  view: number;
  region: number;
  ms: number;
}

interface FloodResult {
  snapshotMB: number;
  receivedMB: number;
  viewportsSent: number;
  /** Clients the server closed during the run (TOO_SLOW or otherwise). */
  closedByServer: number;
  rssStartMB: number;
  rssGrowthMB: number;
  healthzP50Ms: number;
  healthzP99Ms: number;
  healthzMaxMs: number;
  healthzProbes: number;
  healthzFailures: number;
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
}

/** One client: HELLO, then a new viewport for every message it gets, until `stop` is set. */
function panner(wsUrl: string, i: number, p: Pan, tally: { snapshot: number; received: number; viewports: number; closed: number }, stopped: () => boolean): Promise<WebSocket> {
  const rnd = prng(1000 + i);
  const place = () => Math.floor(rnd() * Math.max(1, p.region - p.view));
  const next = () => encodeViewport(place(), place(), p.view, p.view);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    ws.once('open', () => {
      ws.send(encodeHello(PROTOCOL_VERSION, `pan${i}`));
      ws.send(next());
      tally.viewports++;
      resolve(ws);
    });
    ws.once('error', reject);
    ws.on('close', () => { if (!stopped()) tally.closed++; });
    ws.on('message', (data: Buffer) => {
      tally.received += data.length;
      // Step over the messages by their headers (op u8, body length u16): only snapshots are counted.
      for (let at = 0; at + 3 <= data.length; at += 3 + data.readUInt16LE(at + 1)) {
        if (data[at] === Op.SNAPSHOT) tally.snapshot += 3 + data.readUInt16LE(at + 1);
      }
      if (!stopped() && ws.readyState === WebSocket.OPEN) {
        ws.send(next());
        tally.viewports++;
      }
    });
  });
}

async function flood(entry: string, dataDir: string, flags: string[], p: Pan): Promise<FloodResult> {
  const server = await spawnNodeServer(entry, ourServerArgs({
    width: SIDE, height: SIDE,
    extraArgs: ['--no-in-memory', '--data-dir', dataDir, ...flags],
  }), { nodeArgs: [...SERVER_NODE_FLAGS] });
  try {
    const wsUrl = `${server.url.replace('http', 'ws')}/ws`;
    await sleep(300);
    await loopDelay(server.url);
    const rss0 = rssBytes(server.pid);
    let rssPeak = rss0;
    const health: number[] = [];
    let failures = 0;
    let running = true;
    const prober = (async () => {
      while (running) {
        const t0 = performance.now();
        try {
          await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.arrayBuffer());
          health.push(performance.now() - t0);
        } catch {
          failures++;
        }
        if (!server.exited) rssPeak = Math.max(rssPeak, rssBytes(server.pid));
        await sleep(10);
      }
    })();
    const tally = { snapshot: 0, received: 0, viewports: 0, closed: 0 };
    let stopping = false;
    const sockets = await Promise.all(Array.from({ length: p.clients }, (_, i) => panner(wsUrl, i, p, tally, () => stopping)));
    await sleep(p.ms);
    stopping = true;
    await Promise.all(sockets.map((ws) => new Promise<void>((r) => {
      if (ws.readyState === WebSocket.CLOSED) return r();
      ws.once('close', () => r());
      ws.close();
      setTimeout(() => { ws.terminate(); r(); }, 2000).unref();
    })));
    await sleep(50);
    running = false;
    await prober;
    const delay = await loopDelay(server.url);
    return {
      snapshotMB: tally.snapshot / 2 ** 20, receivedMB: tally.received / 2 ** 20, viewportsSent: tally.viewports,
      closedByServer: tally.closed, rssStartMB: rss0 / 2 ** 20, rssGrowthMB: (rssPeak - rss0) / 2 ** 20,
      healthzP50Ms: pct(health, 0.5), healthzP99Ms: pct(health, 0.99), healthzMaxMs: pct(health, 1),
      healthzProbes: health.length, healthzFailures: failures, loopDelayMaxMs: delay.max, loopDelayP99Ms: delay.p99,
    };
  } finally {
    if (server.exited) console.log(`  the server DIED: ${server.stderrTail().trim().split('\n').slice(-3).join(' | ')}`);
    await server.stop();
  }
}

export async function run(opts: { quick?: boolean } = {}): Promise<Record<string, unknown>> {
  const quick = opts.quick === true;
  const p: Pan = quick
    ? { clients: 20, view: 1024, region: 2048, ms: 500 }
    : { clients: 20, view: 4096, region: 8192, ms: 10_000 };
  const regionChunks = p.region / CHUNK_SIZE;
  const painted = Math.floor(regionChunks * regionChunks / 2);
  const entry = process.env.BENCH_SERVER_ENTRY ?? serverEntry();
  const dataDir = mkdtempSync(join(tmpdir(), 'pan-flood-'));
  try {
    const t0 = performance.now();
    await seed(entry, dataDir, regionChunks, painted);
    console.log(`\n${p.clients} clients each moving a ${p.view}² viewport on every message over the top-left ${p.region}² of a ${SIDE}² canvas ` +
      `(${painted} of its ${regionChunks ** 2} chunks noise, RAW snapshots; seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s), ${p.ms / 1000} s each, /healthz every 10 ms, load average ${loadAverage()}:`);
    const runs: Array<FloodResult & { config: string }> = [];
    for (const c of quick ? CONFIGS.slice(0, 2) : [...CONFIGS.slice(0, 2), ...CONFIGS.slice(0, 2), ...CONFIGS.slice(2), ...CONFIGS.slice(2)]) {
      const r = { config: c.name, ...await flood(entry, dataDir, c.args, p) };
      runs.push(r);
      console.log(`  ${c.name.padEnd(40)} snapshots ${r.snapshotMB.toFixed(0)} MB (${r.viewportsSent} viewports sent, ${r.closedByServer} closed by the server)  RSS ${r.rssStartMB.toFixed(0)} MB +${r.rssGrowthMB.toFixed(0)} MB  ` +
        `/healthz p50 ${r.healthzP50Ms.toFixed(1)} p99 ${r.healthzP99Ms.toFixed(1)} max ${r.healthzMaxMs.toFixed(1)} ms (${r.healthzProbes} probes, ${r.healthzFailures} failed)  ` +
        `loop delay p99 ${r.loopDelayP99Ms.toFixed(1)} max ${r.loopDelayMaxMs.toFixed(1)} ms  load ${loadAverage()}`);
    }
    return { ...p, side: SIDE, paintedChunks: painted, runs };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
