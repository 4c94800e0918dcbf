/**
 * Stream throughput of one canvas through Redis (the machine's, 127.0.0.1:6379, or REDIS_URL): node A
 * submits placements as fast as they are answered (its groups batched into one PLACE script call per event-
 * loop turn, pipelined), nodes A and B apply the stream in their tick (take → store.set → drain, as the
 * room does, without sockets or SQLite). Reported: placements/s applied on B (the other node), per PLACE
 * size (pixels per group: 1 = one-pixel PLACEs, each its own bucket take; 64 = maxPlaceBatch), entries/s
 * and bytes per placement in the stream; then how fast a new node applies that whole stream from seq 0. Both nodes and the generator share this one thread, so the figure
 * is a floor for what separate node processes reach.
 *
 *   npm run build && node dist/bench/redis-stream.bench.js [--quick] [--no-identity]
 */
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import pino from 'pino';
import { ChunkStore } from '../src/chunks/chunk-store.js';
import { keyCx, keyCy } from '../src/chunks/geometry.js';
import { RedisPlacementSeam } from '../src/cluster/redis-seam.js';
import { canvasKeys } from '../src/cluster/redis-keys.js';
import type { PlacementRecord } from '../src/storage/canvas-storage.js';
import { prng } from './prng.js';

const URL_ = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SIDE = 1024;
/** `--no-identity`: placements without a painter identity (what the stream held before entries carried them). */
const IDENTITY = !process.argv.includes('--no-identity');

function node(canvas: string, store: ChunkStore): RedisPlacementSeam {
  return new RedisPlacementSeam({
    url: URL_, canvas, keys: canvasKeys(canvas), store, log: pino({ level: 'silent' }),
    paintRate: 1e9, paintBurst: 1e9, startSeq: 0, startEpoch: null, generation: { epoch: 0 }, streamMaxLen: 1_000_000,
    snapshotIntervalMs: 3_600_000, commandTimeoutMs: 5000, maxRecordsPerTake: 200_000,
  });
}

/** One tick's work as the room does it, minus sockets and storage. */
function tick(seam: RedisPlacementSeam, store: ChunkStore): number {
  const b = seam.take();
  for (const r of b.records) store.set(r.x, r.y, r.color);
  if (b.position) for (const [key, v] of b.position.pins) if (v !== 0) store.pinVersion(keyCx(key), keyCy(key), v);
  store.drain();
  return b.records.length;
}

