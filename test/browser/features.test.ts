/**
 * The painter-facing tools in a real Chromium against in-process servers: pixel info, a template from the
 * URL hash with differing pixels marked, the live heatmap, the whole-canvas view
 * (no painting invisible pixels), cooldown wording, connection states (offline, retry now, a first load
 * while the server is down), the light theme and the page's metadata. Screenshots go to test-artifacts/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import { type RunningServer, startServer } from '../../src/server.js';
import { DEFAULTS } from '../../src/config.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import {
  INSTALL_HINT, ROOT, type OpenPage, browserSuitePlan, buildClient, launchBrowser, nodeClient, openPage, placeFrom,
  startTestServer, toScreen, view, waitReady,
} from './harness.js';

const plan = browserSuitePlan();
const ARTIFACTS = join(ROOT, 'test-artifacts');

type Tools = NonNullable<Window['__pixelCanvas']>['tools'];
const tools = (page: Page): Promise<Tools> => page.evaluate(() => window.__pixelCanvas!.tools);

/** The colour of a layer canvas (heat-layer, template-layer…) at CSS/canvas point (x, y), as [r, g, b, a]. */
function layerPixel(page: Page, id: string, x: number, y: number, css = true): Promise<number[]> {
  return page.evaluate(([id, x, y, css]) => {
    const el = document.getElementById(id as string) as HTMLCanvasElement;
    const k = css ? el.width / el.clientWidth : 1;
    return [...el.getContext('2d')!.getImageData(Math.floor((x as number) * k), Math.floor((y as number) * k), 1, 1).data];
  }, [id, x, y, css] as const);
}

