/**
 * What the voices sound like, measured on the audio itself. Live: one hat cell played by the page, recorded
 * by an independent tap before the destination (./music-tap.ts); every hit of one step of the loop is as
 * loud as the others within 0.5 dB (sample sources start on whole frames: a start between two samples is
 * interpolated, which dulls a hat by up to ~4 dB), and no hit carries a click. Offline (OfflineAudioContext,
 * each note alone on a stem channel): every voice, the snare and chord voices too, sounds as long as
 * client/README.md says, at any level.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { RunningServer } from '../../src/server.js';
import type { MusicHook } from '../../client/src/music/music-mode.js';
import { INSTALL_HINT, type OpenPage, browserSuitePlan, buildClient, launchBrowser, startTestServer } from './harness.js';
import { openMusicPage, openOnHat } from './music-page.js';
import { type TapWindow, waitTap } from './music-tap.js';

const plan = browserSuitePlan();
if (!plan.run) console.log(`browser tests skipped: ${INSTALL_HINT}`);

type MusicWindow = Window & { __music?: MusicHook };

describe.skipIf(!plan.run)('music voices (Chromium)', () => {
  let browser: Browser;
  let server: RunningServer;
  const pages: OpenPage[] = [];

  beforeAll(async () => {
    if (!plan.chromium) throw new Error(`browser tests cannot run: ${INSTALL_HINT}`);
    buildClient();
    browser = await launchBrowser();
    server = await startTestServer({ mode: 'music', tempo: 100 });
  });

  afterAll(async () => {
    for (const p of pages) await p.context.close().catch(() => {});
    await browser?.close();
    await server?.close();
  });

  it('a hat played live keeps its level from loop to loop within 0.5 dB (independent tap)', async () => {
    const { open, hat } = await openOnHat(browser, server, { tap: true });
    pages.push(open);
    const p = open.page;
    await p.click('#music-play');
    await waitTap(p);
    await p.waitForFunction(() => (window as unknown as TapWindow).__tap!.frames() > 0.5 * (window as unknown as TapWindow).__tap!.sampleRate, undefined, { timeout: 5000 });
    const from = await p.evaluate(() => (window as unknown as TapWindow).__tap!.now());
    await new Promise((r) => setTimeout(r, 4000)); // ~7 loops of the 600 ms pattern
    const { onsets, levels, peaks } = await p.evaluate((from) => {
      const tap = (window as unknown as TapWindow).__tap!;
      const onsets = tap.onsets(from, 1e-3, 25);
      const at = onsets.map((t) => t - 0.001);
      return { onsets, levels: tap.rmsDb(at, 45), peaks: tap.peaksDb(at, 45) };
    }, from);
    const step = 60 / (100 * hat.stepsPerBeat);
    const first = onsets[0]!;
    const n = hat.steps.length;
    const ks = onsets.map((t) => Math.round((t - first) / step));
    const s0 = [...Array(n).keys()].find((s) => ks.every((k) => hat.steps[(s + k) % n]! > 0))!;
    expect(s0).toBeDefined();
    // Per step of the loop (a hit and an accent differ by design), the spread of levels across loops.
    const byStep = new Map<number, number[]>();
    const peaksByStep = new Map<number, number[]>();
    ks.forEach((k, i) => {
      const s = (s0 + k) % n;
      byStep.set(s, [...(byStep.get(s) ?? []), levels[i]!]);
      peaksByStep.set(s, [...(peaksByStep.get(s) ?? []), peaks[i]!]);
    });
    const spreads = [...byStep].map(([s, l]) => ({ step: s, loops: l.length, spread: Math.max(...l) - Math.min(...l), mean: l.reduce((a, b) => a + b, 0) / l.length }));
    console.log(`hat levels per step: ${spreads.map((s) => `step ${s.step}: ${s.loops} loops, ${s.mean.toFixed(2)} dB, spread ${s.spread.toFixed(3)} dB`).join('; ')}`);
    expect(onsets.length).toBeGreaterThanOrEqual(15);
    for (const s of spreads) {
      expect(s.loops).toBeGreaterThanOrEqual(5);
      expect(s.spread, `step ${s.step}`).toBeLessThanOrEqual(0.5);
      // Peaks too: a click (one frame at the envelope's default gain of 1 before its first event) showed as
      // a 10 dB peak on one hit in a few.
      const p = peaksByStep.get(s.step)!;
      expect(Math.max(...p) - Math.min(...p), `step ${s.step} peaks ${p.map((x) => x.toFixed(2))}`).toBeLessThanOrEqual(0.5);
    }
    expect(open.errors).toEqual([]);
  }, 60_000);

  it('each voice sounds as long as documented (to 60 dB below its peak), and as long when quieter', async () => {
    const open = await openMusicPage(browser, `${server.url}/#100,100,16`);
    pages.push(open);
    const p = open.page;
    // client/README.md, "Voices": a hit every 2 beats at 100 bpm, so the gate is 2 × 0.6 s × 0.9 = 1.08 s.
    const documented: Record<string, number> = {
      pad: 1.08 + 0.83, pluck: 0.625, lead: 1.08 + 0.28, arp: 1.08 + 0.21, bass: 1.08 + 0.21, kick: 0.31, hat: 0.056, bell: 1.73,
      snare: 0.243, chord: 1.08 + 1.04, stab: 0.487,
    };
    const names = ['pad', 'pluck', 'lead', 'arp', 'bass', 'kick', 'hat', 'bell', 'snare', 'chord', 'stab'];
    const res = await p.evaluate(async (names) => {
      const m = (window as MusicWindow).__music!;
      const out: { near: number[]; far: number[]; nearPeak: number; farPeak: number }[] = [];
      for (let voice = 0; voice < names.length; voice++) {
        const patterns = [m.patterns[0]!, { group: 1, name: 'probe', voice, stepsPerBeat: 1, steps: [2, 0], pitches: [48], gain: 1, colour: 0 }];
        const render = (zoom: number) => m.renderOffline({ cells: [{ x: 100, y: 100, value: 1 }], patterns, view: { cx: 100.5, cy: 100.5, halfW: 30, halfH: 20, zoom }, seconds: 4.5, bpm: 100 });
        const near = await render(16);
        const far = await render(1); // zoomed out: 12 dB quieter
        out.push({ near: near.audible.slice(0, 3), far: far.audible.slice(0, 3), nearPeak: near.peak, farPeak: far.peak });
      }
      return out;
    }, names);
    const lines: string[] = [];
    res.forEach((r, voice) => {
      const name = names[voice]!;
      const want = documented[name]!;
      const db = 20 * Math.log10(r.farPeak / r.nearPeak);
      lines.push(`${name}: ${(r.near[0]! * 1000).toFixed(0)} ms (documented ${(want * 1000).toFixed(0)}), ${db.toFixed(1)} dB quieter: ${(r.far[0]! * 1000).toFixed(0)} ms`);
      expect(db, name).toBeLessThan(-6);
      for (const a of r.near) expect(Math.abs(a - want), `${name}: ${a}`).toBeLessThanOrEqual(0.08 * want + 0.03);
      // Level-independent: the same envelope, scaled.
      for (let i = 0; i < r.near.length; i++) expect(Math.abs(r.far[i]! - r.near[i]!), `${name} quieter: ${r.near} vs ${r.far}`).toBeLessThan(0.003);
    });
    console.log(`audible lengths: ${lines.join('; ')}`);
    // Every voice at every octave a pattern file can reach: its waves are made per octave (client/src/music/waves.ts).
    const range = await p.evaluate(async (names) => {
      const m = (window as MusicWindow).__music!;
      const pitches = Array.from({ length: 11 }, (_, i) => 12 + i * 11); // MIDI 12 .. 122
      const out: number[] = [];
      for (let voice = 0; voice < names.length; voice++) {
        const patterns = [m.patterns[0]!, { group: 1, name: 'range', voice, stepsPerBeat: 4, steps: [2], pitches, gain: 1, colour: 0 }];
        const r = await m.renderOffline({ cells: [{ x: 100, y: 100, value: 1 }], patterns, view: { cx: 100.5, cy: 100.5, halfW: 30, halfH: 20, zoom: 16 }, seconds: 1.6, bpm: 100 });
        out.push(r.notes === pitches.length && Number.isFinite(r.peak) ? r.audible.filter((a) => a > 0).length : -1);
      }
      return out;
    }, names);
    expect(range, 'stems with sound per voice (8 of 11 notes each)').toEqual(names.map(() => 8));
    // A pad and a chord hold across their rest step; drums stay short.
    expect(res[0]!.near[0]!).toBeGreaterThan(1.08);
    expect(res[9]!.near[0]!).toBeGreaterThan(1.08);
    expect(res[5]!.near[0]!).toBeLessThan(0.4);
    expect(res[6]!.near[0]!).toBeLessThan(0.1);
    expect(res[8]!.near[0]!).toBeLessThan(0.3);
    expect(open.errors).toEqual([]);
  }, 60_000);
});
