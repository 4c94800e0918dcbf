/**
 * The record control: one hat cell in sixteenths at 150 bpm, ● Rec pressed like a user (it starts playback),
 * ■ Save pressed 3 s later; the download is decoded by a fresh page of its own (decodeAudioData) and must
 * hold the notes the page played (its engine's trace), in order and spaced as they were scheduled, and those
 * are the hits the pattern plays on the sixteenth grid, with none missing between the first and the last.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { RunningServer } from '../../src/server.js';
import type { MusicHook } from '../../client/src/music/music-mode.js';
import { INSTALL_HINT, type OpenPage, browserSuitePlan, buildClient, launchBrowser, startTestServer } from './harness.js';
import { openOnHat } from './music-page.js';
import { mappingChanges, matchHeard, onPattern, playedNotes } from './music-played.js';

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
    await p.evaluate(() => (window as MusicWindow).__music!.takeTrace()); // the engine records what it schedules from here
    const remapsAtPlay = await p.evaluate(() => (window as MusicWindow).__music!.clockRemaps);
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
      const level = (i: number): number => {
        let a = 0;
        for (const c of chans) a = Math.max(a, Math.abs(c[i]!));
        return a;
      };
      // A hit is found where the level rises above 30 dB below the loudest after 25 ms below it. Its onset is
      // where it first reaches half its own peak: Opus spreads an attack over a millisecond or two before it
      // (pre-echo), and by more the louder the hit, so a fixed threshold would time loud and soft hits apart.
      const threshold = peak / 30;
      const ms = (x: number) => Math.round((x / 1000) * buf.sampleRate);
      const found: number[] = [];
      let quiet = ms(25);
      for (let i = 0; i < buf.length; i++) {
        if (level(i) > threshold) { if (quiet >= ms(25)) found.push(i); quiet = 0; } else quiet++;
      }
      const onsets = found.map((i) => {
        let top = 0;
        for (let k = i; k < Math.min(buf.length, i + ms(10)); k++) top = Math.max(top, level(k));
        let k = Math.max(0, i - ms(5));
        while (level(k) < top / 2) k++;
        return k / buf.sampleRate;
      });
      // The recorder's stream starts delivering a little after ● Rec (the file begins with up to ~0.1 s of
      // silence), and its first sound may be the middle of a hit: the first onset found is not timed.
      return { seconds: buf.duration, peak, onsets: onsets.slice(1) };
    }, bytes.toString('base64'));

    const played = playedNotes(await p.evaluate(() => (window as MusicWindow).__music!.takeTrace()));
    const remaps = (await p.evaluate(() => (window as MusicWindow).__music!.clockRemaps)) - remapsAtPlay;

    // The recording holds what the page played: its onsets, interval by interval, are the notes the page
    // scheduled (within what Opus and the onset measure blur: a lost or doubled stretch of audio is 10 ms
    // and more), none left out and none added; and those notes are the pattern's hits on the server's
    // sixteenth grid with none missing. (How far the page's sound strays from the grid on a busy machine
    // is bench/music.bench.ts's figure.)
    const match = matchHeard(res.onsets, played, 2);
    const { ks, offGridMs, phase, missing } = onPattern(match.notes, hat.steps, 60_000 / (BPM * hat.stepsPerBeat));
    const worst = Math.max(...match.errorsMs.map(Math.abs));
    console.log(`recording: ${bytes.length} bytes, ${res.seconds.toFixed(2)} s decoded, peak ${res.peak.toFixed(3)}, ${res.onsets.length} onsets, ${match.notes.length} matched with the ${played.length} notes played (worst interval ${worst.toFixed(2)} ms from the scheduled one, ${mappingChanges(match.notes)} mapping changes, ${remaps} re-anchorings), steps [${ks.join(',')}], missing [${missing.join(',')}]; intervals ${res.onsets.slice(1).map((t, i) => ((t - res.onsets[i]!) * 1000).toFixed(1)).join(' ')}`);
    expect(res.seconds).toBeGreaterThan(2);
    expect(res.onsets.length).toBeGreaterThanOrEqual(15);
    expect(match.notes.length, `onsets after the first ${match.notes.length} do not follow the notes played`).toBe(res.onsets.length);
    expect(offGridMs).toBeLessThan(0.01);
    // Each where the page's clock mapping put it: the mapping changed only when the engine re-anchored it.
    expect(mappingChanges(match.notes), `${remaps} re-anchorings`).toBeLessThanOrEqual(remaps);
    expect(phase, `steps ${ks.join(',')}`).toBeDefined();
    expect(missing).toEqual([]);
    expect(open.errors).toEqual([]);
  }, 60_000);
});
