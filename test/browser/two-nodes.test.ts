/**
 * Acceptance for several nodes: two nodes started with --redis (in-process here, real Redis) serve one
 * canvas to two browsers, one on each node. A click on page A (node 1) shows on page B (node 2), and
 * page B's painting shows on page A; both see the other's cursor and a combined online count.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { RunningServer } from '../../src/server.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import {
  INSTALL_HINT, type OpenPage, browserSuitePlan, buildClient, launchBrowser, openPage, startTestServer, toScreen, waitForPixel,
} from './harness.js';
import { REDIS_URL, dropCanvas, uniqueCanvas } from '../helpers/redis.js';

const plan = browserSuitePlan();

describe.skipIf(!plan.run)('two nodes, two browsers (Chromium, real Redis)', () => {
  let browser: Browser;
  const canvas = uniqueCanvas('browser');
  const nodes: RunningServer[] = [];
  const pages: OpenPage[] = [];

  beforeAll(async () => {
    if (!plan.chromium) throw new Error(`browser tests cannot run: ${INSTALL_HINT}`);
    buildClient();
    browser = await launchBrowser();
    for (let i = 0; i < 2; i++) nodes.push(await startTestServer({ redis: REDIS_URL, canvas, onlineIntervalMs: 100 }));
  });

  afterAll(async () => {
    for (const p of pages) await p.context.close().catch(() => {});
    await browser?.close();
    for (const n of nodes) await n.close();
    await dropCanvas(canvas);
  });

  it('a click on the page served by one node shows on the page served by the other, both ways', async () => {
    const [n1, n2] = nodes as [RunningServer, RunningServer];
    const a = await openPage(browser, `${n1.url}/#300,200,16`, { name: 'Alice' });
    const b = await openPage(browser, `${n2.url}/#300,200,16`, { name: 'Bob' });
    pages.push(a, b);

    await a.page.click('[data-color-index="6"]');
    const pa = await toScreen(a.page, 300.5, 200.5);
    await a.page.mouse.click(pa.x, pa.y);
    await waitForPixel(b.page, 300, 200, DEFAULT_PALETTE[6]!, 3000);

    await b.page.click('[data-color-index="13"]');
    const pb = await toScreen(b.page, 301.5, 200.5);
    await b.page.mouse.click(pb.x, pb.y);
    await waitForPixel(a.page, 301, 200, DEFAULT_PALETTE[13]!, 3000);

    // Both nodes hold the same canvas, and each page sees the other's cursor and both users online.
    expect(n1.store.get(301, 200)).toBe(13);
    expect(n2.store.get(300, 200)).toBe(6);
    await a.page.mouse.move(500, 300);
    await a.page.mouse.move(520, 310);
    await b.page.waitForFunction(() => [...document.querySelectorAll('.cursor-name')].some((e) => e.textContent === 'Alice' && !(e.parentElement as HTMLElement).hidden), undefined, { timeout: 5000 });
    await expect.poll(() => a.page.textContent('#online'), { timeout: 5000 }).toBe('2 online');
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  }, 60_000);
});
