/**
 * ViewportIndex micro-benchmark: cost of "who sees chunk (cx, cy)?" (once per dirty chunk per
 * tick), "who sees pixel (x, y)?" (cursors) and of moving a viewport (every pan/zoom message).
 *
 * Viewports are a 1280x720 screen at zoom 1..16 (log-uniform), i.e. 1280x720 down to 80x45 px,
 * placed uniformly so they may hang off the edges. Seeded, so runs are comparable.
 *
 *   run({ quick: true })  CI smoke, well under a second.
 */
import { pathToFileURL } from 'node:url';
import { CHUNK_SHIFT } from '../src/chunks/geometry.js';
import { type PixelRect, ViewportIndex } from '../src/subscriptions/viewport-index.js';
import { prng } from './prng.js';

const SCREEN_W = 1280;
const SCREEN_H = 720;
const MAX_ZOOM = 16;


/** A screen-sized viewport at a random zoom and position on a side x side canvas. */
export function randomViewport(rand: () => number, side: number): PixelRect {
  const zoom = Math.exp(rand() * Math.log(MAX_ZOOM));
  const w = Math.round(SCREEN_W / zoom);
  const h = Math.round(SCREEN_H / zoom);
  return {
    x: Math.floor(rand() * side) - (w >> 1),
    y: Math.floor(rand() * side) - (h >> 1),
    w,
    h,
  };
}

interface Scenario {
  label: string;
  side: number;
  subs: number;
}

// Keeps results observable so the JIT cannot drop the queries.
let sink = 0;

/** ns per call of fn(i) over n calls, after a warm-up pass over the same inputs. */
function timeNs(n: number, fn: (i: number) => void): number {
  const warm = Math.min(n, 2000);
  for (let i = 0; i < warm; i++) fn(i);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  return ((performance.now() - t0) * 1e6) / n;
}

function runScenario(s: Scenario, queries: number, moves: number): Record<string, number> {
  const rand = prng(0x5eed ^ s.subs ^ s.side);
  const index = new ViewportIndex<number>({ width: s.side, height: s.side, maxArea: SCREEN_W * SCREEN_H });
  const rects = Array.from({ length: s.subs }, () => randomViewport(rand, s.side));
  const chunks = s.side >>> CHUNK_SHIFT;

  const t0 = performance.now();
  for (let i = 0; i < s.subs; i++) index.set(i, rects[i]);
  const insertNs = ((performance.now() - t0) * 1e6) / s.subs;

  // Uniform chunks (mostly empty on a big canvas) and chunks someone is looking at (the
  // centre of a random viewport): dirty chunks in practice sit where people are.
  const uni = Int32Array.from({ length: queries * 2 }, () => Math.floor(rand() * chunks));
  const viewed = new Int32Array(queries * 2);
  const pts = new Int32Array(queries * 2);
  for (let q = 0; q < queries; q++) {
    const r = rects[Math.floor(rand() * s.subs)];
    const cx = Math.min(Math.max(r.x + (r.w >> 1), 0), s.side - 1);
    const cy = Math.min(Math.max(r.y + (r.h >> 1), 0), s.side - 1);
    viewed[2 * q] = cx >>> CHUNK_SHIFT;
    viewed[2 * q + 1] = cy >>> CHUNK_SHIFT;
    pts[2 * q] = cx;
    pts[2 * q + 1] = cy;
  }

  let hitsUni = 0;
  const ofUniNs = timeNs(queries, (q) => {
    hitsUni += index.subscribersOf(uni[2 * q], uni[2 * q + 1]).length;
  });
  let hitsViewed = 0;
  const ofViewedNs = timeNs(queries, (q) => {
    hitsViewed += index.subscribersOf(viewed[2 * q], viewed[2 * q + 1]).length;
  });
  const atNs = timeNs(queries, (q) => {
    sink += index.subscribersAt(pts[2 * q], pts[2 * q + 1]).length;
  });
  sink += hitsUni + hitsViewed;
  // Hit counts include the warm-up pass; divide by the calls actually made.
  const calls = queries + Math.min(queries, 2000);

  // A pan: a random subscriber drags its view by up to 64 px each way (alternating so views
  // do not drift off the canvas), the common case of a viewport message.
  const moveRand = prng(0xa11ce);
  const movers = Int32Array.from({ length: moves }, () => Math.floor(moveRand() * s.subs));
  const dx = Int32Array.from({ length: moves }, () => Math.floor(moveRand() * 129) - 64);
  const dy = Int32Array.from({ length: moves }, () => Math.floor(moveRand() * 129) - 64);
  let sign = 1;
  const moveNs = timeNs(moves, (m) => {
    const r = rects[movers[m]];
    r.x += sign * dx[m];
    r.y += sign * dy[m];
    const d = index.set(movers[m], r);
    sink += d.entered.length + d.left.length;
    sign = -sign;
  });

  return {
    [`${s.label}.insert_ns`]: insertNs,
    [`${s.label}.subscribersOf_uniform_ns`]: ofUniNs,
    [`${s.label}.subscribersOf_uniform_hits`]: hitsUni / calls,
    [`${s.label}.subscribersOf_viewed_ns`]: ofViewedNs,
    [`${s.label}.subscribersOf_viewed_hits`]: hitsViewed / calls,
    [`${s.label}.subscribersAt_ns`]: atNs,
    [`${s.label}.move_ns`]: moveNs,
  };
}

