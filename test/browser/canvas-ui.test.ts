/**
 * The browser client in a real Chromium against in-process servers: painting seen by another page,
 * wheel zoom reaching the server's viewport index, the URL hash round trip, a refused placement reverted,
 * and reconnecting after a server restart on the same port.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import type { RunningServer } from '../../src/server.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import { formatViewHash } from '../../client/src/url-hash.js';
import {
  INSTALL_HINT, ROOT, type OpenPage, browserSuitePlan, buildClient, launchBrowser, nodeClient, openPage, placeFrom,
  readPixel, startTestServer, toCanvas, toScreen, view, waitForPixel, waitReady,
} from './harness.js';

const plan = browserSuitePlan();
if (!plan.run) console.log(`browser tests skipped: ${INSTALL_HINT}`);

const WHITE = DEFAULT_PALETTE[0]!;

describe.skipIf(!plan.run)('browser client (Chromium)', () => {
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
    browser = await launchBrowser();
    server = await serve();
  });

  afterAll(async () => {
    for (const p of pages) await p.context.close().catch(() => {});
    await browser?.close();
    for (const s of servers) await s.close();
  });

  /** The server's session for the page's client, found through the viewport index at the view's centre. */
  async function serverRect(page: Page, s: RunningServer): Promise<{ x: number; y: number; w: number; h: number } | null> {
    const info = await page.evaluate(() => {
      const hook = window.__pixelCanvas!;
      return { id: hook.client.welcome!.clientId, x: Math.floor(hook.view.x), y: Math.floor(hook.view.y) };
    });
    const session = s.room.index.subscribersAt(Math.min(info.x, 1023), Math.min(info.y, 1023)).find((c) => c.id === info.id);
    return session === undefined ? null : s.room.index.rectOf(session);
  }

  /** What the page has on screen, in whole canvas pixels clamped to the canvas. */
  async function screenRect(page: Page): Promise<{ x: number; y: number; w: number; h: number }> {
    const size = page.viewportSize()!;
    const a = await toCanvas(page, 0, 0);
    const b = await toCanvas(page, size.width, size.height);
    const x0 = Math.max(0, Math.floor(a.x));
    const y0 = Math.max(0, Math.floor(a.y));
    const x1 = Math.min(1024, Math.ceil(b.x));
    const y1 = Math.min(1024, Math.ceil(b.y));
    return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  }

  it('a click on page A paints; page B, looking at that spot, shows the colour within a second', async () => {
    const target = { x: 300, y: 200 };
    const colour = 6;
    const rgb = DEFAULT_PALETTE[colour]!;
    const a = await open(`${server.url}/`, { name: 'Alice' });
    // The whole canvas first; drag the target to the centre, then zoom in there from the keyboard.
    expect((await view(a.page)).zoom).toBeLessThan(1);
    const from = await toScreen(a.page, target.x + 0.5, target.y + 0.5);
    await a.page.mouse.move(from.x, from.y);
    await a.page.mouse.down();
    await a.page.mouse.move(480, 320, { steps: 8 });
    await a.page.mouse.up();
    // (Five presses: the whole-canvas view now fits between the top pills and the palette, one step further out.)
    for (let i = 0; i < 5; i++) await a.page.keyboard.press('+');
    await waitReady(a.page);
    expect((await view(a.page)).zoom).toBeGreaterThan(3);
    const v = await view(a.page);
    expect(Math.abs(v.x - (target.x + 0.5))).toBeLessThan(1);
    expect(Math.abs(v.y - (target.y + 0.5))).toBeLessThan(1);
    expect(server.store.get(target.x, target.y)).toBe(0); // the drag was a pan, not a paint

    const b = await open(`${server.url}/#${target.x},${target.y},16`, { name: 'Bob' });
    expect(await readPixel(b.page, target.x, target.y)).toBe(WHITE);

    await a.page.click(`[data-color-index="${colour}"]`);
    const at = await toScreen(a.page, target.x + 0.5, target.y + 0.5);
    const clicked = performance.now();
    await a.page.mouse.click(at.x, at.y);
    await waitForPixel(b.page, target.x, target.y, rgb, 1000);
    expect(performance.now() - clicked).toBeLessThan(1000);
    expect(await readPixel(a.page, target.x, target.y)).toBe(rgb);
    expect(server.store.get(target.x, target.y)).toBe(colour);

    // A few more strokes for the picture, and Alice's cursor (with her name) shows on B's screen.
    const strokes: [number, number, number][] = [[301, 200, 7], [302, 200, 8], [301, 201, 13], [302, 201, 18], [303, 201, 24]];
    for (const [x, y, c] of strokes) {
      await a.page.click(`[data-color-index="${c}"]`);
      const p = await toScreen(a.page, x + 0.5, y + 0.5);
      await a.page.mouse.click(p.x, p.y);
    }
    for (const [x, y, c] of strokes) await waitForPixel(b.page, x, y, DEFAULT_PALETTE[c]!, 2000);
    await b.page.waitForFunction(() => [...document.querySelectorAll('.cursor-name')].some((e) => e.textContent === 'Alice' && !(e.parentElement as HTMLElement).hidden));
    await b.page.mouse.move(700, 420);
    await expect.poll(() => b.page.textContent('#coords')).toMatch(/^\(\d+, \d+\)$/);
    expect(await b.page.getAttribute('#status', 'data-state')).toBe('online');
    expect(await b.page.textContent('#online')).toBe('2 online');

    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await b.page.screenshot({ path: join(ROOT, 'test-artifacts/painted.png') });

    // A new name is remembered and travels in the HELLO of a fresh session: A sees Bob's cursor renamed.
    await b.page.fill('#name', 'Bobby');
    await b.page.press('#name', 'Enter');
    await waitReady(b.page);
    await b.page.mouse.move(690, 410);
    await b.page.mouse.move(704, 424);
    await a.page.waitForFunction(() => [...document.querySelectorAll('.cursor-name')].some((e) => e.textContent === 'Bobby'));
    expect(await b.page.evaluate(() => localStorage.getItem('pixel-canvas:name'))).toBe('Bobby');
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });

  it('wheel zoom moves the viewport the server holds for the page, and the URL hash round-trips', async () => {
    const { page, errors } = await open(`${server.url}/#512,512,2`);
    // Ready means the page has sent its viewport; the server holds it once it has read it.
    await expect.poll(() => serverRect(page, server)).toEqual(await screenRect(page));
    const before = (await serverRect(page, server))!;

    // Zoom in around a point off centre: the canvas pixel under the pointer stays under it. The wheel
    // events reach the page's main thread when it gets to them (Chromium merges those queued behind a
    // busy one, adding their deltas): the test counts what arrived before it looks at the view.
    await page.mouse.move(700, 200);
    const under = await toCanvas(page, 700, 200);
    await page.evaluate(() => {
      const w = window as unknown as { wheelDeltaY: number };
      w.wheelDeltaY = 0;
      window.addEventListener('wheel', (e) => { w.wheelDeltaY += e.deltaY; }, { capture: true, passive: true });
    });
    for (let i = 0; i < 3; i++) await page.mouse.wheel(0, -240);
    await page.waitForFunction(() => (window as unknown as { wheelDeltaY: number }).wheelDeltaY === -720, undefined, { timeout: 5000, polling: 20 });
    await waitReady(page);
    const zoomed = await view(page);
    expect(zoomed.zoom).toBeGreaterThan(4);
    const stillUnder = await toCanvas(page, 700, 200);
    expect(Math.abs(stillUnder.x - under.x)).toBeLessThan(0.5);
    expect(Math.abs(stillUnder.y - under.y)).toBeLessThan(0.5);
    await expect.poll(() => serverRect(page, server)).toEqual(await screenRect(page));
    const after = (await serverRect(page, server))!;
    expect(after.w).toBeLessThan(before.w / 2);

    // The hash follows the view (throttled: the last change is written a moment later); a reload restores it.
    await expect.poll(() => page.evaluate(() => location.hash)).toBe(formatViewHash(zoomed));
    const hash = await page.evaluate(() => location.hash);
    const [hx, hy, hz] = hash.slice(1).split(',').map(Number);
    await page.reload();
    await waitReady(page);
    expect(await view(page)).toEqual({ x: hx, y: hy, zoom: hz });
    expect(await page.evaluate(() => location.hash)).toBe(hash);
    await expect.poll(() => serverRect(page, server)).toEqual(await screenRect(page));
    expect(errors).toEqual([]);
  });

  it('a refused placement is reverted on screen and the cooldown is shown', async () => {
    const strict = await serve({ paintBurst: 1, paintRate: 0.01 });
    // Hold the server's answers back on demand, to see the optimistic pixel before the refusal arrives.
    let hold = false;
    const held: (() => void)[] = [];
    const c = await open(`${strict.url}/#100,100,16`, {
      before: (page) => page.routeWebSocket(/\/ws$/, (ws: WebSocketRoute) => {
        const upstream = ws.connectToServer();
        upstream.onMessage((m) => (hold ? held.push(() => ws.send(m)) : ws.send(m)));
      }),
    });
    const colour = 7;
    const rgb = DEFAULT_PALETTE[colour]!;
    await c.page.click(`[data-color-index="${colour}"]`);

    const first = await toScreen(c.page, 100.5, 100.5);
    await c.page.mouse.click(first.x, first.y);
    await expect.poll(() => strict.store.get(100, 100)).toBe(colour); // the bucket's one pixel
    await waitForPixel(c.page, 100, 100, rgb, 1000);

    hold = true;
    const second = await toScreen(c.page, 101.5, 100.5);
    await c.page.mouse.click(second.x, second.y);
    await waitForPixel(c.page, 101, 100, rgb, 1000); // shown at once, before any answer
    await expect.poll(() => held.length).toBeGreaterThan(0);
    hold = false;
    for (const release of held.splice(0)) release();

    await waitForPixel(c.page, 101, 100, WHITE, 1000); // reverted
    expect(await readPixel(c.page, 100, 100)).toBe(rgb); // the accepted one stays
    expect(strict.store.get(101, 100)).toBe(0);
    expect(await c.page.getAttribute('#cooldown', 'data-state')).toBe('waiting');
    const remaining = Number(await c.page.getAttribute('#cooldown', 'data-remaining-ms'));
    expect(remaining).toBeGreaterThan(50_000); // one pixel per 100 s
    expect(await c.page.textContent('#cooldown')).toMatch(/^Wait /);
    expect(await c.page.textContent('#toasts')).toContain('wait for your cooldown');
    expect(c.errors).toEqual([]);
  });

  it('reconnects by itself after the server restarts on the same port and shows the current canvas', async () => {
    const first = await serve();
    const port = first.port;
    const d = await open(`${first.url}/#40,40,8`);
    const green = 13;
    const blue = 18;
    const bot1 = await nodeClient(first.wsUrl);
    expect(await placeFrom(bot1, 40, 40, green)).toBe(0);
    await waitForPixel(d.page, 40, 40, DEFAULT_PALETTE[green]!, 1000);
    bot1.close();

    await first.close();
    await d.page.waitForFunction(() => document.getElementById('status')!.dataset.state === 'reconnecting', undefined, { timeout: 2000 });
    const second = await serve({ port });
    const bot2 = await nodeClient(second.wsUrl);
    expect(await placeFrom(bot2, 41, 40, blue)).toBe(0);
    bot2.close();

    await waitForPixel(d.page, 41, 40, DEFAULT_PALETTE[blue]!, 10_000);
    await waitReady(d.page);
    // The new server's canvas is fresh (in memory): the old pixel must not linger.
    expect(await readPixel(d.page, 40, 40)).toBe(WHITE);
    expect(await d.page.getAttribute('#status', 'data-state')).toBe('online');
    // The minimap's image request may be in flight when the server goes away: its failure is the network's,
    // not the page's (requestfailed names it). Anything else in the console is an error of the page.
    const cutImage = d.errors.filter((e) => e === 'requestfailed: GET /canvas.png net::ERR_CONNECTION_REFUSED').length;
    const unexplained = d.errors.filter((e) => !e.includes('WebSocket') && !e.startsWith('requestfailed: GET /canvas.png'));
    const refusedLoads = unexplained.filter((e) => e === 'console: Failed to load resource: net::ERR_CONNECTION_REFUSED');
    expect(refusedLoads.length).toBeLessThanOrEqual(cutImage);
    expect(unexplained.filter((e) => e !== 'console: Failed to load resource: net::ERR_CONNECTION_REFUSED')).toEqual([]);
  });
});