async function drop(canvas: string): Promise<void> {
  const r = new Redis(URL_);
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `pixel-canvas:{${canvas}}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await r.del(...keys);
  } while (cursor !== '0');
  r.disconnect();
}

interface Result { pixelsPerGroup: number; placementsPerSecond: number; entriesPerSecond: number; bytesPerPlacement: number; seconds: number; catchUpPerSecond: number }

async function measure(pixelsPerGroup: number, seconds: number): Promise<Result> {
  const canvas = `bench-${process.pid}-${pixelsPerGroup}`;
  await drop(canvas);
  const sa = new ChunkStore({ width: SIDE, height: SIDE, paletteSize: 32 });
  const sb = new ChunkStore({ width: SIDE, height: SIDE, paletteSize: 32 });
  const a = node(canvas, sa);
  const b = node(canvas, sb);
  await a.start(5000);
  await b.start(5000);
  if (a.state !== 'ok' || b.state !== 'ok') throw new Error(`Redis at ${URL_} is not reachable`);
  const rand = prng(pixelsPerGroup);
  let submitted = 0, appliedA = 0, appliedB = 0;
  let running = true;
  a.setWakeup(() => {});
  b.setWakeup(() => {});
  // Keep at most this many placements between submit and A's apply (as a real node's clients would wait).
  const window = 100_000;
  const t0 = performance.now();
  let bAtStart = 0;
  let seqAtStart = 0;
  const warmMs = 500;
  let measuring = false;
  let tStart = 0;
  while (running) {
    const now = performance.now();
    if (!measuring && now - t0 > warmMs) {
      measuring = true;
      tStart = now;
      bAtStart = appliedB;
      seqAtStart = b.appliedSeq;
    }
    if (measuring && now - tStart > seconds * 1000) running = false;
    // One "turn" of messages: up to 64 groups from different clients.
    for (let g = 0; g < 64 && submitted - appliedA < window; g++) {
      const client = (rand() * 5000) | 0;
      const records: PlacementRecord[] = new Array(pixelsPerGroup);
      const time = Date.now();
      // A painter identity as the server makes them (24 hex characters), carried in the entry's `i` field.
      const identity = IDENTITY ? client.toString(16).padStart(24, '0') : '';
      for (let i = 0; i < pixelsPerGroup; i++) {
        records[i] = { x: (rand() * SIDE) | 0, y: (rand() * SIDE) | 0, color: (rand() * 32) | 0, time, clientId: client, name: `p${client}`, ip: `10.0.${client >> 8}.${client & 255}`, identity };
      }
      a.submit(records, { clientId: client, seq: submitted, count: pixelsPerGroup });
      submitted += pixelsPerGroup;
    }
    await new Promise((r) => setImmediate(r));
    const ta = a.take();
    for (const r of ta.records) sa.set(r.x, r.y, r.color);
    sa.drain();
    appliedA += ta.records.length;
    appliedB += tick(b, sb);
    if (submitted - appliedA >= window) await new Promise((r) => setTimeout(r, 1));
  }
  const elapsed = (performance.now() - tStart) / 1000;
  const entries = b.appliedSeq - seqAtStart;
  // Catch-up: a new node reads the whole stream from seq 0 alone (no submitter on this thread).
  const sc = new ChunkStore({ width: SIDE, height: SIDE, paletteSize: 32 });
  const c = node(canvas, sc);
  c.setWakeup(() => {});
  const target = b.appliedSeq;
  const tc = performance.now();
  await c.start(5000);
  let appliedC = 0;
  while (c.appliedSeq < target) {
    appliedC += tick(c, sc);
    await new Promise((r) => setImmediate(r));
  }
  const catchUpPerSecond = appliedC / ((performance.now() - tc) / 1000);
  await c.close();
  const r = new Redis(URL_);
  const mem = Number(await r.call('MEMORY', 'USAGE', canvasKeys(canvas).stream, 'SAMPLES', '0'));
  const len = await r.xlen(canvasKeys(canvas).stream);
  r.disconnect();
  await a.close();
  await b.close();
  await drop(canvas);
  const totalPlacements = b.appliedSeq > 0 ? appliedB : 0;
  return {
    pixelsPerGroup,
    placementsPerSecond: (appliedB - bAtStart) / elapsed,
    entriesPerSecond: entries / elapsed,
    bytesPerPlacement: totalPlacements > 0 ? mem / (totalPlacements * (len / Math.max(1, b.appliedSeq))) : Number.NaN,
    seconds: elapsed,
    catchUpPerSecond,
  };
}

export async function run(opts: { quick?: boolean } = {}): Promise<Result[]> {
  const seconds = opts.quick ? 1 : 5;
  const out: Result[] = [];
  for (const ppg of [64, 16, 1]) {
    const r = await measure(ppg, seconds);
    console.log(`${String(ppg).padStart(2)} px/PLACE: ${Math.round(r.placementsPerSecond).toLocaleString('en')} placements/s applied on the other node, ` +
      `${Math.round(r.entriesPerSecond)} entries/s, ~${r.bytesPerPlacement.toFixed(1)} B of stream memory per placement (${r.seconds.toFixed(1)} s); ` +
      `a new node catches up at ${Math.round(r.catchUpPerSecond).toLocaleString('en')} placements/s`);
    out.push(r);
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run({ quick: process.argv.includes('--quick') });
}
