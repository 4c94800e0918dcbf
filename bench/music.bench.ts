/**
 * Music mode in Chromium (playwright-core driving /usr/bin/chromium, client built by `npm run bench`'s build):
 *   1. clock agreement: two pages on one server, each page's estimate of the server clock against the shared
 *      wall clock, sampled every 100 ms; the difference between pages is their beat-phase disagreement.
 *   2. scheduling jitter: one page playing a sixteenth-note cell live; each note's scheduled AudioContext time
 *      against a straight line through all of them (the grid as the audio clock sees it).
 *   3. render budget: 1,000 active cells in view, voice cap 32, 10 s through an OfflineAudioContext; render
 *      time as a fraction of real time, with the whole mix (distance buckets, reverb, limiter), then the
 *      same notes with only panning (what the mix itself costs).
 *   0. (in Node, first) planVoices over 100,000 sounding cells: a zoomed-out view of a busy canvas; then the
 *      clock bias: PING round trips on a 60 Hz server kept ticking by a painter (a PONG that waited for the
 *      tick would add up to a period, half of it to the offset estimate).
 *   2b. the look-ahead's cost: scheduled-but-unstarted notes while playing (500 ms window, cancellation).
 */
import { existsSync } from 'node:fs';
import { chromium, type Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { PROTOCOL_VERSION, decodeServerMessages, encodeHello, encodePing, encodePlace } from '../src/net/protocol.js';
import { DEFAULTS } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startServer } from '../src/server.js';
import { loadPatternFile, defaultPatternFile } from '../src/music/pattern-file.js';
import { planVoices, type MusicCell } from '../src/music/scheduler.js';

