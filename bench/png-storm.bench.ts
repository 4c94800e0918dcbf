/**
 * 16 concurrent 4096² `/canvas.png` renders against a 65536² canvas (issue: they once stalled /healthz for
 * ~3 s, froze every tick, and grew RSS by ~340 MB). Measures, on the real server as a child process:
 * /healthz latency sampled every 20 ms during the storm, place → delta latency of a painter meanwhile (the
 * tick's health), the server's RSS growth, and how many renders were served or refused (503).
 *
 * BENCH_SERVER_ENTRY=path/to/main.js runs it against another build (e.g. an older commit) for comparison.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { PROTOCOL_VERSION, decodeServerMessages, encodeHello, encodePlace, encodeViewport } from '../src/net/protocol.js';
import { ourServerArgs, serverEntry, spawnNodeServer } from '../loadtest/server-child.js';
import { prng } from './prng.js';

const pct = (s: number[], p: number) => (s.length ? [...s].sort((a, b) => a - b)[Math.min(s.length - 1, Math.floor(s.length * p))]! : NaN);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

export async function run(opts: { quick?: boolean } = {}): Promise<Record<string, number>> {
  const side = opts.quick ? 8192 : 65536;
  const region = opts.quick ? 1024 : 4096;
  const requests = 16;
  const dataDir = mkdtempSync(join(tmpdir(), 'png-storm-'));
  const server = await spawnNodeServer(process.env.BENCH_SERVER_ENTRY ?? serverEntry(), ourServerArgs({
    width: side, height: side,
    // The default storage (SQLite in a temp dir), not --in-memory, whose per-chunk pixel-info arrays would
    // make this a GC benchmark of the test storage.
    extraArgs: ['--message-rate', '1000000', '--message-burst', '1000000', '--max-viewport-area', String(4096 * 4096),
      '--no-in-memory', '--data-dir', dataDir],
  }), { nodeArgs: process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [] });
  try {
    const ws = new WebSocket(server.url.replace('http', 'ws') + '/ws', { perMessageDeflate: false });
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    const sent = new Map<number, number>();
    const tickLatency: number[] = [];
    let answered = 0;
    const sentCount = (next: number) => next - 1 - answered;
    ws.on('message', (data: Buffer) => {
      for (const m of decodeServerMessages(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))) {
        if (m.type === 'placeResult') answered++;
        if (m.type === 'placeResult' && sent.has(m.seq)) {
          tickLatency.push(performance.now() - sent.get(m.seq)!);
          sent.delete(m.seq);
        }
      }
    });
    ws.send(encodeHello(PROTOCOL_VERSION, 'bench'));
    ws.send(encodeViewport(0, 0, 256, 256));
    // Paint one pixel in every other chunk of the regions rendered, so the renders copy real chunks.
    const rnd = prng(7);
    const span = Math.min(side, region * 2);
    let seq = 1;
    for (let cy = 0; cy < span / 64; cy += 2) {
      const pixels = [];
      for (let cx = 0; cx < span / 64; cx += 2) pixels.push({ x: cx * 64 + Math.floor(rnd() * 64), y: cy * 64 + Math.floor(rnd() * 64), color: 1 + Math.floor(rnd() * 15) });
      for (let i = 0; i < pixels.length; i += 64) ws.send(encodePlace(seq++, pixels.slice(i, i + 64)));
    }
    // Wait until the painting is committed and answered, so its tick is not part of the storm.
    for (let i = 0; i < 100 && sentCount(seq) > 0; i++) await sleep(50);
    await sleep(300);
    const rss0 = rssBytes(server.pid);
    let rssPeak = rss0;

    // The storm, with /healthz probes and a painter running throughout.
    let storming = true;
    const health: number[] = [];
    let healthFailures = 0;
    const prober = (async () => {
      while (storming) {
        const t0 = performance.now();
        try {
          await fetch(`${server.url}/healthz`).then((r) => r.arrayBuffer());
          health.push(performance.now() - t0);
        } catch {
          healthFailures++;
        }
        if (!server.exited) rssPeak = Math.max(rssPeak, rssBytes(server.pid));
        await sleep(20);
      }
    })();
    const painter = (async () => {
      let x = 0;
      while (storming) {
        sent.set(seq, performance.now());
        ws.send(encodePlace(seq++, [{ x: x++ % 256, y: 5, color: 3 }]));
        await sleep(16);
      }
    })();
    const t0 = performance.now();
    const statuses = await Promise.all(Array.from({ length: requests }, (_, i) =>
      fetch(`${server.url}/canvas.png?x=${(i % 4) * (region / 4)}&y=${Math.floor(i / 4) * (region / 4)}&w=${region}&h=${region}`)
        .then(async (r) => { await r.arrayBuffer(); return r.status; }, () => 0)));
    const stormMs = performance.now() - t0;
    await sleep(200);
    storming = false;
    await Promise.all([prober, painter]);
    ws.close();

    const result = {
      canvasSide: side, regionSide: region, requests,
      served: statuses.filter((s) => s === 200).length,
      refused503: statuses.filter((s) => s === 503).length,
      stormMs,
      healthzFailures: healthFailures, serverDied: server.exited ? 1 : 0,
      healthzP50Ms: pct(health, 0.5), healthzP99Ms: pct(health, 0.99), healthzMaxMs: pct(health, 1),
      placeAnswerP99Ms: pct(tickLatency, 0.99), placeAnswerMaxMs: pct(tickLatency, 1),
      rssBeforeMB: rss0 / 2 ** 20, rssGrowthMB: (rssPeak - rss0) / 2 ** 20,
    };
    console.log(`\n${requests} concurrent ${region}² /canvas.png on a ${side}² canvas: ${result.served} served, ${result.refused503} refused (503), storm ${stormMs.toFixed(0)} ms`);
    if (healthFailures > 0 || server.exited) console.log(`  /healthz FAILED ${healthFailures} times${server.exited ? '; the server died' : ''}`);
    console.log(`  /healthz during the storm   p50 ${result.healthzP50Ms.toFixed(1)} ms  p99 ${result.healthzP99Ms.toFixed(1)} ms  max ${result.healthzMaxMs.toFixed(1)} ms  (${health.length} probes)`);
    console.log(`  PLACE answered (tick)       p99 ${result.placeAnswerP99Ms.toFixed(1)} ms  max ${result.placeAnswerMaxMs.toFixed(1)} ms  (${tickLatency.length} places)`);
    console.log(`  server RSS                  ${result.rssBeforeMB.toFixed(0)} MB before, +${result.rssGrowthMB.toFixed(0)} MB at peak`);
    return result;
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run({ quick: process.argv.includes('--quick') });
