/**
 * The pages under their security headers, in a real Chromium: the painter page (painting, pixel info, the
 * template from a file and a URL, heatmap, timelapse, copy link), the music page (Web Audio) and the admin
 * page work with no CSP violation; a page on another origin (a second server on another port) can neither
 * open a painting WebSocket from its visitor's browser nor frame the painter page.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pngjs from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type RunningServer, startServer } from '../../src/server.js';
import { DEFAULTS } from '../../src/config.js';
import { INSTALL_HINT, browserSuitePlan, buildClient, launchBrowser, startTestServer, toScreen, waitReady } from './harness.js';

const plan = browserSuitePlan();

/** Collects every CSP violation the page reports (the DOM event, and Chromium's console line) into `out`. */
async function watchCsp(context: BrowserContext, page: Page, out: string[]): Promise<void> {
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as unknown as { __csp: string[] }).__csp ??= [];
      (window as unknown as { __csp: string[] }).__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page.on('console', (msg) => {
    const t = msg.text();
    if (/Content Security Policy|Permissions-Policy|Refused to/i.test(t)) out.push(`console: ${t}`);
  });
  page.on('pageerror', (err) => out.push(`pageerror: ${err.message}`));
}

const violations = (page: Page): Promise<string[]> => page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? []);

describe.skipIf(!plan.run)('pages under the security headers (Chromium)', () => {
  let browser: Browser;
  const servers: RunningServer[] = [];
  const contexts: BrowserContext[] = [];
  let evil: Server | null = null;

  async function context(): Promise<{ context: BrowserContext; page: Page; csp: string[] }> {
    const c = await browser.newContext({ viewport: { width: 960, height: 700 }, deviceScaleFactor: 1 });
    contexts.push(c);
    const page = await c.newPage();
    const csp: string[] = [];
    await watchCsp(c, page, csp);
    return { context: c, page, csp };
  }

  beforeAll(async () => {
    if (!plan.chromium) throw new Error(`browser tests cannot run: ${INSTALL_HINT}`);
    buildClient();
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    for (const s of servers) await s.close();
    evil?.close();
  });

  it('the painter page: painting and every tool run with no CSP violation', async () => {
    const s = await startTestServer({ paintRate: 100, paintBurst: 100 });
    servers.push(s);
    expect((await fetch(`${s.url}/`)).headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const { context: c, page, csp } = await context();
    await c.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.url });
    const png = new pngjs.PNG({ width: 2, height: 2 });
    png.data.fill(255);
    const body = pngjs.PNG.sync.write(png);
    await page.route('**/tpl/art.png', (route) => route.fulfill({ status: 200, contentType: 'image/png', body }));
    await page.goto(`${s.url}/#10,10,16&template=${encodeURIComponent(`${s.url}/tpl/art.png`)}&ox=8&oy=8`);
    await waitReady(page);
    // Paint one pixel through the page (the WebSocket under connect-src).
    const before = s.store.get(10, 10);
    await page.click('#palette button:nth-child(3)');
    const at = await toScreen(page, 10.5, 10.5);
    await page.mouse.click(at.x, at.y);
    if (await page.isVisible('#confirm-place')) await page.click('#confirm-place');
    await expect.poll(() => s.store.get(10, 10), { timeout: 3000 }).not.toBe(before);
    await page.waitForFunction(() => window.__pixelCanvas!.tools !== undefined);
    // The tools: pixel info (fetch), heatmap (fetch + canvas), timelapse (fetch), a template from a file
    // (blob: image), the minimap (/canvas.png), copy link (clipboard).
    await page.click('#tool-info');
    await page.mouse.click(at.x, at.y);
    await page.waitForFunction(() => !document.getElementById('pixel-info')!.hidden);
    await page.click('#tool-heatmap');
    await page.click('#tool-timelapse');
    await page.click('#tool-template');
    await page.setInputFiles('#template-file', { name: 'art.png', mimeType: 'image/png', buffer: body });
    await page.waitForFunction(() => window.__pixelCanvas!.tools.template.loaded);
    await page.click('#copy-link');
    await page.waitForTimeout(500);
    expect(await violations(page)).toEqual([]);
    expect(csp).toEqual([]);
  });

  it('the music page: Web Audio playback with no CSP violation', async () => {
    const s = await startTestServer({ mode: 'music', tempo: 100 });
    servers.push(s);
    const { page, csp } = await context();
    await page.goto(s.url);
    await page.waitForSelector('#music-play');
    // The panel's styles come from the bundle: a swatch is laid out as music.css says.
    expect(await page.locator('.music-swatch').first().evaluate((el) => getComputedStyle(el).minWidth)).toBe('44px');
    await page.click('#music-play');
    await page.waitForFunction(() => (window as unknown as { __music?: { playing: boolean } }).__music?.playing === true);
    await page.waitForTimeout(300);
    expect(await violations(page)).toEqual([]);
    expect(csp).toEqual([]);
  });

  it('the admin page: sign in and act with no CSP violation', async () => {
    const s = await startServer({ ...DEFAULTS, port: 0, host: '127.0.0.1', inMemory: true, logLevel: 'silent' }, { adminToken: 'csp-token' });
    servers.push(s);
    const { page, csp } = await context();
    await page.goto(`${s.url}/admin`);
    await page.fill('#token', 'csp-token');
    await page.click('#login button[type="submit"]');
    await page.waitForFunction(() => document.getElementById('login-state')!.textContent === 'Signed in.');
    await page.click('#ro-toggle');
    await page.waitForFunction(() => document.getElementById('ro-state')!.textContent === 'paused (read-only)');
    await page.fill('#ban input[name="value"]', '203.0.113.9');
    await page.click('#ban button[type="submit"]');
    await page.waitForFunction(() => document.getElementById('bans')!.textContent!.includes('203.0.113.9'));
    expect(await violations(page)).toEqual([]);
    expect(csp).toEqual([]);
  });

  it('a page on another origin can neither open a painting WebSocket nor frame the painter page', async () => {
    const s = await startTestServer();
    servers.push(s);
    // The other origin: a plain server on another port that serves the attacker's page.
    evil = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<!doctype html><title>evil</title><iframe id="f" src="${s.url}/" width="600" height="400"></iframe>
<script>
  window.wsResult = new Promise((resolve) => {
    const ws = new WebSocket(${JSON.stringify(s.wsUrl)});
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => resolve('open');
    ws.onerror = () => resolve('error');
  });
</script>`);
    });
    await new Promise<void>((r) => evil!.listen(0, '127.0.0.1', () => r()));
    const evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`;
    const { page } = await context();
    await page.goto(evilUrl);
    expect(await page.evaluate(() => (window as unknown as { wsResult: Promise<string> }).wsResult)).toBe('error');
    // The framed painter would connect its own WebSocket (same origin as the server) and paint on a click.
    await page.waitForTimeout(1500);
    const frame = page.frames().find((f) => f !== page.mainFrame());
    expect(frame).toBeDefined();
    const framedReady = await frame!.evaluate(() => (window as unknown as { __pixelCanvas?: { ready: boolean } }).__pixelCanvas?.ready === true).catch(() => false);
    expect(framedReady).toBe(false);
    expect(s.room.connections).toBe(0);
    expect(await s.metrics.handshakesRefused.get().then((m) => m.values.find((v) => v.labels.reason === 'origin')?.value ?? 0)).toBeGreaterThanOrEqual(1);
  });
});
