/**
 * The record control: one hat cell in sixteenths at 150 bpm, ● Rec pressed like a user (it starts playback),
 * ■ Save pressed 3 s later; the download is decoded by a fresh page of its own (decodeAudioData) and must
 * hold the hits the pattern plays, spaced on the sixteenth grid, with none missing between the first and the last.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { RunningServer } from '../../src/server.js';
import type { MusicHook } from '../../client/src/music/music-mode.js';
import { INSTALL_HINT, type OpenPage, browserSuitePlan, buildClient, launchBrowser, startTestServer } from './harness.js';
import { openOnHat } from './music-page.js';

const plan = browserSuitePlan();
if (!plan.run) console.log(`browser tests skipped: ${INSTALL_HINT}`);

type MusicWindow = Window & { __music?: MusicHook };
const BPM = 150;

describe.skipIf(!plan.run)('music recording (Chromium)', () => {
  let browser: Browser;
  let server: RunningServer;
  const pages: OpenPage[] = [];

  beforeAll(async () => {
    if (!plan.chromium) throw new Error(`browser tests cannot run: ${INSTALL_HINT}`);
    buildClient();
    browser = await launchBrowser();
    server = await startTestServer({ mode: 'music', tempo: BPM });
  });

  afterAll(async () => {
    for (const p of pages) await p.context.close().catch(() => {});
    await browser?.close();
    await server?.close();
  });

  it('● Rec then ■ Save downloads a recording that decodes and holds the notes played', async () => {
    const { open, hat } = await openOnHat(browser, server);
    pages.push(open);
    const p = open.page;
    await p.click('#music-record');
    await p.waitForFunction(() => document.getElementById('music-record')?.getAttribute('aria-pressed') === 'true', undefined, { timeout: 5000 }).catch((e) => { throw new Error(`${e} ${open.errors.join(' / ')}`); });
    expect(await p.evaluate(() => (window as MusicWindow).__music!.playing)).toBe(true);
    await new Promise((r) => setTimeout(r, 3000));
    const [download] = await Promise.all([p.waitForEvent('download', { timeout: 10_000 }), p.click('#music-record')]);
    expect(download.suggestedFilename()).toMatch(/^pixel-canvas-.*\.(webm|ogg)$/);
    const bytes = readFileSync((await download.path())!);
    expect(bytes.length).toBeGreaterThan(1000);

    // Decoded by another page, which knows nothing of the first.
    const context = await browser.newContext();
    pages.push({ context, page: await context.newPage(), errors: [] });
    const res = await pages[pages.length - 1]!.page.evaluate(async (b64) => {
      const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const ctx = new OfflineAudioContext(1, 1, 48_000);
      const buf = await ctx.decodeAudioData(raw.buffer);
      const chans = [...Array(buf.numberOfChannels).keys()].map((c) => buf.getChannelData(c));
      let peak = 0;
      for (const c of chans) for (const x of c) peak = Math.max(peak, Math.abs(x));
      const threshold = peak / 30; // 30 dB below the loudest hit: a hit, not codec noise
      const gap = Math.round(0.025 * buf.sampleRate);
      const onsets: number[] = [];
      let quiet = gap;
      for (let i = 0; i < buf.length; i++) {
        let a = 0;
        for (const c of chans) a = Math.max(a, Math.abs(c[i]!));
        if (a > threshold) { if (quiet >= gap) onsets.push(i / buf.sampleRate); quiet = 0; } else quiet++;
      }
      // A recording may begin inside a hit: what sounds in its first 50 ms is no onset.
      return { seconds: buf.duration, peak, onsets: onsets.filter((t) => t > 0.05) };
    }, bytes.toString('base64'));

    const step = 60 / (BPM * hat.stepsPerBeat);
    // Step by step (the recorder's timeline runs on its own clock: ~0.2 % off here, so whole-run drift is
    // not the page's), each interval a whole number of sixteenths.
    const ks = [0];
    const off: number[] = [0];
    for (let i = 1; i < res.onsets.length; i++) {
      const d = (res.onsets[i]! - res.onsets[i - 1]!) / step;
      ks.push(ks[i - 1]! + Math.round(d));
      off.push(Math.abs(d - Math.round(d)) * step);
    }
    const n = hat.steps.length;
    const s0 = [...Array(n).keys()].find((s) => ks.every((k) => hat.steps[(s + k) % n]! > 0));
    const got = new Set(ks);
    const missing: number[] = [];
    for (let k = 0; k <= ks[ks.length - 1]!; k++) if (s0 !== undefined && hat.steps[(s0 + k) % n]! > 0 && !got.has(k)) missing.push(k);
    console.log(`recording: ${bytes.length} bytes, ${res.seconds.toFixed(2)} s decoded, peak ${res.peak.toFixed(3)}, ${res.onsets.length} onsets, worst interval off the grid ${(Math.max(...off) * 1000).toFixed(2)} ms, missing [${missing.join(",")}]; intervals ${res.onsets.slice(1).map((t, i) => ((t - res.onsets[i]!) * 1000).toFixed(1)).join(" ")}`);
    expect(res.seconds).toBeGreaterThan(2);
    expect(res.onsets.length).toBeGreaterThanOrEqual(15);
    expect(Math.max(...off)).toBeLessThan(0.005);
    expect(s0).toBeDefined();
    expect(missing).toEqual([]);
    expect(open.errors).toEqual([]);
  }, 60_000);
});
