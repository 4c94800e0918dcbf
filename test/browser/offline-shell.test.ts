/**
 * The offline app shell, in a real Chromium at 1280×800 and at 390×844 with touch: after one visit, a load
 * while the HTTP server is down opens the page from the service worker's kept shell (not the browser's error
 * page), which says the canvas is out of reach and keeps retrying; when the server is back on the same port
 * the page connects by itself. Also: /sw.js is served at the root, revalidated like the HTML, and while the
 * server is up every load gets the current page. Screenshots go to test-artifacts/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import type { RunningServer } from '../../src/server.js';
import { INSTALL_HINT, ROOT, browserSuitePlan, buildClient, launchBrowser, startTestServer, waitReady } from './harness.js';

const plan = browserSuitePlan();
const ARTIFACTS = join(ROOT, 'test-artifacts');
const SIZES = [
  { name: 'desktop', viewport: { width: 1280, height: 800 }, touch: false },
  { name: 'phone', viewport: { width: 390, height: 844 }, touch: true },
] as const;

describe.skipIf(!plan.run)('offline app shell (Chromium)', () => {
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const servers: RunningServer[] = [];

  beforeAll(async () => {
    if (!plan.chromium) throw new Error(`browser tests cannot run: ${INSTALL_HINT}`);
    buildClient();
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    for (const s of servers) await s.close().catch(() => {});
  });

  it('/sw.js is served from the root, no-cache with an ETag, as JavaScript', async () => {
    const s = await startTestServer();
    servers.push(s);
    const res = await fetch(`${s.url}/sw.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('etag')).toBeTruthy();
    expect((await fetch(`${s.url}/`)).headers.get('cache-control')).toBe('no-cache');
  });

  for (const size of SIZES) {
    it(`${size.name}: a reload while the server is down shows the offline page, and reconnects when it is back`, async () => {
      let server = await startTestServer();
      servers.push(server);
      const port = Number(new URL(server.url).port);
      const context = await browser.newContext({ viewport: size.viewport, hasTouch: size.touch, isMobile: size.touch, deviceScaleFactor: 1 });
      contexts.push(context);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
      await page.goto(`${server.url}/#20,20,8`);
      await waitReady(page);
      // The worker has kept the shell: the page and every bundle it names.
      await page.waitForFunction(async () => {
        const reg = await navigator.serviceWorker.getRegistration();
        if (reg?.active?.state !== 'activated') return false;
        const keys = await caches.keys();
        const cache = keys.length === 1 ? await caches.open(keys[0]!) : null;
        return cache !== null && (await cache.match('/')) !== undefined && (await cache.keys()).length >= 3;
      }, undefined, { timeout: 10_000, polling: 100 });
      // …and controls this page (clients.claim() runs after activation; a reload before it may bypass it).
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 10_000, polling: 100 });

      // While the server is up, a load gets the current page, not the kept one.
      const first = await page.reload();
      expect(first?.status()).toBe(200);
      expect(first?.fromServiceWorker()).toBe(true); // network-first through the worker…
      await waitReady(page);
      expect(await page.isVisible('#down-page')).toBe(false);

      await server.close();
      servers.splice(servers.indexOf(server), 1);
      await page.reload();
      // …and with the server gone, the kept shell: the page's own words, not the browser's error page.
      await page.waitForSelector('#down-page', { state: 'visible', timeout: 10_000 });
      expect(await page.textContent('#down-page')).toMatch(/cannot reach the canvas server.*keeps trying by itself/s);
      await page.screenshot({ path: join(ARTIFACTS, `offline-shell-${size.name}.png`) });

      server = await startTestServer({ port });
      servers.push(server);
      // Backoff is at most 10 s; nobody presses Retry.
      await waitReady(page, 15_000);
      expect(await page.isVisible('#down-page')).toBe(false);
      await page.screenshot({ path: join(ARTIFACTS, `offline-shell-back-${size.name}.png`) });
      expect(errors).toEqual([]);
    });
  }
});
