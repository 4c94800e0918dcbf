/**
 * Tick cost against user count. The design's claim: a tick's work grows with what is *visible and
 * changing* (dirty chunks × the viewers of each), not with how many users are connected. The room runs
 * in-process on a 4096² canvas, every session's Transport only counts bytes (no kernel, no ws), memory
 * storage, and ticks are driven by hand as fast as they go, each after submitting the same paint load
 * (17 pixels per tick ≈ 1000 px/s at 60 Hz). Layouts, each for 100, 1 000 and 10 000 viewports of a fixed
 * 640×360 size:
 *
 * - idle:    viewports spread over the left half; all painting happens in one region of the right half,
 *            watched by 10 extra viewers. Nobody added sees a change, so the cost should stay flat in N.
 * - spread:  viewports spread over the whole canvas, paint uniform over it: each viewer sees a fixed share
 *            of the changes, so the cost grows ∝ N × (viewport area / canvas area) — total visible area.
 * - stacked: every viewport on the same region, all paint inside it: every viewer gets every delta, the
 *            worst case for fan-out. Deltas are still encoded once; what grows ∝ N is one queued reference
 *            and one write per viewer per tick.
 * - stacked+cursors (full mode, up to 1 000): stacked, and every user moves its cursor 10 times a second.
 *
 *   run({ quick: true })  100 and 1 000 viewports, a few ticks each: well under two seconds.
 */
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { DEFAULTS, type ServerConfig } from '../src/config.js';
import { ChunkStore } from '../src/chunks/chunk-store.js';
import { DEFAULT_PALETTE } from '../src/chunks/palette.js';
import { createMetrics } from '../src/metrics.js';
import { encodeCursor, encodeHello, encodePlace, encodeViewport, PROTOCOL_VERSION, type PlacePixel } from '../src/net/protocol.js';
import { CanvasRoom } from '../src/realtime/canvas-room.js';
import type { ClientSession } from '../src/realtime/client-session.js';
import type { Transport } from '../src/realtime/transport.js';
import { MemoryStorage } from '../src/storage/memory-storage.js';
import { prng } from './prng.js';

const SIDE = 4096;
const VIEW_W = 640;
const VIEW_H = 360;
/** ≈ 1000 px/s at 60 Hz. */
const PIXELS_PER_TICK = 17;
/** Ticks between two cursor moves of one user: 10 moves a second at 60 Hz. */
const CURSOR_EVERY = 6;

type Layout = 'idle' | 'spread' | 'stacked' | 'stacked+cursors';

/** Bytes and writes of every transport of a room, shared. */
class Counter {
  bytes = 0;
  writes = 0;
}

class CountingTransport implements Transport {
  constructor(private readonly c: Counter) {}
  send(bytes: Uint8Array): void {
    this.c.bytes += bytes.length;
    this.c.writes++;
  }
  close(): void {}
  terminate(): void {}
  get bufferedAmount(): number {
    return 0;
  }
}


interface Rect { x: number; y: number; w: number; h: number }

export interface ScalingRow {
  layout: Layout;
  viewers: number;
  ticks: number;
  medianUs: number;
  p99Us: number;
  meanUs: number;
  bytesPerTick: number;
  writesPerTick: number;
}

