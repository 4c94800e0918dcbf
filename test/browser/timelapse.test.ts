/**
 * The timelapse in a real Chromium, at 1280×800 and at 390×844 with touch: it plays on the canvas itself
 * (a layer at canvas coordinates, so it follows pan and zoom and keeps the region's aspect ratio), starts
 * just before the first placement in range rather than at the range start, has a scrubber showing the
 * time, a link that replays the same region and range, a WebM export, and retries once after a 503 BUSY.
 * Screenshots go to test-artifacts/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RunningServer } from '../../src/server.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import {
  INSTALL_HINT, ROOT, browserSuitePlan, buildClient, launchBrowser, nodeClient, placeFrom, startTestServer, toScreen, waitReady,
} from './harness.js';

const plan = browserSuitePlan();
const ARTIFACTS = join(ROOT, 'test-artifacts');
const SIZES = [
  { name: 'desktop', viewport: { width: 1280, height: 800 }, touch: false },
  { name: 'phone', viewport: { width: 390, height: 844 }, touch: true },
] as const;

type Tl = NonNullable<Window['__pixelCanvas']>['tools']['timelapse'];
const tl = (page: Page): Promise<Tl> => page.evaluate(() => window.__pixelCanvas!.tools.timelapse);
const rgbOf = (i: number): number[] => { const c = DEFAULT_PALETTE[i]!; return [(c >> 16) & 255, (c >> 8) & 255, c & 255]; };

/** The timelapse layer's colour over canvas pixel (x, y), at wherever the camera shows that pixel now. */
async function layerAt(page: Page, x: number, y: number): Promise<number[]> {
  const s = await toScreen(page, x + 0.5, y + 0.5);
  return page.evaluate(([sx, sy]) => {
    const el = document.getElementById('timelapse-layer') as HTMLCanvasElement;
    const k = el.width / el.clientWidth;
    return [...el.getContext('2d')!.getImageData(Math.floor(sx! * k), Math.floor(sy! * k), 1, 1).data];
  }, [s.x, s.y]);
}

