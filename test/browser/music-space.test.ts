/**
 * Space and mix, measured on what reaches the audio destination (the independent tap, ./music-tap.ts),
 * with a pattern file of its own so the palette can change without moving these figures:
 *   - far sounds far: one hat hit every 2.4 s heard near the view centre, then with the view moved so the
 *     cell is 1.2 half-diagonals away (same zoom), then from the centre zoomed out: the far hit has less
 *     high-frequency energy (relative to its own level) and more tail (reverb) than the near one, and
 *     zooming out raises the tail without dulling the hit;
 *   - a dense region (hundreds of kicks on the beat, in phase: the worst case for peaks) never exceeds the
 *     limiter's ceiling and does not clip; driven 12 dB hotter (offline), it would clip without the limiter
 *     and still stays under the ceiling with it;
 *   - silence stays digital zero: nothing in view from the start, and after the last note's tail.
 * Offline (the page's renderer, as a check of the design rather than of the output): the limiter is
 * transparent below its threshold, and the mix's look-ahead is taken off start times, so the heard onsets
 * are on the beat grid.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { RunningServer } from '../../src/server.js';
import { LIMITER } from '../../client/src/music/mix.js';
import {
  INSTALL_HINT, ROOT, type OpenPage, browserSuitePlan, buildClient, launchBrowser, nodeClient, placeFrom, startTestServer,
} from './harness.js';
import { type MusicWindow, openMusicPage } from './music-page.js';
import { type TapWindow, waitTap } from './music-tap.js';

const plan = browserSuitePlan();
if (!plan.run) console.log(`browser tests skipped: ${INSTALL_HINT}`);

type TapW = Window & TapWindow;
const BPM = 100;
/** Palette: 1 = a hat accent every 4 beats (2.4 s: its reverb dies away before the next), 2 = a kick accent on every beat. */
const PATTERNS = {
  scale: { root: 48, intervals: [0, 2, 4, 7, 9] },
  beatsPerBar: 4,
  patterns: [
    { name: 'probe', voice: 'hat', pitches: [0], steps: 'X.......', subdivisions: ['1/8'], colour: '#c9d1d9', gain: 1 },
    { name: 'thump', voice: 'kick', pitches: [0], steps: 'X', subdivisions: ['1/4'], colour: '#e4572e', gain: 1 },
  ],
};
const HIT_GAP = 2.4;

/** Energy of the two channels summed. */
function energy(w: { l: number[]; r: number[] }): number {
  let e = 0;
  for (let i = 0; i < w.l.length; i++) e += w.l[i]! ** 2 + w.r[i]! ** 2;
  return e;
}
/** High-frequency share: energy of the first difference over the energy (2 − 2·lag-1 autocorrelation): a weighted mean of 4 sin²(ω/2) over the spectrum. */
function brightness(w: { l: number[]; r: number[] }): number {
  let d = 0;
  for (let i = 1; i < w.l.length; i++) d += (w.l[i]! - w.l[i - 1]!) ** 2 + (w.r[i]! - w.r[i - 1]!) ** 2;
  return d / energy(w);
}

