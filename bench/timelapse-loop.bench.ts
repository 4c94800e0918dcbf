/**
 * Does timelapse work hold the event loop? (issue 24, defect 7: two concurrent 512² × 256-frame GIFs from one
 * address once blocked the loop ~11 s; 8 addresses each asking the widest JSON timelapse plus two widest
 * history pages put /healthz p99 at ~1 s.) On the real server as a child process (SQLite in a temp dir,
 * seeded here before it starts), /healthz is probed every 10 ms during each load and its latency reported.
 *
 * The requests differ (each its own `since`, all before the first placement), so neither the cache nor the sharing of identical work hides
 * the cost; a last load repeats the JSON requests to show what the cache saves.
 *
 * BENCH_SERVER_ENTRY=path/to/main.js runs it against another build (e.g. an older commit) for comparison.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkStore } from '../src/chunks/chunk-store.js';
import type { PlacementRecord } from '../src/storage/canvas-storage.js';
import { openSqliteStorage } from '../src/storage/sqlite-storage.js';
import { ourServerArgs, serverEntry, spawnNodeServer } from '../loadtest/server-child.js';
import { SERVER_NODE_FLAGS } from '../src/node-flags.js';
import { prng } from './prng.js';

const pct = (s: number[], p: number) => (s.length ? [...s].sort((a, b) => a - b)[Math.min(s.length - 1, Math.floor(s.length * p))]! : NaN);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Placements are seeded at 1000 ms onwards, one per ms. */
const FIRST = 1000;

/**
 * `n` placements of noise at random pixels, one per ms from FIRST. A timelapse from before FIRST is the widest
 * the per-request bounds allow: every row is examined twice for the start state (the scan and its chunk's
 * trail) and replayed once, so n = 45,000 is just inside 100,000 rows examined and 50,000 placements.
 */
function seed(dataDir: string, side: number, n: number): number {
  const storage = openSqliteStorage({ dataDir, synchronous: 'NORMAL' });
  const store = new ChunkStore({ width: side, height: side, paletteSize: 32 });
  storage.load(store);
  const rnd = prng(24);
  for (let i = 0; i < n; i += 1000) {
    const batch: PlacementRecord[] = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      batch.push({ x: (rnd() * side) | 0, y: (rnd() * side) | 0, color: 1 + ((rnd() * 15) | 0), time: FIRST + j,
        clientId: 1 + (j % 50), name: 'seed', ip: `10.9.0.${j % 50}` });
    }
    storage.commit(batch);
    for (const r of batch) store.set(r.x, r.y, r.color);
    store.drain();
  }
  storage.close(store);
  return FIRST + n;
}

interface LoadResult {
  ms: number;
  /** Body bytes of the largest answer. */
  largestMB: number;
  statuses: Record<string, number>;
  healthzP50Ms: number;
  healthzP99Ms: number;
  healthzMaxMs: number;
  healthzProbes: number;
  healthzFailures: number;
  /** The server's own event-loop delay over the load (prom-client's monitor, reset by each scrape): max and p99. */
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  rssGrowthMB: number;
}

/** nodejs_eventloop_lag_{max,p99}_seconds from /metrics, in ms; scraping resets them. */
async function loopDelay(url: string): Promise<{ max: number; p99: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const get = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  return { max: get('nodejs_eventloop_lag_max_seconds'), p99: get('nodejs_eventloop_lag_p99_seconds') };
}