/** Runs every scenario, prints a table and returns the numbers keyed `<canvas>/<subs>.<metric>`. */
export async function run(opts: { quick?: boolean } = {}): Promise<Record<string, number>> {
  const quick = opts.quick === true;
  const scenarios: Scenario[] = quick
    ? [
        { label: '4096/1k', side: 4096, subs: 1_000 },
        { label: '4096/10k', side: 4096, subs: 10_000 },
        { label: '65536/10k', side: 65536, subs: 10_000 },
      ]
    : [
        { label: '4096/1k', side: 4096, subs: 1_000 },
        { label: '4096/10k', side: 4096, subs: 10_000 },
        { label: '4096/100k', side: 4096, subs: 100_000 },
        { label: '65536/100k', side: 65536, subs: 100_000 },
      ];
  const moves = quick ? 5_000 : 50_000;
  // Dense rows return ~1k subscribers per query, so they get fewer queries to bound run time.
  const queriesFor = (s: Scenario): number => (quick ? 2_000 : s.subs >= 100_000 ? 5_000 : 20_000);

  // Untimed pass so the first row does not pay for JIT compilation.
  runScenario({ label: 'warm-up', side: 4096, subs: 1_000 }, 1_000, 1_000);

  const results: Record<string, number> = {};
  const rows: Record<string, Record<string, string>> = {};
  for (const s of scenarios) {
    const r = runScenario(s, queriesFor(s), moves);
    Object.assign(results, r);
    const get = (k: string): number => r[`${s.label}.${k}`];
    rows[s.label] = {
      queries: String(queriesFor(s)),
      'insert ns': get('insert_ns').toFixed(0),
      'of(chunk) ns uniform': get('subscribersOf_uniform_ns').toFixed(0),
      'hits uniform': get('subscribersOf_uniform_hits').toFixed(1),
      'of(chunk) ns viewed': get('subscribersOf_viewed_ns').toFixed(0),
      'hits viewed': get('subscribersOf_viewed_hits').toFixed(1),
      'at(pixel) ns': get('subscribersAt_ns').toFixed(0),
      'move ns': get('move_ns').toFixed(0),
    };
  }
  console.log(`ViewportIndex${quick ? ' (quick)' : ''}: ns per call, ${moves} pans per row`);
  console.table(rows);
  if (sink === -1) console.log(sink); // never true; keeps sink live
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run({ quick: process.argv.includes('--quick') });
}
