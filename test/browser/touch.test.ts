/**
 * Touch in a real Chromium (touch events dispatched through the DevTools protocol, as a phone would send
 * them): a tap paints, a one-finger drag pans without painting, a two-finger pinch zooms.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import type { RunningServer } from '../../src/server.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  INSTALL_HINT, ROOT, browserSuitePlan, buildClient, launchBrowser, startTestServer, toCanvas, view, waitReady,
} from './harness.js';

const plan = browserSuitePlan();

type Point = { x: number; y: number };

async function touch(cdp: CDPSession, type: 'touchStart' | 'touchMove' | 'touchEnd', points: Point[]): Promise<void> {
  await cdp.send('Input.dispatchTouchEvent', {
    type,
    touchPoints: points.map((p, i) => ({ x: p.x, y: p.y, id: i, radiusX: 2, radiusY: 2, force: 1 })),
  });
}

/** Move fingers from `from` to `to` in steps, as a real gesture does. */
async function gesture(cdp: CDPSession, from: Point[], to: Point[], steps = 8): Promise<void> {
  await touch(cdp, 'touchStart', from);
  for (let k = 1; k <= steps; k++) {
    await touch(cdp, 'touchMove', from.map((p, i) => ({
      x: p.x + ((to[i]!.x - p.x) * k) / steps, y: p.y + ((to[i]!.y - p.y) * k) / steps,
    })));
  }
  await touch(cdp, 'touchEnd', []);
}

describe.skipIf(!plan.run)('touch (Chromium)', () => {
  let browser: Browser;
  let server: RunningServer;
  let context: BrowserContext;
  let page: Page;
  let cdp: CDPSession;

  beforeAll(async () => {
    if (!plan.chromium) throw new Error(`browser tests cannot run: ${INSTALL_HINT}`);
    buildClient();
    browser = await launchBrowser();
    server = await startTestServer();
    context = await browser.newContext({ viewport: { width: 480, height: 800 }, hasTouch: true, isMobile: true, deviceScaleFactor: 1 });
    page = await context.newPage();
    await page.goto(`${server.url}/#512,512,8`);
    await waitReady(page);
    cdp = await context.newCDPSession(page);
  });

  afterAll(async () => {
    await context?.close().catch(() => {});
    await browser?.close();
    await server?.close();
  });

  it('a tap selects the pixel under the finger (reticle and coordinates); only "Place" paints it', async () => {
    const at = { x: 240, y: 300 };
    const target = await toCanvas(page, at.x, at.y);
    const px = { x: Math.floor(target.x), y: Math.floor(target.y) };
    expect(server.store.get(px.x, px.y)).toBe(0);
    // On a loaded machine the round trip between touchStart and touchEnd can outlast a long press (which
    // opens pixel info instead): then close it and tap again.
    for (let attempt = 0; attempt < 3; attempt++) {
      await touch(cdp, 'touchStart', [at]);
      await touch(cdp, 'touchEnd', []);
      await page.waitForFunction(() => window.__pixelCanvas!.tools.selection !== null || window.__pixelCanvas!.tools.info !== null);
      if (await page.evaluate(() => window.__pixelCanvas!.tools.selection !== null)) break;
      await page.click('[data-close="pixel-info"]');
    }
    expect(await page.evaluate(() => window.__pixelCanvas!.tools.selection)).toEqual(px);
    expect(await page.isVisible('#selection')).toBe(true);
    expect(await page.textContent('#confirm-text')).toBe(`(${px.x}, ${px.y})`);
    await new Promise((r) => setTimeout(r, 300));
    expect(server.store.get(px.x, px.y)).toBe(0); // selected, not painted
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-artifacts/touch-select.png') });
    // Targets are at least 44 px on a touch screen.
    for (const sel of ['#confirm-place', '.swatch', '#zoom-in']) {
      const box = (await page.locator(sel).first().boundingBox())!;
      expect(Math.min(box.width, box.height), sel).toBeGreaterThanOrEqual(44);
    }
    await page.tap('#confirm-place');
    await expect.poll(() => server.store.get(px.x, px.y), { timeout: 3000 }).not.toBe(0);
    expect(await page.isVisible('#confirm')).toBe(false);
  });

  it('a long press shows pixel info and paints nothing', async () => {
    const at = { x: 200, y: 420 };
    const target = await toCanvas(page, at.x, at.y);
    const px = { x: Math.floor(target.x), y: Math.floor(target.y) };
    await touch(cdp, 'touchStart', [at]);
    await new Promise((r) => setTimeout(r, 700));
    await touch(cdp, 'touchEnd', []);
    await page.waitForFunction(() => document.getElementById('pixel-info')!.dataset.state === 'loaded');
    expect(await page.textContent('#info-coords')).toBe(`(${px.x}, ${px.y})`);
    expect(await page.evaluate(() => window.__pixelCanvas!.tools.selection)).toBeNull();
    expect(server.store.get(px.x, px.y)).toBe(0);
    await page.click('[data-close="pixel-info"]');
  });

  it('a one-finger drag pans and paints nothing', async () => {
    const before = await view(page);
    const painted = server.room['deps'].metrics.pixelsAccepted;
    const acceptedBefore = (await painted.get()).values[0]?.value ?? 0;
    await gesture(cdp, [{ x: 300, y: 500 }], [{ x: 140, y: 420 }]);
    const after = await view(page);
    expect(after.zoom).toBe(before.zoom);
    expect(after.x - before.x).toBeCloseTo(160 / before.zoom, 0); // the canvas followed the finger
    expect(after.y - before.y).toBeCloseTo(80 / before.zoom, 0);
    await new Promise((r) => setTimeout(r, 200));
    expect((await painted.get()).values[0]?.value ?? 0).toBe(acceptedBefore);
  });

  it('a two-finger pinch zooms in around the fingers', async () => {
    const before = await view(page);
    await gesture(cdp, [{ x: 200, y: 400 }, { x: 280, y: 400 }], [{ x: 120, y: 400 }, { x: 360, y: 400 }]);
    const after = await view(page);
    expect(after.zoom).toBeGreaterThan(before.zoom * 1.5); // fingers 3× further apart
  });
});
