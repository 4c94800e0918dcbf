/**
 * ChunkStore costs on the tick path and in memory:
 *   - set(): pixel writes per second, uniform over a 4096x4096 canvas and clustered (a 16x16 sprite at a time);
 *   - drain(): µs per dirty chunk, change scan plus DELTA encoding, at 1, 16 and 256 dirty pixels per chunk,
 *     and the DELTA bytes per pixel that go on the wire;
 *   - memory: a 65536x65536 canvas with 1,000 painted chunks, pixel bytes and process memory delta
 *     (heapUsed + arrayBuffers, after a forced GC). The budget is 20 MB.
 *
 *   node scripts/build.mjs && node dist/bench/chunk-store.bench.js [--quick]
 */
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ChunkStore } from '../src/chunks/chunk-store.js';
import { CHUNK_SIZE } from '../src/chunks/geometry.js';
import { prng } from './prng.js';

const MEMORY_BUDGET_BYTES = 20e6;


/**
 * Forced full GCs, so memory deltas are not noise (exposes gc without needing a node flag). Array buffers
 * of dead objects are released after the GC that finds them, hence two rounds with a turn of the loop between.
 */
async function gc(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc') as () => void;
  collect();
  await new Promise((resolve) => setImmediate(resolve));
  collect();
}

let sink = 0;

interface Writes { xs: Uint16Array; ys: Uint16Array; colors: Uint8Array }

function uniformWrites(n: number, side: number, rand: () => number): Writes {
  const w: Writes = { xs: new Uint16Array(n), ys: new Uint16Array(n), colors: new Uint8Array(n) };
  for (let i = 0; i < n; i++) {
    w.xs[i] = Math.floor(rand() * side);
    w.ys[i] = Math.floor(rand() * side);
    w.colors[i] = Math.floor(rand() * 32);
  }
  return w;
}

/** 16x16 sprites at random places, each painted row by row: how bots and templates paint. */
function spriteWrites(n: number, side: number, rand: () => number): Writes {
  const w: Writes = { xs: new Uint16Array(n), ys: new Uint16Array(n), colors: new Uint8Array(n) };
  let x0 = 0;
  let y0 = 0;
  for (let i = 0; i < n; i++) {
    if ((i & 255) === 0) {
      x0 = Math.floor(rand() * (side - 16));
      y0 = Math.floor(rand() * (side - 16));
    }
    w.xs[i] = x0 + (i & 15);
    w.ys[i] = y0 + ((i >> 4) & 15);
    w.colors[i] = Math.floor(rand() * 32);
  }
  return w;
}

/** Million writes per second; drains every 16,384 writes (untimed) as a tick loop would. */
function writesPerSecond(store: ChunkStore, w: Writes, passes: number): number {
  const batch = 16_384;
  let best = 0;
  for (let p = 0; p <= passes; p++) {
    let ns = 0;
    for (let start = 0; start < w.xs.length; start += batch) {
      const end = Math.min(w.xs.length, start + batch);
      const t0 = process.hrtime.bigint();
      for (let i = start; i < end; i++) store.set(w.xs[i], w.ys[i], w.colors[i]);
      ns += Number(process.hrtime.bigint() - t0);
      sink += store.drain().length;
    }
    if (p > 0) best = Math.max(best, (w.xs.length / ns) * 1e3); // pass 0 is the warm-up
  }
  return best;
}

interface DrainCost { usPerChunk: number; bytesPerPixel: number }

/** `chunks` chunks each get `perChunk` distinct changed pixels, then one timed drain(); best of `reps`. */
function drainCost(perChunk: number, chunks: number, reps: number): DrainCost {
  const side = 4096;
  const store = new ChunkStore({ width: side, height: side, paletteSize: 32 });
  const rand = prng(perChunk);
  const perSide = side / CHUNK_SIZE;
  const keys = Array.from({ length: chunks }, (_, i) => i * Math.floor((perSide * perSide) / chunks));
  // Distinct offsets per chunk: a random stride through the chunk (odd, so coprime with 4096).
  const stride = 2 * Math.floor(rand() * 1000) + 1;
  let best = Infinity;
  let bytes = 0;
  let pixels = 0;
  for (let r = 0; r <= reps; r++) {
    for (const key of keys) {
      const x0 = (key % perSide) * CHUNK_SIZE;
      const y0 = Math.floor(key / perSide) * CHUNK_SIZE;
      for (let i = 0; i < perChunk; i++) {
        const o = (i * stride + r) & 4095;
        store.set(x0 + (o & 63), y0 + (o >> 6), 1 + ((r + i) % 31));
      }
    }
    const t0 = process.hrtime.bigint();
    const drained = store.drain();
    const us = Number(process.hrtime.bigint() - t0) / 1e3 / chunks;
    if (r > 0) best = Math.min(best, us);
    bytes = 0;
    pixels = 0;
    for (const d of drained) {
      bytes += d.bytes.length;
      pixels += d.count;
    }
  }
  return { usPerChunk: best, bytesPerPixel: bytes / pixels };
}

