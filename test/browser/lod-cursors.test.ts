/**
 * The browser client zoomed out draws from a coarse level of detail (and what it draws is the level's
 * sampling, not the full-resolution pixels), and others' cursors glide between the server's 15 Hz updates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { RunningServer } from '../../src/server.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import {
  INSTALL_HINT, type OpenPage, browserSuitePlan, buildClient, launchBrowser, nodeClient, openPage, placeFrom,
  readPixel, startTestServer, waitForPixel,
} from './harness.js';

const plan = browserSuitePlan();

describe.skipIf(!plan.run)('level of detail and cursor interpolation (Chromium)', () => {
  let browser: Browser;
  const pages: OpenPage[] = [];
  const servers: RunningServer[] = [];

  beforeAll(async () => {
    if (!plan.chromium) throw new Error(`browser tests cannot run: ${INSTALL_HINT}`);
    buildClient();
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const p of pages) await p.context.close().catch(() => {});
    await browser?.close();
    for (const s of servers) await s.close();
  });

  it('a zoomed-out page subscribes a coarse level and draws from it', async () => {
    const server = await startTestServer({ width: 4096, height: 4096, paintRate: 1e6, paintBurst: 1e6 });
    servers.push(server);
    // 0.2 screen px per canvas px (the whole canvas nearly fits): level ⌊log2(1/0.2)⌋ = 2.
    const p = await openPage(browser, `${server.url}/#2048,2048,0.2`);
    pages.push(p);
    const level = await p.page.evaluate(() => window.__pixelCanvas!.client.level);
    expect(level).toBe(2);
    // The server holds the page in level 2's index, not the full-resolution one.
    expect(server.room.subs.indexes[2]!.size).toBe(1);
    expect(server.room.index.size).toBe(0);

    const bot = await nodeClient(server.wsUrl);
    const RED = DEFAULT_PALETTE.indexOf(0xe50000) >= 0 ? DEFAULT_PALETTE.indexOf(0xe50000) : 5;
    const BLUE = RED === 13 ? 12 : 13;
    // (2000, 2000) is sampled by level 2 (both coordinates multiples of 4); (2005, 2001) is not.
    expect(await placeFrom(bot, 2000, 2000, RED)).toBe(0);
    expect(await placeFrom(bot, 2005, 2001, BLUE)).toBe(0);
    await waitForPixel(p.page, 2000, 2000, DEFAULT_PALETTE[RED]!, 5000);
    // The 4×4 block of (2004, 2000) shows its top-left pixel (untouched), not the blue one inside it.
    expect(await readPixel(p.page, 2005, 2001)).toBe(DEFAULT_PALETTE[0]);
    const held = await p.page.evaluate(() => {
      const c = window.__pixelCanvas!.client;
      return { lod: c.lod!.get(500, 500), full: c.replica.size };
    });
    expect(held).toEqual({ lod: RED, full: 0 });
    bot.close();
    expect(p.errors).toEqual([]);
  });

  it('a cursor glides between updates', async () => {
    const server = await startTestServer({ cursorHz: 1000, messageRate: 1e6, messageBurst: 1e6 });
    servers.push(server);
    const p = await openPage(browser, `${server.url}/#100,100,4`);
    pages.push(p);
    const bot = await nodeClient(server.wsUrl, 'glider');
    bot.setViewport(0, 0, 64, 64);
    bot.moveCursor(90, 100);
    await p.page.waitForFunction(() => document.querySelector('.cursor') !== null, undefined, { timeout: 5000 });
    await p.page.waitForTimeout(200);
    // Record the drawn x of the cursor on every frame while it jumps 40 px at once.
    const recording = p.page.evaluate(() => new Promise<number[]>((resolve) => {
      const xs: number[] = [];
      const t0 = performance.now();
      const step = () => {
        const el = document.querySelector('.cursor') as HTMLElement | null;
        if (el?.dataset.x) xs.push(Number(el.dataset.x));
        if (performance.now() - t0 < 600) requestAnimationFrame(step);
        else resolve(xs);
      };
      requestAnimationFrame(step);
    }));
    await new Promise((r) => setTimeout(r, 100));
    bot.moveCursor(130, 100);
    const xs = await recording;
    expect(xs[0]).toBe(90);
    expect(xs.at(-1)).toBe(130);
    // Positions strictly between the two updates were drawn: it moved smoothly, not in one jump.
    expect(xs.filter((x) => x > 90 && x < 130).length).toBeGreaterThan(0);
    bot.close();
    expect(p.errors).toEqual([]);
  });
});