describe.skipIf(!plan.run)('music space and mix (Chromium, independent tap)', () => {
  let browser: Browser;
  let server: RunningServer;
  const pages: OpenPage[] = [];

  beforeAll(async () => {
    if (!plan.chromium) throw new Error(`browser tests cannot run: ${INSTALL_HINT}`);
    buildClient();
    browser = await launchBrowser();
    const dir = mkdtempSync(join(tmpdir(), 'music-space-'));
    const file = join(dir, 'patterns.json');
    writeFileSync(file, JSON.stringify(PATTERNS));
    server = await startTestServer({ mode: 'music', tempo: BPM, patterns: file });
  });

  afterAll(async () => {
    for (const p of pages) await p.context.close().catch(() => {});
    await browser?.close();
    await server?.close();
  });

  async function playing(hash: string): Promise<Page> {
    const open = await openMusicPage(browser, `${server.url}/#${hash}`, { tap: true });
    pages.push(open);
    const p = open.page;
    await p.click('#music-play');
    await waitTap(p);
    await p.waitForFunction(() => (window as TapW).__tap!.frames() > 0.3 * (window as TapW).__tap!.sampleRate, undefined, { timeout: 5000 });
    return p;
  }

  it('a far hit is duller and has more tail than a near one; zooming out opens the space', async () => {
    server.store.set(100, 100, 1);
    const p = await playing('100,100,16');
    // Each listening position for two hits; the second is measured (the first may straddle the move).
    const listen = async (hash: string) => {
      await p.evaluate((h) => { location.hash = h; }, hash);
      await new Promise((r) => setTimeout(r, 200)); // the voice plan follows the view within 100 ms
      const from = await p.evaluate(() => (window as TapW).__tap!.now());
      await new Promise((r) => setTimeout(r, 2 * HIT_GAP * 1000 + 300));
      const { onsets, now } = await p.evaluate((from) => ({ onsets: (window as TapW).__tap!.onsets(from, 1e-4, 1000), now: (window as TapW).__tap!.now() }), from);
      // The latest hit whose tail window (to 1.7 s after it) has been recorded whole.
      const whole = onsets.filter((t) => t + 1.75 < now);
      expect(whole.length, `${hash}: onsets ${onsets} up to ${now}`).toBeGreaterThanOrEqual(1);
      const t = whole[whole.length - 1]! - 0.002;
      const { dry, tail, rate } = await p.evaluate((t) => {
        const tap = (window as TapW).__tap!;
        return { dry: tap.raw(t, 60), tail: tap.raw(t + 0.1, 1600), rate: tap.sampleRate };
      }, t);
      expect(tail.l.length).toBe(Math.round(1.6 * rate));
      return { hash, dryEnergy: energy(dry), tailDb: 10 * Math.log10(energy(tail) / energy(dry)), brightness: brightness(dry) };
    };
    // Near: the cell at the centre; far: the view 43 cells below it (half-diagonal 36 cells at zoom 16 on
    // 960×640: d = 1.2, pan 0); zoomed out: the cell at the centre again, 1 CSS px per cell.
    const near = await listen('#100,100,16');
    const far = await listen('#100,143,16');
    const out = await listen('#100,100,1');
    const fmt = (m: typeof near) => `${m.hash}: dry ${(10 * Math.log10(m.dryEnergy)).toFixed(1)} dB, tail/dry ${m.tailDb.toFixed(1)} dB, brightness ${m.brightness.toFixed(3)}`;
    console.log(`space: ${[near, far, out].map(fmt).join('; ')}`);
    expect(far.dryEnergy).toBeLessThan(near.dryEnergy); // quieter with distance (as before)
    // Relative to its own level, the far hit has lost its highs and has a reverb tail; the near one is dry
    // (its tail window holds nothing above -40 dB of the hit, or nothing at all).
    expect(far.brightness).toBeLessThan(0.7 * near.brightness);
    expect(near.tailDb).toBeLessThan(-40);
    expect(far.tailDb).toBeGreaterThan(-16);
    // Zoomed out: the room opens (a tail where there was none), the same brightness (distance dulls, zoom does not).
    expect(out.tailDb).toBeGreaterThan(-24);
    expect(out.tailDb).toBeGreaterThan(near.tailDb + 15);
    expect(Math.abs(out.brightness / near.brightness - 1)).toBeLessThan(0.15);
    server.store.set(100, 100, 0);
  }, 60_000);

  it('a dense region never exceeds the limiter ceiling and does not clip; driven 12 dB past full scale, the limiter still holds it', async () => {
    // 20 × 15 kicks around (300, 300), all on the beat at the same pitch: they add in phase.
    const cells: { x: number; y: number; value: number }[] = [];
    for (let y = 293; y < 308; y++) for (let x = 290; x < 310; x++) cells.push({ x, y, value: 2 });
    for (const c of cells) server.store.set(c.x, c.y, c.value);
    const p = await playing('300,300,16');
    const from = await p.evaluate(() => (window as TapW).__tap!.now());
    await new Promise((r) => setTimeout(r, 3000));
    const { peak, onsets } = await p.evaluate((from) => {
      const tap = (window as TapW).__tap!;
      return { peak: tap.peaksDb([from], 3000)[0]!, onsets: tap.onsets(from, 1e-3, 200).length };
    }, from);
    const view = await p.evaluate(() => (window as MusicWindow).__music!.listenerView());
    const r = await p.evaluate(async ([cells, view]) => {
      const m = (window as MusicWindow).__music!;
      const render = (limiter: boolean, driveDb: number) => m.renderOffline({ cells, view, seconds: 3, bpm: 100, stems: false, mix: { limiter, driveDb } }).then((r) => 20 * Math.log10(r.peak));
      return { plain: await render(false, 0), limited: await render(true, 0), hot: await render(false, 12), hotLimited: await render(true, 12) };
    }, [cells, view] as const);
    console.log(`dense region (${cells.length} kicks): live peak ${peak.toFixed(2)} dBFS over ${onsets} beats (ceiling ${LIMITER.ceilingDb} dBFS); offline ${r.limited.toFixed(2)} dBFS (${r.plain.toFixed(2)} without the limiter); driven +12 dB: ${r.hotLimited.toFixed(2)} dBFS (${r.hot.toFixed(2)} without)`);
    expect(onsets).toBeGreaterThanOrEqual(4);
    expect(peak).toBeLessThanOrEqual(LIMITER.ceilingDb);
    expect(peak).toBeGreaterThan(LIMITER.ceilingDb - 12); // loud, not silenced
    expect(r.limited).toBeLessThanOrEqual(LIMITER.ceilingDb);
    // Below the threshold the limiter leaves the region alone; driven past full scale it holds the ceiling.
    expect(Math.abs(r.limited - r.plain)).toBeLessThan(r.plain < LIMITER.thresholdDb ? 0.1 : Infinity);
    expect(r.hot).toBeGreaterThan(0); // would clip
    expect(r.hotLimited).toBeLessThanOrEqual(LIMITER.ceilingDb);
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await p.screenshot({ path: join(ROOT, 'test-artifacts/music-dense.png') });
    for (const c of cells) server.store.set(c.x, c.y, 0);
  }, 60_000);

  it('silence is digital zero: nothing in view from the start, and once the last tail has died away', async () => {
    const p = await playing('700,700,16');
    const from = await p.evaluate(() => (window as TapW).__tap!.now());
    await new Promise((r) => setTimeout(r, 1000));
    const empty = await p.evaluate((from) => (window as TapW).__tap!.raw(from, 900), from);
    expect(empty.l.length).toBeGreaterThan(30_000);
    expect(empty.l.every((v) => v === 0) && empty.r.every((v) => v === 0)).toBe(true);
    // A hit in view, then the cell erased: sound, then (after the reverb's 1.6 s and the filters' tails) zero.
    const bot = await nodeClient(server.wsUrl);
    const heardFrom = await p.evaluate(() => (window as TapW).__tap!.now());
    expect(await placeFrom(bot, 700, 700, 1)).toBe(0);
    await p.waitForFunction((t) => (window as TapW).__tap!.onsets(t, 1e-3, 1000).length > 0, heardFrom, { timeout: 8000 });
    expect(await placeFrom(bot, 700, 700, 0)).toBe(0);
    bot.close();
    await new Promise((r) => setTimeout(r, 2500 + HIT_GAP * 1000));
    const end = await p.evaluate(() => (window as TapW).__tap!.now());
    const after = await p.evaluate((t) => (window as TapW).__tap!.raw(t - 0.5, 500), end);
    const nonZero = after.l.filter((v) => v !== 0).length + after.r.filter((v) => v !== 0).length;
    expect(nonZero, `max ${Math.max(...after.l.map(Math.abs), ...after.r.map(Math.abs))}`).toBe(0);
  }, 60_000);

  it('offline: the limiter is transparent below its threshold; heard onsets are on the beat grid', async () => {
    const open = await openMusicPage(browser, `${server.url}/#100,100,16`);
    pages.push(open);
    const r = await open.page.evaluate(async () => {
      const m = (window as MusicWindow).__music!;
      const view = { cx: 100.5, cy: 100.5, halfW: 30, halfH: 20, zoom: 16 };
      const render = (limiter: boolean) => m.renderOffline({ cells: [{ x: 100, y: 100, value: 1 }], view, seconds: 5, bpm: 100, stems: false, mix: { limiter }, threshold: 1e-4, gapMs: 1000 });
      const [on, off] = [await render(true), await render(false)];
      return { on: { rms: on.rms, onsets: on.onsets, latency: on.latency, sampleRate: on.sampleRate }, off: { rms: off.rms, onsets: off.onsets } };
    });
    const db = 20 * Math.log10(r.on.rms[0] / r.off.rms[0]);
    console.log(`limiter below threshold: ${db.toFixed(3)} dB; look-ahead ${(r.on.latency * 1000).toFixed(2)} ms; onsets ${r.on.onsets.map((t) => t.toFixed(5))}`);
    expect(Math.abs(db)).toBeLessThan(0.1);
    expect(r.on.latency).toBeGreaterThan(0);
    // Hits at beats 0 and 4 (2.4 s); to the frame, or near it (the attack's first frames may be under the threshold).
    expect(r.on.onsets.length).toBe(3);
    r.on.onsets.forEach((t, i) => expect(Math.abs(t - i * HIT_GAP) * r.on.sampleRate, `onset ${i} at ${t}`).toBeLessThan(4));
    r.off.onsets.forEach((t, i) => expect(Math.abs(t - r.on.onsets[i]!) * r.on.sampleRate).toBeLessThan(4));
  }, 60_000);
});
