/**
 * Micro-benchmarks for the rate-limit cores: takes per second for a single TokenBucket and for
 * IpLimiter over 10k addresses. Time is simulated (passed in), as in production.
 *
 *   node dist/bench/limits.bench.js [--quick]
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { IpLimiter } from '../src/limits/ip-limiter.js';
import { TokenBucket } from '../src/limits/token-bucket.js';

const BATCH = 10_000;

/** 10k distinct IPv4-looking keys, made once so key building is not measured. */
export function makeIps(n: number, prefix = '10'): string[] {
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = `${prefix}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
  return out;
}

/** Runs `batch` (which does BATCH ops) until `budgetMs` passes; returns ops per second. */
function measure(budgetMs: number, batch: () => number): { opsPerSec: number; sink: number } {
  let sink = batch(); // warm-up
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    sink += batch();
    ops += BATCH;
    elapsed = performance.now() - start;
  } while (elapsed < budgetMs);
  return { opsPerSec: (ops / elapsed) * 1000, sink };
}

export async function run(opts: { quick?: boolean } = {}): Promise<Record<string, number>> {
  const budgetMs = opts.quick ? 60 : 1000;
  const results: Record<string, number> = {};
  let sink = 0;

  {
    // Hot path: enough rate that nearly every take is accepted; 0.01 ms between takes.
    const bucket = new TokenBucket({ rate: 1e6, burst: 100 }, 0);
    let t = 0;
    const r = measure(budgetMs, () => {
      let s = 0;
      for (let i = 0; i < BATCH; i++) s += bucket.take(1, (t += 0.01));
      return s;
    });
    results['TokenBucket.take accept'] = r.opsPerSec;
    sink += r.sink;
  }

  {
    // Refusal path: drained bucket, every take computes a wait.
    const bucket = new TokenBucket({ rate: 1, burst: 10 }, 0);
    let t = 0;
    const r = measure(budgetMs, () => {
      let s = 0;
      for (let i = 0; i < BATCH; i++) s += bucket.take(5, (t += 0.001));
      return s;
    });
    results['TokenBucket.take refuse'] = r.opsPerSec;
    sink += r.sink;
  }

  const ips = makeIps(10_000);
  {
    // 10k known IPs, round robin: LRU hit + bucket take.
    const lim = new IpLimiter({ rate: 20, burst: 40 });
    let t = 0;
    let k = 0;
    const r = measure(budgetMs, () => {
      let s = 0;
      for (let i = 0; i < BATCH; i++) {
        s += lim.take(ips[k], 1, (t += 0.01));
        if (++k === ips.length) k = 0;
      }
      return s;
    });
    results['IpLimiter.take 10k ips'] = r.opsPerSec;
    sink += r.sink;
  }

  {
    // Flood: 10k-entry cache, every take from an IP not in it (miss, allocate, evict).
    const flood = makeIps(60_000, '11');
    const lim = new IpLimiter({ rate: 20, burst: 40, maxEntries: 10_000 });
    let t = 0;
    let k = 0;
    const r = measure(budgetMs, () => {
      let s = 0;
      for (let i = 0; i < BATCH; i++) {
        s += lim.take(flood[k], 1, (t += 0.01));
        if (++k === flood.length) k = 0;
      }
      return s;
    });
    results['IpLimiter.take new ip (evicting)'] = r.opsPerSec;
    sink += r.sink;
  }

  const width = Math.max(...Object.keys(results).map((k) => k.length));
  console.log(`${'limits'.padEnd(width)}  takes/s`);
  for (const [name, v] of Object.entries(results)) {
    console.log(`${name.padEnd(width)}  ${Math.round(v).toLocaleString('en-US').padStart(12)}`);
  }
  if (Number.isNaN(sink)) console.log('(sink)'); // keeps the work observable
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run({ quick: process.argv.includes('--quick') });
}