const CHROMIUM = '/usr/bin/chromium';
/** The part of the page's `window.__music` (client/src/music/music-mode.ts) this bench uses; declared here so the build does not pull the browser client into dist/. */
interface MusicHook {
  synced: boolean;
  offsetMs: number;
  playing: boolean;
  notesLate: number;
  pendingNotes: number;
  notesCancelled: number;
  patterns: { name: string; stepsPerBeat: number }[];
  localNow(): number;
  takeTrace(): { local: number; audio: number; value: number }[];
  renderOffline(req: { cells: MusicCell[]; view: { cx: number; cy: number; halfW: number; halfH: number; zoom: number }; seconds: number; bpm: number; stems?: boolean; mix?: { space?: boolean; limiter?: boolean } }):
    Promise<{ renderMs: number; voices: number; notes: number; peak: number }>;
}
type MusicWindow = Window & { __music?: MusicHook };

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export async function run(opts: { quick?: boolean } = {}): Promise<unknown> {
  if (!existsSync(CHROMIUM)) {
    console.log(`music bench skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
    return { skipped: true };
  }
  const quick = opts.quick === true;
  const patterns0 = loadPatternFile(defaultPatternFile()).patterns;
  const many: MusicCell[] = [];
  for (let i = 0; i < 100_000; i++) many.push({ x: (i * 7919) % 1024, y: Math.floor((i * 7919) / 1024) % 1024, value: 1 + (i % (patterns0.length - 1)) });
  let planBest = Infinity;
  for (let r = 0; r < (quick ? 5 : 30); r++) {
    const t = performance.now();
    planVoices(many, patterns0, { cx: 512 + r, cy: 512, halfW: 800, halfH: 533, zoom: 0.6 });
    planBest = Math.min(planBest, performance.now() - t);
  }
  console.log(`planVoices, 100,000 sounding cells in hearing, cap 32: best ${planBest.toFixed(1)} ms`);
  const server = await startServer({ ...DEFAULTS, port: 0, inMemory: true, logLevel: 'silent', mode: 'music', tempo: 100, paintRate: 1e6, paintBurst: 1e6 }, { log: createLogger('silent') });
  const bias = await clockBias(server.wsUrl, quick ? 50 : 400);
  console.log(`clock bias: PING/PONG on a 60 Hz server ticking for a painter, ${bias.samples} round trips: p50 ${bias.p50Ms.toFixed(3)} ms, p99 ${bias.p99Ms.toFixed(3)} ms (a PONG held for the tick: up to 16.7 ms, half of it offset bias)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required'] });
  const open = async (hash: string): Promise<Page> => {
    const ctx = await browser.newContext({ viewport: { width: 960, height: 640 } });
    const page = await ctx.newPage();
    await page.goto(`${server.url}/#${hash}`);
    await page.waitForFunction(() => (window as MusicWindow).__music?.synced === true, undefined, { timeout: 10_000 });
    return page;
  };
  try {
    // 1. Clock agreement
    const a = await open('200,200,8');
    const b = await open('600,600,8');
    const est = (p: Page) => p.evaluate(() => (window as MusicWindow).__music!.serverMinusWallMs());
    const samples = quick ? 20 : 200;
    const spread: number[] = [];
    const error: number[] = [];
    for (let i = 0; i < samples; i++) {
      const [ea, eb] = await Promise.all([est(a), est(b)]);
      spread.push(Math.abs(ea - eb));
      error.push(Math.abs(ea), Math.abs(eb));
      await new Promise((r) => setTimeout(r, 100));
    }
    spread.sort((x, y) => x - y);
    error.sort((x, y) => x - y);
    const clock = { samples, spreadP50Ms: pct(spread, 0.5), spreadP99Ms: pct(spread, 0.99), spreadMaxMs: spread[spread.length - 1], vsServerP99Ms: pct(error, 0.99) };
    console.log(`clock agreement, two pages, ${samples} samples over ${(samples / 10).toFixed(0)} s: spread p50 ${clock.spreadP50Ms.toFixed(2)} ms, p99 ${clock.spreadP99Ms.toFixed(2)} ms, max ${clock.spreadMaxMs!.toFixed(2)} ms; each page vs the server clock p99 ${clock.vsServerP99Ms.toFixed(2)} ms`);

    // 2. Scheduling jitter, live: one "arp" cell (xxxx) at 1/16 in the middle of page a's view.
    const patterns = await a.evaluate(() => (window as MusicWindow).__music!.patterns);
    const arp = patterns.findIndex((p) => p.name === 'arp' && p.stepsPerBeat === 4);
    server.store.set(200, 200, arp);
    await a.evaluate(() => location.hash = '#200,200,16');
    await a.click('#music-play');
    await a.waitForFunction(() => (window as MusicWindow).__music!.playing, undefined, { timeout: 5000 });
    await a.evaluate(() => (window as MusicWindow).__music!.takeTrace());
    await new Promise((r) => setTimeout(r, quick ? 2000 : 10_000));
    const trace = await a.evaluate(() => (window as MusicWindow).__music!.takeTrace());
    const pending: number[] = [];
    for (let i = 0; i < (quick ? 20 : 100); i++) {
      pending.push(await a.evaluate(() => (window as MusicWindow).__music!.pendingNotes));
      await new Promise((r) => setTimeout(r, 20));
    }
    pending.sort((x, y) => x - y);
    const lookahead = { pendingP50: pct(pending, 0.5), pendingMax: pending[pending.length - 1]!, cancelled: await a.evaluate(() => (window as MusicWindow).__music!.notesCancelled) };
    console.log(`look-ahead 500 ms, one 1/16 cell: notes scheduled not yet started p50 ${lookahead.pendingP50}, max ${lookahead.pendingMax} (a 120 ms window held ~1-2); cancelled and re-planned so far: ${lookahead.cancelled}`);
    const late = await a.evaluate(() => (window as MusicWindow).__music!.notesLate);
    const sampleRate = await a.evaluate(() => new AudioContext().sampleRate);
    // Least-squares line audio = p + q·local; residuals are the jitter the audio clock sees.
    const n = trace.length;
    const mx = trace.reduce((s, t) => s + t.local, 0) / n;
    const my = trace.reduce((s, t) => s + t.audio, 0) / n;
    let sxy = 0;
    let sxx = 0;
    for (const t of trace) { sxy += (t.local - mx) * (t.audio - my); sxx += (t.local - mx) ** 2; }
    const q = sxy / sxx;
    const resid = trace.map((t) => Math.abs(t.audio - (my + q * (t.local - mx))) * 1000).sort((x, y) => x - y);
    const quantumMs = (128 / sampleRate) * 1000;
    const jitter = { notes: n, late, maxMs: resid[n - 1], p99Ms: pct(resid, 0.99), quantumMs };
    console.log(`scheduling jitter, live, ${n} notes: p99 ${jitter.p99Ms!.toFixed(3)} ms, max ${jitter.maxMs!.toFixed(3)} ms (one render quantum = ${quantumMs.toFixed(2)} ms at ${sampleRate} Hz); late notes skipped: ${late}`);

    // 3. 1,000 active cells, 10 s offline.
    const seconds = quick ? 2 : 10;
    const renderCells = (seconds: number, mix: { space?: boolean; limiter?: boolean } | undefined) => a.evaluate(async ([seconds, mix]) => {
      const m = (window as MusicWindow).__music!;
      const cells: { x: number; y: number; value: number }[] = [];
      for (let i = 0; i < 1000; i++) cells.push({ x: 300 + ((i * 37) % 60), y: 300 + ((i * 91) % 40), value: 1 + (i % (m.patterns.length - 1)) });
      return m.renderOffline({ cells, view: { cx: 330, cy: 320, halfW: 30, halfH: 20, zoom: 16 }, seconds, bpm: 100, stems: false, ...(mix ? { mix } : {}) });
    }, [seconds, mix] as const);
    // Three renders of each, alternating: on a shared machine one render can lose a few hundred ms to
    // another process; the median is the figure.
    const full: number[] = [];
    const bareMs: number[] = [];
    let render = await renderCells(seconds, undefined);
    for (let i = 0; i < (quick ? 1 : 3); i++) {
      if (i > 0) render = await renderCells(seconds, undefined);
      full.push(render.renderMs);
      bareMs.push((await renderCells(seconds, { space: false, limiter: false })).renderMs);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
    const ratio = median(full) / (seconds * 1000);
    const bareRatio = median(bareMs) / (seconds * 1000);
    const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    console.log(`1,000 active cells in view: ${render.voices} voices (cap 32), ${render.notes} notes in ${seconds} s, rendered in ${list(full)} ms: median ${ratio.toFixed(3)}× real time; peak ${render.peak.toFixed(2)}`);
    console.log(`  the same notes panned only (no distance buckets, reverb or limiter): ${list(bareMs)} ms: median ${bareRatio.toFixed(3)}× real time`);
    return {
      planVoices100kMs: planBest, clockBias: bias, clock, jitter, lookahead,
      render: { seconds, voices: render.voices, notes: render.notes, renderMs: full, ratio, peak: render.peak, bareRenderMs: bareMs, bareRatio },
    };
  } finally {
    await browser.close();
    await server.close();
  }
}

/** PING round trips over loopback while a painter keeps the server's tick loop on its 60 Hz grid. */
async function clockBias(url: string, count: number): Promise<{ samples: number; p50Ms: number; p99Ms: number }> {
  const join = async (name: string) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    await new Promise<void>((r, j) => { ws.once('open', () => r()); ws.once('error', j); });
    ws.send(encodeHello(PROTOCOL_VERSION, name));
    return ws;
  };
  const painter = await join('painter');
  const pinger = await join('pinger');
  let seq = 0;
  const paint = setInterval(() => painter.send(encodePlace(++seq, [{ x: seq % 64, y: 1, color: 1 + (seq % 8) }])), 5);
  const sent = new Map<number, number>();
  const rtts: number[] = [];
  pinger.on('message', (data: Buffer) => {
    const at = performance.now();
    for (const m of decodeServerMessages(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))) {
      if (m.type === 'pong' && sent.has(m.nonce)) rtts.push(at - sent.get(m.nonce)!);
    }
  });
  await new Promise((r) => setTimeout(r, 200));
  for (let i = 1; i <= count; i++) {
    sent.set(i, performance.now());
    pinger.send(encodePing(i));
    await new Promise((r) => setTimeout(r, 7 + (i % 11))); // at every phase of the tick
  }
  await new Promise((r) => setTimeout(r, 100));
  clearInterval(paint);
  painter.close();
  pinger.close();
  rtts.sort((x, y) => x - y);
  return { samples: rtts.length, p50Ms: pct(rtts, 0.5), p99Ms: pct(rtts, 0.99) };
}