function config(): ServerConfig {
  // Limits out of the way: the bench submits far faster than real time.
  return {
    ...DEFAULTS, width: SIDE, height: SIDE, inMemory: true, logLevel: 'silent',
    paintRate: 1e9, paintBurst: 1e9, messageRate: 1e9, messageBurst: 1e9, cursorHz: 1e6, viewportHz: 1e6,
    maxPlaceBatch: 64,
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Builds a room with `viewers` sessions laid out per `layout`, then times `ticks` ticks. */
export function measureLayout(layout: Layout, viewers: number, ticks: number, seed = 1): ScalingRow {
  const rand = prng(seed);
  const cfg = config();
  const store = new ChunkStore({ width: SIDE, height: SIDE, paletteSize: DEFAULT_PALETTE.length });
  const room = new CanvasRoom({
    config: cfg, store, storage: new MemoryStorage({ historyCapacity: 1024 }), palette: DEFAULT_PALETTE,
    metrics: createMetrics(), log: pino({ level: 'silent' }), now: () => 0,
  });
  const counter = new Counter();
  let ipN = 0;
  const join = (view: Rect | null): ClientSession => {
    ipN++;
    const s = room.connect(new CountingTransport(counter), `10.${(ipN >> 16) & 255}.${(ipN >> 8) & 255}.${ipN & 255}`);
    room.handleMessage(s, encodeHello(PROTOCOL_VERSION, ''), true);
    if (view) room.handleMessage(s, encodeViewport(view.x, view.y, view.w, view.h), true);
    return s;
  };

  const stackedRegion: Rect = { x: 1024, y: 1024, w: VIEW_W, h: VIEW_H };
  const paintRegion: Rect = layout === 'spread' ? { x: 0, y: 0, w: SIDE, h: SIDE }
    : layout === 'idle' ? { x: 3000, y: 1000, w: VIEW_W, h: VIEW_H } : stackedRegion;
  const sessions: ClientSession[] = [];
  for (let i = 0; i < viewers; i++) {
    let view: Rect;
    if (layout === 'idle') view = { x: Math.floor(rand() * (SIDE / 2 - VIEW_W)), y: Math.floor(rand() * (SIDE - VIEW_H)), w: VIEW_W, h: VIEW_H };
    else if (layout === 'spread') view = { x: Math.floor(rand() * (SIDE - VIEW_W)), y: Math.floor(rand() * (SIDE - VIEW_H)), w: VIEW_W, h: VIEW_H };
    else view = stackedRegion;
    sessions.push(join(view));
  }
  if (layout === 'idle') for (let i = 0; i < 10; i++) join(paintRegion);
  const painter = join(null);

  // Send everyone their snapshots, then warm the tick up (JIT) with the same load as measured.
  let seq = 0;
  let now = 0;
  const paintTick = (): void => {
    const pixels: PlacePixel[] = [];
    for (let k = 0; k < PIXELS_PER_TICK; k++) {
      pixels.push({
        x: paintRegion.x + Math.floor(rand() * paintRegion.w),
        y: paintRegion.y + Math.floor(rand() * paintRegion.h),
        color: 1 + Math.floor(rand() * (DEFAULT_PALETTE.length - 1)),
      });
    }
    room.handleMessage(painter, encodePlace(++seq, pixels), true);
  };
  const cursorTick = (tick: number): void => {
    if (layout !== 'stacked+cursors') return;
    for (let i = tick % CURSOR_EVERY; i < sessions.length; i += CURSOR_EVERY) {
      const x = stackedRegion.x + Math.floor(rand() * stackedRegion.w);
      const y = stackedRegion.y + Math.floor(rand() * stackedRegion.h);
      room.handleMessage(sessions[i]!, encodeCursor(x, y), true);
    }
  };
  for (let i = 0; i < 3; i++) room.tick((now += 16.7));
  const warm = Math.min(30, ticks);
  for (let i = 0; i < warm; i++) {
    paintTick();
    cursorTick(i);
    room.tick((now += 16.7));
  }

  const times: number[] = [];
  const bytes0 = counter.bytes;
  const writes0 = counter.writes;
  for (let i = 0; i < ticks; i++) {
    paintTick();
    cursorTick(i);
    const t0 = performance.now();
    room.tick((now += 16.7));
    times.push((performance.now() - t0) * 1000);
  }
  room.stop();
  const sorted = [...times].sort((a, b) => a - b);
  return {
    layout, viewers, ticks,
    medianUs: percentile(sorted, 50),
    p99Us: percentile(sorted, 99),
    meanUs: times.reduce((a, b) => a + b, 0) / times.length,
    bytesPerTick: (counter.bytes - bytes0) / ticks,
    writesPerTick: (counter.writes - writes0) / ticks,
  };
}

/** Runs every layout × size; prints a table and returns `<layout>/<viewers>.<metric>` numbers. */
export async function run(opts: { quick?: boolean } = {}): Promise<Record<string, number>> {
  const quick = opts.quick === true;
  const sizes = quick ? [100, 1000] : [100, 1000, 10_000];
  const plan: Array<{ layout: Layout; viewers: number; ticks: number }> = [];
  for (const layout of ['idle', 'spread', 'stacked'] as const) {
    for (const viewers of sizes) plan.push({ layout, viewers, ticks: quick ? 20 : viewers >= 10_000 ? 150 : 300 });
  }
  if (!quick) for (const viewers of [100, 1000]) plan.push({ layout: 'stacked+cursors', viewers, ticks: viewers >= 1000 ? 60 : 300 });

  const out: Record<string, number> = {};
  const rows: string[] = [];
  for (const p of plan) {
    const r = measureLayout(p.layout, p.viewers, p.ticks);
    const k = `${r.layout}/${r.viewers}`;
    out[`${k}.median_us`] = r.medianUs;
    out[`${k}.p99_us`] = r.p99Us;
    out[`${k}.bytes_per_tick`] = r.bytesPerTick;
    out[`${k}.writes_per_tick`] = r.writesPerTick;
    rows.push(`${r.layout.padEnd(16)} ${String(r.viewers).padStart(7)} ${r.medianUs.toFixed(0).padStart(10)} ${r.p99Us.toFixed(0).padStart(10)}` +
      ` ${(r.medianUs / Math.max(1, r.writesPerTick) * 1000).toFixed(0).padStart(12)} ${r.writesPerTick.toFixed(0).padStart(9)} ${r.bytesPerTick.toFixed(0).padStart(11)}`);
  }
  console.log(`Tick cost vs viewers: 4096² canvas, ${VIEW_W}x${VIEW_H} viewports, ${PIXELS_PER_TICK} px per tick, counting transports (no kernel)`);
  console.log(`${'layout'.padEnd(16)} ${'viewers'.padStart(7)} ${'median µs'.padStart(10)} ${'p99 µs'.padStart(10)} ${'ns/write'.padStart(12)} ${'writes/t'.padStart(9)} ${'bytes/tick'.padStart(11)}`);
  for (const r of rows) console.log(r);
  return out;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run({ quick: process.argv.includes('--quick') });
}
