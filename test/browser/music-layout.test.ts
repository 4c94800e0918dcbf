/**
 * Music mode readable in a real Chromium (issue 25, point 7), at 1280×800 and 390×844 (touch): every
 * pattern button's label has WCAG AA contrast (4.5:1) on its swatch, every painted cell stands out from
 * the silence on the canvas (3:1, the ratio for graphics), the pixel-only tools (Template, Heat, Replay)
 * are not offered, and no control overlaps another. Screenshots under test-artifacts/music.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import type { RunningServer } from '../../src/server.js';
import { contrast } from '../../client/src/music/contrast.js';
import { INSTALL_HINT, ROOT, browserSuitePlan, buildClient, launchBrowser, nodeClient, placeFrom, readPixel, startTestServer } from './harness.js';
import { DESKTOP, PHONE, layoutFaults, openScreen } from './layout-helpers.js';

const plan = browserSuitePlan();
if (!plan.run) console.log(`browser tests skipped: ${INSTALL_HINT}`);

const ARTIFACTS = join(ROOT, 'test-artifacts', 'music');
/** Where the test paints palette entry i. */
const cellX = (i: number) => 100 + 2 * ((i - 1) % 16);
const cellY = (i: number) => 100 + 2 * Math.floor((i - 1) / 16);

function cssRgb(css: string): number {
  const m = /rgba?\((\d+), (\d+), (\d+)/.exec(css);
  if (m === null) throw new Error(`not a colour: ${css}`);
  return (Number(m[1]) << 16) | (Number(m[2]) << 8) | Number(m[3]);
}

describe.skipIf(!plan.run)('music mode readability (Chromium)', () => {
  let browser: Browser;
  let server: RunningServer;
  let patterns = 0;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    if (!plan.chromium) throw new Error(`browser tests cannot run: ${INSTALL_HINT}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    buildClient();
    browser = await launchBrowser();
    server = await startTestServer({ mode: 'music', paintRate: 1000, paintBurst: 1000 });
    const bot = await nodeClient(server.wsUrl, 'cells');
    patterns = bot.welcome!.palette.length;
    // One cell of every pattern × subdivision, in rows of 16 with a silent cell between neighbours.
    for (let i = 1; i < patterns; i++) expect(await placeFrom(bot, cellX(i), cellY(i), i)).toBe(0);
    bot.close();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await server?.close();
  });

  for (const s of [DESKTOP, PHONE]) {
    it(`${s.name}: labels legible on their swatches, cells visible on the silence, no pixel-only tools`, async () => {
      const { context, page, errors } = await openScreen(browser, `${server.url}/#115,104,5`, s, 'dark');
      contexts.push(context);
      await page.waitForSelector('.music-swatch');
      for (const id of ['#tool-template', '#tool-heatmap', '#tool-timelapse']) expect(await page.isVisible(id), id).toBe(false);
      expect(await page.isVisible('#tool-info')).toBe(true);

      const swatches = await page.$$eval('.music-swatch', (els) => els.map((e) => {
        const cs = getComputedStyle(e);
        return { name: e.textContent, fg: cs.color, bg: cs.backgroundColor };
      }));
      expect(swatches.length).toBeGreaterThan(0);
      for (const w of swatches) expect(contrast(cssRgb(w.fg), cssRgb(w.bg)), `${w.name}: ${w.fg} on ${w.bg}`).toBeGreaterThanOrEqual(4.5);

      // Every subdivision's shade, as the canvas draws it, against a silent cell beside it.
      const silence = await readPixel(page, 99, 100);
      for (let i = 1; i < patterns; i++) {
        const cell = await readPixel(page, cellX(i), cellY(i));
        expect(cell, `cell ${i} on screen`).toBeGreaterThanOrEqual(0);
        expect(contrast(cell, silence), `pattern ${i}: #${cell.toString(16)} on #${silence.toString(16)}`).toBeGreaterThanOrEqual(3);
      }
      // A swatch has the colour its cells are drawn with.
      const chosen = await page.$eval('.music-swatch[aria-pressed="true"]', (e) => ({ bg: getComputedStyle(e).backgroundColor, index: Number((e as HTMLElement).dataset.colorIndex) }));
      expect(await readPixel(page, cellX(chosen.index), cellY(chosen.index))).toBe(cssRgb(chosen.bg));

      await page.screenshot({ path: join(ARTIFACTS, `music-${s.name}.png`) });
      expect(await layoutFaults(page)).toEqual([]);
      expect(errors).toEqual([]);
    });

    it(`${s.name}: without a view in the URL the page opens close enough that a cell is a visible square`, async () => {
      const { context, page, errors } = await openScreen(browser, `${server.url}/`, s, 'dark');
      contexts.push(context);
      const v = await page.evaluate(() => window.__pixelCanvas!.view);
      expect(v.zoom).toBeGreaterThanOrEqual(8);
      await page.screenshot({ path: join(ARTIFACTS, `music-start-${s.name}.png`) });
      expect(errors).toEqual([]);
    });
  }
});