interface Memory { pixelBytes: number; heapDelta: number; heapDeltaWithSnapshots: number }

/** 1,000 random chunks of a 65536x65536 canvas get 16 pixels each and are drained. Run first, on a quiet heap. */
async function bigCanvasMemory(): Promise<Memory> {
  const rand = prng(1000);
  await gc();
  const before = process.memoryUsage();
  const used = (m: NodeJS.MemoryUsage): number => m.heapUsed + m.arrayBuffers;
  const store = new ChunkStore({ width: 65536, height: 65536, paletteSize: 32 });
  const painted = new Set<number>();
  while (painted.size < 1000) {
    const cx = Math.floor(rand() * 1024);
    const cy = Math.floor(rand() * 1024);
    if (painted.has(cy * 1024 + cx)) continue;
    painted.add(cy * 1024 + cx);
    for (let i = 0; i < 16; i++) store.set(cx * 64 + Math.floor(rand() * 64), cy * 64 + Math.floor(rand() * 64), 1 + Math.floor(rand() * 31));
  }
  sink += store.drain().length;
  await gc();
  const heapDelta = used(process.memoryUsage()) - used(before);
  store.forEachChunk((cx, cy) => {
    sink += store.snapshot(cx, cy).length;
  });
  await gc();
  const heapDeltaWithSnapshots = used(process.memoryUsage()) - used(before);
  sink += store.allocatedChunks;
  return { pixelBytes: store.pixelBytes, heapDelta, heapDeltaWithSnapshots };
}

/** Runs everything, prints a table and returns the numbers. */
export async function run(opts: { quick?: boolean } = {}): Promise<Record<string, number>> {
  const quick = opts.quick === true;
  const writes = quick ? 200_000 : 2_000_000;
  const passes = quick ? 1 : 5;
  const side = 4096;
  const rand = prng(42);

  const m = await bigCanvasMemory();
  const uniform = writesPerSecond(new ChunkStore({ width: side, height: side, paletteSize: 32 }), uniformWrites(writes, side, rand), passes);
  const sprites = writesPerSecond(new ChunkStore({ width: side, height: side, paletteSize: 32 }), spriteWrites(writes, side, rand), passes);

  const results: Record<string, number> = {
    'set.uniform_mwrites_per_s': uniform,
    'set.sprites_mwrites_per_s': sprites,
  };
  const drainRows: Record<string, Record<string, string>> = {};
  for (const perChunk of [1, 16, 256]) {
    const chunks = quick ? 256 : 1024;
    const c = drainCost(perChunk, chunks, quick ? 2 : 20);
    results[`drain.${perChunk}px.us_per_chunk`] = c.usPerChunk;
    results[`drain.${perChunk}px.wire_bytes_per_pixel`] = c.bytesPerPixel;
    drainRows[`${perChunk} px/chunk`] = {
      'dirty chunks': String(chunks),
      'drain+encode µs/chunk': c.usPerChunk.toFixed(2),
      'DELTA bytes/pixel': c.bytesPerPixel.toFixed(2),
    };
  }

  results['memory.pixel_bytes'] = m.pixelBytes;
  results['memory.heap_delta_bytes'] = m.heapDelta;
  results['memory.heap_delta_with_snapshots_bytes'] = m.heapDeltaWithSnapshots;

  const mb = (b: number): string => (b / 1e6).toFixed(2);
  console.log(`ChunkStore${quick ? ' (quick)' : ''}`);
  console.log(`  set(): ${uniform.toFixed(1)} M writes/s uniform over ${side}x${side}, ${sprites.toFixed(1)} M writes/s painting 16x16 sprites`);
  console.table(drainRows);
  console.log(
    `  65536x65536 canvas, 1,000 painted chunks: pixelBytes ${mb(m.pixelBytes)} MB, heap delta ${mb(m.heapDelta)} MB` +
      ` (${mb(m.heapDeltaWithSnapshots)} MB with every snapshot cached): ${m.heapDelta < MEMORY_BUDGET_BYTES ? 'within' : 'OVER'} the 20 MB budget`,
  );
  if (sink === -1) console.log(sink); // keeps results observable
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run({ quick: process.argv.includes('--quick') });
}