/** Runs `requests` at once while probing /healthz every 10 ms (each probe given 5 s). */
async function underLoad(url: string, pid: number, requests: { path: string; from?: string }[]): Promise<LoadResult> {
  let loading = true;
  const health: number[] = [];
  let failures = 0;
  const rss0 = rssBytes(pid);
  let rssPeak = rss0;
  await loopDelay(url);
  const prober = (async () => {
    while (loading) {
      const t0 = performance.now();
      try {
        await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.arrayBuffer());
        health.push(performance.now() - t0);
      } catch {
        failures++;
      }
      rssPeak = Math.max(rssPeak, rssBytes(pid));
      await sleep(10);
    }
  })();
  await sleep(50);
  const t0 = performance.now();
  let largest = 0;
  const statuses = await Promise.all(requests.map((r) =>
    fetch(`${url}${r.path}`, { headers: r.from ? { 'X-Forwarded-For': r.from } : {} })
      .then(async (res) => { largest = Math.max(largest, (await res.arrayBuffer()).byteLength); return res.status; }, () => 0)));
  const ms = performance.now() - t0;
  await sleep(50);
  loading = false;
  await prober;
  const delay = await loopDelay(url);
  const counts: Record<string, number> = {};
  for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
  return {
    ms, largestMB: largest / 2 ** 20, statuses: counts, healthzP50Ms: pct(health, 0.5), healthzP99Ms: pct(health, 0.99), healthzMaxMs: pct(health, 1),
    healthzProbes: health.length, healthzFailures: failures, loopDelayMaxMs: delay.max, loopDelayP99Ms: delay.p99, rssGrowthMB: (rssPeak - rss0) / 2 ** 20,
  };
}

export async function run(opts: { quick?: boolean } = {}): Promise<Record<string, unknown>> {
  const side = opts.quick ? 64 : 512;
  const frames = opts.quick ? 8 : 256;
  const inRange = opts.quick ? 300 : 45_000;
  const dataDir = mkdtempSync(join(tmpdir(), 'timelapse-loop-'));
  const end = seed(dataDir, side, inRange);
  const server = await spawnNodeServer(process.env.BENCH_SERVER_ENTRY ?? serverEntry(), ourServerArgs({
    width: side, height: side, extraArgs: ['--no-in-memory', '--data-dir', dataDir, '--trust-proxy'],
  }), { nodeArgs: [...SERVER_NODE_FLAGS, ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [])] });
  try {
    const region = `x=0&y=0&w=${side}&h=${side}&until=${end}`;
    const gif = await underLoad(server.url, server.pid, [0, 1].map((k) => ({ path: `/api/timelapse?${region}&since=${k}&frames=${frames}` })));
    const wide = Array.from({ length: 8 }, (_, i) => [
      { path: `/api/timelapse?${region}&since=${i}&format=json`, from: `10.0.0.${i + 1}` },
      { path: `/api/history?limit=1000`, from: `10.0.0.${i + 1}` },
      { path: `/api/history?limit=1000&since=${FIRST}`, from: `10.0.0.${i + 1}` },
    ]).flat();
    const json = await underLoad(server.url, server.pid, wide);
    // The same JSON requests again, from other addresses (the first ones spent part of their allowance).
    const again = await underLoad(server.url, server.pid, wide.filter((r) => r.path.includes('timelapse')).map((r, i) => ({ ...r, from: `10.0.1.${i + 1}` })));
    // The history pages alone: read on the event loop, outside the timelapse's bounds (src/http/canvas-api.ts).
    const history = await underLoad(server.url, server.pid, wide.filter((r) => r.path.includes('history')).map((r, i) => ({ ...r, from: `10.0.2.${i + 1}` })));
    const show = (name: string, r: LoadResult) => console.log(`  ${name.padEnd(34)} ${r.ms.toFixed(0).padStart(6)} ms  largest ${r.largestMB.toFixed(1)} MB  statuses ${JSON.stringify(r.statuses)}  ` +
      `/healthz p50 ${r.healthzP50Ms.toFixed(1)} p99 ${r.healthzP99Ms.toFixed(1)} max ${r.healthzMaxMs.toFixed(1)} ms (${r.healthzProbes} probes, ${r.healthzFailures} failed)  loop delay p99 ${r.loopDelayP99Ms.toFixed(1)} max ${r.loopDelayMaxMs.toFixed(1)} ms  RSS +${r.rssGrowthMB.toFixed(0)} MB`);
    console.log(`\ntimelapse load on a ${side}² canvas (${inRange} placements in range), /healthz probed every 10 ms:`);
    show(`2 GIFs ${side}² × ${frames} frames, one addr`, gif);
    show('8 addrs × (JSON timelapse + 2 history)', json);
    show('the 8 JSON timelapses again', again);
    show('the 16 history pages alone', history);
    if (server.exited) console.log('  the server DIED');
    return { side, frames, placementsInRange: inRange, gif, json, jsonRepeat: again, historyOnly: history, serverDied: server.exited ? 1 : 0 };
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
