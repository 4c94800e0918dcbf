/**
 * Wire codec cost per message, in nanoseconds: encode and decode of the messages on the hot paths
 * (a one-pixel PLACE, DELTAs of 1/16/256 pixels, a 50-entry CURSORS, a RAW SNAPSHOT).
 *
 *   node scripts/build.mjs && node dist/bench/protocol.bench.js
 */
import { CHUNK_AREA } from '../src/chunks/geometry.js';
import {
  type CursorEntry,
  type PlacePixel,
  SnapshotEncoding,
  decodeClientMessage,
  decodeServerMessages,
  encodeChunkDelta,
  encodeChunkSnapshot,
  encodeCursors,
  encodePlace,
} from '../src/net/protocol.js';

interface Case {
  name: string;
  encode: () => Uint8Array;
  decode: (bytes: Uint8Array) => unknown;
}

/** Deterministic data (a fixed LCG), so runs are comparable. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
}

function deltaCase(count: number): Case {
  const next = lcg(count);
  const offsets = new Uint16Array(count);
  const colors = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    offsets[i] = next() % CHUNK_AREA;
    colors[i] = next() & 31;
  }
  return {
    name: `DELTA ${count} px`,
    encode: () => encodeChunkDelta(12, 7, 1234, offsets, colors, count),
    decode: decodeServerMessages,
  };
}

function cases(): Case[] {
  const onePixel: PlacePixel[] = [{ x: 500, y: 300, color: 5 }];
  const next = lcg(50);
  const cursors: CursorEntry[] = Array.from({ length: 50 }, (_, i) => ({
    id: i + 1,
    x: next() & 0xffff,
    y: next() & 0xffff,
    name: `player-${i}`,
  }));
  const raw = Uint8Array.from({ length: CHUNK_AREA }, () => next() & 31);
  return [
    { name: 'PLACE 1 px', encode: () => encodePlace(1, onePixel), decode: decodeClientMessage },
    deltaCase(1),
    deltaCase(16),
    deltaCase(256),
    { name: 'CURSORS 50', encode: () => encodeCursors(cursors, []), decode: decodeServerMessages },
    { name: 'SNAPSHOT raw', encode: () => encodeChunkSnapshot(3, 4, 99, SnapshotEncoding.RAW, raw), decode: decodeServerMessages },
  ];
}

let sink = 0;

/** Median ns per call of fn over `samples` timed batches, each about budgetMs / samples long. */
function measure(fn: () => unknown, budgetMs: number, samples: number): number {
  // Calibrate: double the batch until one batch takes ~1 ms (also serves as warm-up).
  let batch = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) if (fn() === undefined) sink++;
    if (Number(process.hrtime.bigint() - t0) > 1e6 || batch > 1 << 24) break;
    batch *= 2;
  }
  const perSample = Math.max(1, Math.round((batch * budgetMs) / samples));
  const results: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < perSample; i++) if (fn() === undefined) sink++;
    results.push(Number(process.hrtime.bigint() - t0) / perSample);
  }
  results.sort((a, b) => a - b);
  return results[results.length >> 1]!;
}

/** Runs every case; returns ns per message keyed `encode <case>` / `decode <case>`, and prints a table. */
export async function run(opts: { quick?: boolean } = {}): Promise<Record<string, number>> {
  const budgetMs = opts.quick ? 8 : 150;
  const samples = opts.quick ? 3 : 7;
  const out: Record<string, number> = {};
  const rows: string[] = [];
  for (const c of cases()) {
    const bytes = c.encode();
    const enc = measure(c.encode, budgetMs, samples);
    const dec = measure(() => c.decode(bytes), budgetMs, samples);
    out[`encode ${c.name}`] = enc;
    out[`decode ${c.name}`] = dec;
    rows.push(`${c.name.padEnd(14)} ${String(bytes.length).padStart(6)} ${enc.toFixed(0).padStart(10)} ${dec.toFixed(0).padStart(10)}`);
  }
  console.log(`${'message'.padEnd(14)} ${'bytes'.padStart(6)} ${'encode ns'.padStart(10)} ${'decode ns'.padStart(10)}`);
  for (const r of rows) console.log(r);
  if (sink === -1) console.log(sink); // keeps the results observable
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