describe.skipIf(!plan.run)('painter tools (Chromium)', () => {
  let browser: Browser;
  let server: RunningServer;
  const pages: OpenPage[] = [];
  const servers: RunningServer[] = [];

  async function open(url: string, opts?: Parameters<typeof openPage>[2]): Promise<OpenPage> {
    const p = await openPage(browser, url, opts);
    pages.push(p);
    return p;
  }

  async function serve(overrides?: Parameters<typeof startTestServer>[0]): Promise<RunningServer> {
    const s = await startTestServer(overrides);
    servers.push(s);
    return s;
  }

  beforeAll(async () => {
    if (!plan.chromium) throw new Error(`browser tests cannot run: ${INSTALL_HINT}`);
    buildClient();
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchBrowser();
    server = await serve({ paintRate: 100, paintBurst: 100 });
  });

  afterAll(async () => {
    for (const p of pages) await p.context.close().catch(() => {});
    await browser?.close();
    for (const s of servers) await s.close();
  });

  it('pixel info: Shift-click (and the info tool) shows who placed a pixel, when, and a link to it', async () => {
    const bot = await nodeClient(server.wsUrl, 'Zed');
    expect(await placeFrom(bot, 50, 50, 7)).toBe(0);
    bot.close();
    const { page, errors } = await open(`${server.url}/#50,50,16`);
    const at = await toScreen(page, 50.5, 50.5);
    await page.keyboard.down('Shift');
    await page.mouse.click(at.x, at.y);
    await page.keyboard.up('Shift');
    await page.waitForFunction(() => document.getElementById('pixel-info')!.dataset.state === 'loaded');
    expect(await page.textContent('#info-who')).toBe('Placed by Zed');
    expect(await page.textContent('#info-coords')).toBe('(50, 50)');
    expect(await page.textContent('#info-colour')).toContain('Red (#ff4500)');
    expect(await page.textContent('#info-when')).toMatch(/just now|s ago/);
    expect(await page.getAttribute('#info-link', 'href')).toBe('#50,50,32');
    expect(server.store.get(50, 50)).toBe(7); // looking is not painting
    await page.screenshot({ path: join(ARTIFACTS, 'pixel-info.png') });

    // The info tool: a plain click asks too; a never-painted pixel says so.
    await page.click('#tool-info');
    const blank = await toScreen(page, 52.5, 50.5);
    await page.mouse.click(blank.x, blank.y);
    await page.waitForFunction(() => document.getElementById('info-coords')!.textContent === '(52, 50)' && document.getElementById('pixel-info')!.dataset.state === 'loaded');
    expect(await page.textContent('#info-who')).toBe('Never painted.');
    expect(server.store.get(52, 50)).toBe(0);
    expect(errors).toEqual([]);
  });

  it('a template from the URL hash is overlaid and the pixels that differ are counted and marked', async () => {
    // A 4×2 template: the top row red (7), the bottom row blue (18).
    const png = new pngjs.PNG({ width: 4, height: 2 });
    for (let i = 0; i < 8; i++) {
      const rgb = DEFAULT_PALETTE[i < 4 ? 7 : 18]!;
      png.data.set([(rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255, 255], i * 4);
    }
    const body = pngjs.PNG.sync.write(png);
    const bot = await nodeClient(server.wsUrl, 'tpl');
    expect(await placeFrom(bot, 200, 100, 7)).toBe(0); // matches the template's (0, 0)
    expect(await placeFrom(bot, 201, 101, 18)).toBe(0); // matches (1, 1)
    bot.close();
    const url = `${server.url}/tpl/art.png`;
    const hash = `#202,101,24&template=${encodeURIComponent(url)}&ox=200&oy=100&oo=0.6`;
    const { page, errors } = await open(`${server.url}/${hash}`, {
      before: async (p) => { await p.route('**/tpl/art.png', (route) => route.fulfill({ status: 200, contentType: 'image/png', body })); },
    });
    await page.waitForFunction(() => window.__pixelCanvas!.tools.template.loaded && window.__pixelCanvas!.tools.template.compared === 8);
    expect((await tools(page)).template.differing).toBe(6);
    // A differing pixel is marked on the template layer; the canvas itself is untouched.
    const bad = await toScreen(page, 203.5, 100.5);
    expect((await layerPixel(page, 'template-layer', bad.x, bad.y))[3]).toBeGreaterThan(0);
    expect(server.store.get(203, 100)).toBe(0);
    // The link keeps the template: the hash still carries it after the view settles.
    await page.waitForTimeout(400);
    expect(await page.evaluate(() => location.hash)).toContain(`template=${encodeURIComponent(url)}`);
    expect(await page.evaluate(() => location.hash)).toContain('ox=200');
    // Painting a template pixel lowers the count.
    const bot2 = await nodeClient(server.wsUrl, 'tpl2');
    expect(await placeFrom(bot2, 201, 100, 7)).toBe(0);
    bot2.close();
    await page.waitForFunction(() => window.__pixelCanvas!.tools.template.differing === 5);
    await page.click('#tool-template');
    await page.screenshot({ path: join(ARTIFACTS, 'template.png') });

    // A local file instead: overlaid and compared the same way; a link cannot carry it, so the hash drops the
    // URL template (it would name another image).
    await page.setInputFiles('#template-file', { name: 'local.png', mimeType: 'image/png', buffer: body });
    await page.waitForFunction(() => document.getElementById('template-status')!.textContent!.includes('local file'));
    expect((await tools(page)).template.differing).toBe(5);
    await page.waitForFunction(() => !location.hash.includes('template='));
    expect(errors).toEqual([]);
  });

  it('heatmap: recent placements (from history, then live) glow on the overlay', async () => {
    const bot = await nodeClient(server.wsUrl, 'heat');
    expect(await placeFrom(bot, 300, 300, 5)).toBe(0); // before the heatmap is on: comes from /api/history
    const { page, errors } = await open(`${server.url}/#305,300,12`);
    await page.click('#tool-heatmap');
    await page.waitForFunction(() => window.__pixelCanvas!.tools.heatmap.count >= 1);
    expect(await placeFrom(bot, 310, 300, 5)).toBe(0); // live, through the delta
    await page.waitForFunction(() => window.__pixelCanvas!.tools.heatmap.count >= 2);
    bot.close();
    await page.waitForTimeout(100);
    for (const x of [300, 310]) {
      const p = await toScreen(page, x + 0.5, 300.5);
      const [r, , , a] = await layerPixel(page, 'heat-layer', p.x, p.y);
      expect(a, `heat at ${x}`).toBeGreaterThan(100);
      expect(r).toBe(255);
    }
    const cold = await toScreen(page, 305.5, 305.5);
    expect((await layerPixel(page, 'heat-layer', cold.x, cold.y))[3]).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'heatmap.png') });
    expect(errors).toEqual([]);
  });

  // The timelapse has its own file at both screen sizes: test/browser/timelapse.test.ts.

  it('the whole-canvas view: nothing hides the canvas, a click zooms in instead of painting an invisible pixel', async () => {
    const { page, errors } = await open(`${server.url}/`);
    const v = await view(page);
    expect(v.zoom).toBeLessThan(3);
    // The canvas's top and bottom edges lie between the top bar and the bottom controls.
    const top = await toScreen(page, 0, 0);
    const bottom = await toScreen(page, 1024, 1024);
    const bar = (await page.locator('.bar-top').boundingBox())!;
    const palette = (await page.locator('.bar-bottom').boundingBox())!;
    expect(top.y).toBeGreaterThanOrEqual(bar.y + bar.height - 1);
    expect(bottom.y).toBeLessThanOrEqual(palette.y + 1);
    await page.screenshot({ path: join(ARTIFACTS, 'whole-canvas.png') });
    const at = await toScreen(page, 600.5, 600.5);
    await page.mouse.click(at.x, at.y);
    await expect.poll(async () => (await view(page)).zoom).toBeGreaterThan(10);
    await page.waitForTimeout(200);
    expect(server.store.get(600, 600)).toBe(0);
    expect(await page.textContent('#toasts')).toContain('Zoomed in');
    expect(await page.textContent('#zoom-level')).toMatch(/^×1[0-9]/);
    await page.click('#zoom-fit');
    await expect.poll(async () => (await view(page)).zoom).toBeLessThan(1);
    expect(errors).toEqual([]);
  });

  it('the whole-canvas view on a 390×844 touch screen: no control covers the canvas', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, deviceScaleFactor: 1 });
    const page = await context.newPage();
    pages.push({ context, page, errors: [] });
    await page.goto(`${server.url}/`);
    await waitReady(page);
    const a = await toScreen(page, 0, 0);
    const b = await toScreen(page, 1024, 1024);
    const rects = await page.evaluate(() => ['.bar-top', '.bar-bottom', '#tools', '#overview'].map((sel) => {
      const r = document.querySelector(sel)!.getBoundingClientRect();
      return { sel, left: r.left, top: r.top, right: r.right, bottom: r.bottom };
    }));
    for (const r of rects) {
      // Either entirely beside or entirely above/below the canvas.
      const apart = r.right <= a.x + 1 || r.left >= b.x - 1 || r.bottom <= a.y + 1 || r.top >= b.y - 1;
      expect(apart, `${r.sel} overlaps the canvas (${a.x},${a.y})-(${b.x},${b.y})`).toBe(true);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'whole-canvas-phone.png') });
  });

  it('cooldown: one toast however many clicks, in seconds, and the wait in the tab title', async () => {
    const strict = await serve({ paintBurst: 1, paintRate: 0.01 });
    const { page } = await open(`${strict.url}/#100,100,16`);
    for (let i = 0; i < 4; i++) {
      const p = await toScreen(page, 100.5 + i, 100.5);
      await page.mouse.click(p.x, p.y);
      await page.waitForTimeout(100);
    }
    await expect.poll(() => page.locator('.toast').count()).toBe(1);
    expect(await page.textContent('#toasts')).toMatch(/\d+ (min \d+ )?s left/);
    expect(await page.textContent('#toasts')).not.toMatch(/ ms/);
    expect(await page.title()).toMatch(/^\(\d+ min \d+ s\) pixel-canvas$/);
    expect(await page.textContent('#cooldown')).toMatch(/^Wait \d+ min \d+ s$/);
  });

  it('a refusal by the message budget is worded as such, not blamed on the cooldown', async () => {
    const tight = await serve({ paintBurst: 100, paintRate: 100, messageRate: 0.01, messageBurst: 2 });
    const { page } = await open(`${tight.url}/#100,100,16`);
    const p = await toScreen(page, 100.5, 100.5);
    await page.mouse.click(p.x, p.y);
    await page.waitForFunction(() => document.getElementById('toasts')!.textContent!.includes('Too many messages'));
    const text = await page.textContent('#toasts');
    expect(text).toContain('not your paint cooldown');
    expect(text).not.toContain('wait for your cooldown');
    expect(await page.getAttribute('#cooldown', 'data-state')).toBe('ready');
  });

  it('states: nothing says Ready before connecting; offline dims the canvas and drops the count; Retry now reconnects', async () => {
    const s = await serve();
    const port = s.port;
    let hold = true;
    const { context } = await open(`${server.url}/`); // a context to open a page in by hand
    const page = await context.newPage();
    await page.routeWebSocket(/\/ws$/, async (ws: WebSocketRoute) => {
      while (hold) await new Promise((r) => setTimeout(r, 20));
      ws.connectToServer();
    });
    await page.goto(`${s.url}/#64,64,8`);
    expect(await page.textContent('#cooldown')).not.toContain('Ready');
    expect(await page.getAttribute('#cooldown', 'data-state')).toBe('unknown');
    expect(await page.textContent('#status-text')).toBe('Connecting…');
    hold = false;
    await waitReady(page);
    expect(await page.textContent('#cooldown')).toMatch(/^Ready/);

    await s.close();
    await page.waitForFunction(() => document.body.dataset.conn === 'offline');
    expect(await page.textContent('#online')).toBe('– online');
    expect(await page.textContent('#cooldown')).not.toContain('Ready');
    expect(await page.evaluate(() => getComputedStyle(document.getElementById('canvas')!).filter)).toContain('grayscale');
    // Wait for a backoff long enough that a reconnect right after the click can only be the button's doing.
    await page.waitForFunction(() => {
      const c = window.__pixelCanvas!.client;
      return !document.getElementById('retry')!.hidden && c.nextAttemptAt !== null && c.nextAttemptAt - Date.now() > 1500;
    }, undefined, { timeout: 15_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'offline.png') });
    const again = await serve({ port });
    // The click starts an attempt at once (the backoff timer still had over a second to run).
    expect(await page.evaluate(() => {
      document.getElementById('retry')!.click();
      return window.__pixelCanvas!.client.nextAttemptAt;
    })).toBeNull();
    await waitReady(page, 5000);
    expect(await page.getAttribute('#status', 'data-state')).toBe('online');
    expect(await page.textContent('#online')).toMatch(/^\d+ online$/);
    expect(again.room.connections).toBeGreaterThan(0);
  });

  it('a first load while the server cannot be reached shows a page that says so and keeps retrying', async () => {
    let down = true;
    const { page, errors } = await (async () => {
      const context = await browser.newContext({ viewport: { width: 960, height: 640 } });
      const page = await context.newPage();
      pages.push({ context, page, errors: [] });
      await page.routeWebSocket(/\/ws$/, (ws: WebSocketRoute) => {
        if (down) ws.close({ code: 1006 as number, reason: 'down' }).catch(() => {});
        else ws.connectToServer();
      });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${server.url}/#10,10,8`);
      return { page, errors };
    })();
    await page.waitForSelector('#down-page', { state: 'visible', timeout: 5000 });
    expect(await page.textContent('#down-page')).toContain('cannot reach the canvas server');
    await page.screenshot({ path: join(ARTIFACTS, 'first-load-down.png') });
    down = false;
    // The page keeps retrying by itself, so it may already be connecting when we press "retry": click it
    // without waiting for it to stay visible (a Playwright click would wait 30 s for a button gone away).
    await page.evaluate(() => document.getElementById('down-retry')?.click());
    await waitReady(page, 5000);
    expect(await page.isVisible('#down-page')).toBe(false);
    expect(errors).toEqual([]);
  });

  it('the admin page: sign in with the token, switch read-only, ban, and see the audit log', async () => {
    const s = await startServer({ ...DEFAULTS, port: 0, host: '127.0.0.1', inMemory: true, logLevel: 'silent' }, { adminToken: 'page-token' });
    servers.push(s);
    const context = await browser.newContext({ viewport: { width: 960, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    pages.push({ context, page, errors });
    await page.goto(`${s.url}/admin`);
    await page.fill('#token', 'page-token');
    await page.click('#login button[type="submit"]');
    await page.waitForFunction(() => document.getElementById('login-state')!.textContent === 'Signed in.');
    expect(await page.textContent('#ro-state')).toBe('open');
    await page.click('#ro-toggle');
    await page.waitForFunction(() => document.getElementById('ro-state')!.textContent === 'paused (read-only)');
    await page.fill('#ban input[name="value"]', '203.0.113.9');
    await page.fill('#ban input[name="reason"]', 'spam bot');
    await page.click('#ban button[type="submit"]');
    await page.waitForFunction(() => document.getElementById('bans')!.textContent!.includes('203.0.113.9'));
    // The page refreshes its audit list after the ban list: wait for it rather than race it.
    await page.waitForFunction(() => document.getElementById('audit')!.textContent!.includes('Ban'), undefined, { timeout: 5000 });
    // The audit log in words (test/browser/admin-ui.test.ts checks every cell).
    const audit = await page.textContent('#audit');
    expect(audit).toContain('Read-only');
    expect(audit).toContain('painting paused');
    expect(audit).toContain('address 203.0.113.9 — “spam bot”');
    expect((await s.room.placeGuard!('203.0.113.9', ''))).toBe('READ_ONLY');
    await page.screenshot({ path: join(ARTIFACTS, 'admin.png'), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('light theme from prefers-color-scheme; colour names on swatches; description and OpenGraph tags', async () => {
    const context = await browser.newContext({ viewport: { width: 960, height: 640 }, colorScheme: 'light' });
    const page = await context.newPage();
    pages.push({ context, page, errors: [] });
    await page.goto(`${server.url}/`);
    await waitReady(page);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = bg.match(/\d+/g)!.map(Number);
    expect(r! + g! + b!).toBeGreaterThan(600);
    expect(await page.getAttribute('[data-color-index="7"]', 'title')).toBe('Red (#ff4500)');
    expect(await page.getAttribute('[data-color-index="0"]', 'aria-label')).toBe('White (#ffffff)');
    expect(await page.getAttribute('meta[name="description"]', 'content')).toMatch(/pixel canvas/);
    expect(await page.getAttribute('meta[property="og:title"]', 'content')).toBe('pixel-canvas');
    expect(await page.getAttribute('meta[property="og:image"]', 'content')).toBe('/canvas.png');
    await page.screenshot({ path: join(ARTIFACTS, 'light-theme.png') });
  });
});
