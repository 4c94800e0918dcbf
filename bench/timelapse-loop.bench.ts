/**
 * Does timelapse work hold the event loop? (issue 24, defect 7: two concurrent 512² × 256-frame GIFs from one
 * address once blocked the loop ~11 s; 8 addresses each asking the widest JSON timelapse plus two widest
 * history pages put /healthz p99 at ~1 s.) On the real server as a child process (SQLite in a temp dir,
 * seeded here before it starts), /healthz is probed every 10 ms during each load and its latency reported.
 *
 * The requests differ (each its own `since`), so neither the cache nor the sharing of identical work hides
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
import { prng } from './prng.js';

const pct = (s: number[], p: number) => (s.length ? [...s].sort((a, b) => a - b)[Math.min(s.length - 1, Math.floor(s.length * p))]! : NaN);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Timeline of the seeded log (ms): the whole canvas filled with noise, then the range's pixels once, then the range. */
const FILL_END = 1000, RANGE_START = 2000;

/**
 * A canvas whose every pixel is noise (so GIF frames barely compress), then `hot` pixels painted once just
 * before RANGE_START and `inRange` placements among them after it: the widest timelapse stays inside the
 * per-request bounds (rows examined for the start state, placements in the range).
 */
function seed(dataDir: string, side: number, hot: number, inRange: number): number {
  const storage = openSqliteStorage({ dataDir, synchronous: 'NORMAL' });
  const store = new ChunkStore({ width: side, height: side, paletteSize: 32 });
  storage.load(store);
  const rnd = prng(24);
  const records: PlacementRecord[] = [];
  const put = (x: number, y: number, time: number) =>
    records.push({ x, y, color: 1 + ((rnd() * 15) | 0), time, clientId: 1 + (records.length % 50), name: 'seed', ip: `10.9.0.${records.length % 50}` });
  const area = side * side;
  for (let i = 0; i < area; i++) put(i % side, (i / side) | 0, (i * FILL_END) / area);
  const hotPixels = Array.from({ length: hot }, () => [(rnd() * side) | 0, (rnd() * side) | 0] as const);
  hotPixels.forEach(([x, y], i) => put(x, y, FILL_END + (i * (RANGE_START - FILL_END)) / hot));
  for (let i = 0; i < inRange; i++) {
    const [x, y] = hotPixels[(rnd() * hot) | 0]!;
    put(x, y, RANGE_START + i);
  }
  for (let i = 0; i < records.length; i += 1000) {
    const batch = records.slice(i, i + 1000);
    storage.commit(batch);
    for (const r of batch) store.set(r.x, r.y, r.color);
    store.drain();
  }
  storage.close(store);
  return RANGE_START + inRange;
}

interface LoadResult {
  ms: number;
  statuses: Record<string, number>;
  healthzP50Ms: number;
  healthzP99Ms: number;
  healthzMaxMs: number;
  healthzProbes: number;
  healthzFailures: number;
  rssGrowthMB: number;
}

/** Runs `requests` at once while probing /healthz every 10 ms (each probe given 5 s). */
async function underLoad(url: string, pid: number, requests: { path: string; from?: string }[]): Promise<LoadResult> {
  let loading = true;
  const health: number[] = [];
  let failures = 0;
  const rss0 = rssBytes(pid);
  let rssPeak = rss0;
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
  const statuses = await Promise.all(requests.map((r) =>
    fetch(`${url}${r.path}`, { headers: r.from ? { 'X-Forwarded-For': r.from } : {} })
      .then(async (res) => { await res.arrayBuffer(); return res.status; }, () => 0)));
  const ms = performance.now() - t0;
  await sleep(50);
  loading = false;
  await prober;
  const counts: Record<string, number> = {};
  for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
  return {
    ms, statuses: counts, healthzP50Ms: pct(health, 0.5), healthzP99Ms: pct(health, 0.99), healthzMaxMs: pct(health, 1),
    healthzProbes: health.length, healthzFailures: failures, rssGrowthMB: (rssPeak - rss0) / 2 ** 20,
  };
}

export async function run(opts: { quick?: boolean } = {}): Promise<Record<string, unknown>> {
  const side = opts.quick ? 64 : 512;
  const frames = opts.quick ? 8 : 256;
  const hot = opts.quick ? 100 : 10_000;
  const inRange = opts.quick ? 300 : 30_000;
  const dataDir = mkdtempSync(join(tmpdir(), 'timelapse-loop-'));
  const end = seed(dataDir, side, hot, inRange);
  const server = await spawnNodeServer(process.env.BENCH_SERVER_ENTRY ?? serverEntry(), ourServerArgs({
    width: side, height: side, extraArgs: ['--no-in-memory', '--data-dir', dataDir, '--trust-proxy'],
  }));
  try {
    const region = `x=0&y=0&w=${side}&h=${side}&until=${end}`;
    const gif = await underLoad(server.url, server.pid, [0, 1].map((k) => ({ path: `/api/timelapse?${region}&since=${RANGE_START + k}&frames=${frames}` })));
    const wide = Array.from({ length: 8 }, (_, i) => [
      { path: `/api/timelapse?${region}&since=${RANGE_START + i}&format=json`, from: `10.0.0.${i + 1}` },
      { path: `/api/history?limit=1000`, from: `10.0.0.${i + 1}` },
      { path: `/api/history?limit=1000&since=${RANGE_START}`, from: `10.0.0.${i + 1}` },
    ]).flat();
    const json = await underLoad(server.url, server.pid, wide);
    // The same JSON requests again, from other addresses (the first ones spent part of their allowance).
    const again = await underLoad(server.url, server.pid, wide.filter((r) => r.path.includes('timelapse')).map((r, i) => ({ ...r, from: `10.0.1.${i + 1}` })));
    const show = (name: string, r: LoadResult) => console.log(`  ${name.padEnd(34)} ${r.ms.toFixed(0).padStart(6)} ms  statuses ${JSON.stringify(r.statuses)}  ` +
      `/healthz p50 ${r.healthzP50Ms.toFixed(1)} p99 ${r.healthzP99Ms.toFixed(1)} max ${r.healthzMaxMs.toFixed(1)} ms (${r.healthzProbes} probes, ${r.healthzFailures} failed)  RSS +${r.rssGrowthMB.toFixed(0)} MB`);
    console.log(`\ntimelapse load on a ${side}² canvas (${inRange} placements in range), /healthz probed every 10 ms:`);
    show(`2 GIFs ${side}² × ${frames} frames, one addr`, gif);
    show('8 addrs × (JSON timelapse + 2 history)', json);
    show('the 8 JSON timelapses again', again);
    if (server.exited) console.log('  the server DIED');
    return { side, frames, placementsInRange: inRange, gif, json, jsonRepeat: again, serverDied: server.exited ? 1 : 0 };
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