describe.skipIf(!plan.run)('timelapse (Chromium)', () => {
  let browser: Browser;
  let server: RunningServer;
  let placedFrom = 0;
  const contexts: BrowserContext[] = [];

  async function open(size: (typeof SIZES)[number], url: string): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext({ viewport: size.viewport, hasTouch: size.touch, isMobile: size.touch, deviceScaleFactor: 1 });
    contexts.push(context);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`); });
    await page.goto(url);
    await waitReady(page);
    return { page, errors };
  }

  beforeAll(async () => {
    if (!plan.chromium) throw new Error(`browser tests cannot run: ${INSTALL_HINT}`);
    buildClient();
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchBrowser();
    server = await startTestServer({ paintRate: 100, paintBurst: 100 });
    const bot = await nodeClient(server.wsUrl, 'tl');
    placedFrom = Date.now();
    for (const [x, c] of [[400, 3], [401, 4], [402, 5]] as const) expect(await placeFrom(bot, x, 400, c)).toBe(0);
    bot.close();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await server?.close();
  });

  for (const size of SIZES) {
    it(`${size.name}: plays on the canvas from the first placement, follows pan and zoom, scrubs, links, saves WebM`, async () => {
      const { page, errors } = await open(size, `${server.url}/#401,400,16`);
      await page.click('#tool-timelapse');
      await page.selectOption('#timelapse-range', '600000');
      await page.selectOption('#timelapse-speed', '1');
      await page.click('#timelapse-play');
      await page.waitForFunction(() => window.__pixelCanvas!.tools.timelapse.phase === 'playing');
      const s0 = await tl(page);
      expect(s0.total).toBe(3);
      // Not ten minutes of an unchanged picture: playback starts one second (at 1×) before the first placement.
      expect(s0.from).toBeGreaterThanOrEqual(placedFrom - 1500);
      expect(s0.to - s0.from).toBeLessThan(10_000);
      expect(s0.applied).toBe(0);
      // On the canvas itself: the layer over (402, 400) shows the state at the start (the white background).
      expect((await layerAt(page, 402, 400)).slice(0, 3)).toEqual([255, 255, 255]);
      await page.waitForFunction(() => window.__pixelCanvas!.tools.timelapse.phase === 'done', undefined, { timeout: 8000 });
      expect((await tl(page)).applied).toBe(3);
      expect((await layerAt(page, 402, 400)).slice(0, 3)).toEqual(rgbOf(5));
      expect(Number(await page.inputValue('#timelapse-progress'))).toBe(1000);

      // The region is the view, not a square: its proportions are the screen's (the view is well inside the canvas).
      const link = (await page.getAttribute('#timelapse-link', 'href'))!;
      const [, , w, h, since, until] = /&timelapse=([\d,]+)$/.exec(link)![1]!.split(',').map(Number) as number[];
      const stage = (await page.locator('#canvas').boundingBox())!;
      expect(w! / h!).toBeCloseTo(stage.width / stage.height, 1);
      expect(until! - since!).toBe(600_000);

      // Pan and zoom while it shows: the replayed pixel stays on its canvas pixel.
      const v0 = await page.evaluate(() => window.__pixelCanvas!.view);
      await page.click('#zoom-in');
      await page.keyboard.down('ArrowRight');
      await page.waitForTimeout(150);
      await page.keyboard.up('ArrowRight');
      await expect.poll(async () => (await page.evaluate(() => window.__pixelCanvas!.view)).zoom).toBeGreaterThan(v0.zoom);
      expect((await page.evaluate(() => window.__pixelCanvas!.view)).x).toBeGreaterThan(v0.x);
      await page.waitForTimeout(300);
      expect((await layerAt(page, 402, 400)).slice(0, 3)).toEqual(rgbOf(5));
      expect((await layerAt(page, 400, 400)).slice(0, 3)).toEqual(rgbOf(3));

      // The scrubber: back to the start shows the start state and the time of that moment.
      await page.$eval('#timelapse-progress', (el) => {
        (el as HTMLInputElement).value = '0';
        el.dispatchEvent(new Event('input'));
      });
      expect((await tl(page)).applied).toBe(0);
      expect(await page.textContent('#timelapse-time')).toMatch(/\d{1,2}:\d{2}:\d{2}.*0\/3 placements/);
      expect((await layerAt(page, 400, 400)).slice(0, 3)).toEqual([255, 255, 255]);
      await page.screenshot({ path: join(ARTIFACTS, `timelapse-scrub-${size.name}.png`) });

      // The GIF of the same range.
      const gif = await page.getAttribute('#timelapse-gif', 'href');
      expect((await fetch(new URL(gif!, server.url))).headers.get('content-type')).toBe('image/gif');

      // A WebM video of the replay, recorded in the browser.
      await page.selectOption('#timelapse-speed', '3600');
      await page.click('#timelapse-record');
      await page.waitForFunction(() => window.__pixelCanvas!.tools.timelapse.videoBytes > 0, undefined, { timeout: 20_000 });
      expect(await page.getAttribute('#timelapse-video', 'download')).toMatch(/\.webm$/);
      const head = (await tl(page)).videoHead;
      expect(head).toEqual([0x1a, 0x45, 0xdf, 0xa3]); // the EBML magic every WebM file starts with
      await page.screenshot({ path: join(ARTIFACTS, `timelapse-${size.name}.png`) });
      expect(errors).toEqual([]);

      // The link opens the same region and range, and plays it.
      const other = await open(size, link);
      await other.page.waitForFunction(() => ['playing', 'done'].includes(window.__pixelCanvas!.tools.timelapse.phase));
      expect(await other.page.isVisible('#timelapse-panel')).toBe(true);
      expect((await tl(other.page)).total).toBe(3);
      // Its link names the same replay (the view before it follows the viewer's camera).
      expect((await other.page.getAttribute('#timelapse-link', 'href'))!.split('&')[1]).toBe(link.split('&')[1]);
      expect(other.errors).toEqual([]);
    });
  }

  it('a 503 BUSY is retried once after Retry-After, saying so meanwhile', async () => {
    const { page, errors } = await open(SIZES[0], `${server.url}/#401,400,16`);
    let calls = 0;
    await page.route('**/api/timelapse?format=json*', async (route) => {
      if (calls++ === 0) {
        await route.fulfill({ status: 503, headers: { 'Retry-After': '1', 'Content-Type': 'application/json' }, body: '{"error":"BUSY","message":"busy"}' });
      } else {
        await route.continue();
      }
    });
    await page.click('#tool-timelapse');
    await page.selectOption('#timelapse-range', '600000');
    await page.click('#timelapse-play');
    await page.waitForFunction(() => /busy.*retrying in 1 s/.test(document.getElementById('timelapse-time')!.textContent ?? ''));
    await page.screenshot({ path: join(ARTIFACTS, 'timelapse-busy.png') });
    await page.waitForFunction(() => window.__pixelCanvas!.tools.timelapse.total === 3, undefined, { timeout: 5000 });
    expect(calls).toBe(2);
    // The 503 itself is logged by Chromium as a failed resource; nothing else may be.
    expect(errors.filter((e) => !/503/.test(e))).toEqual([]);
  });
});
