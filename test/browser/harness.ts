/**
 * Shared pieces of the browser tests: finding Chromium, building the client, starting servers in-process,
 * opening pages, reading pixels back from the canvas, and a Node-side client for painting from outside.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { WebSocket } from 'ws';
import { DEFAULTS, type ServerConfig } from '../../src/config.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { CanvasClient, type WebSocketLike } from '../../src/client/canvas-client.js';
import type { PixelCanvasHook } from '../../client/src/test-hook.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const INSTALL_HINT = `chromium not found at ${CHROMIUM_PATH} — install it with: apt-get install -y chromium`;
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** Whether the suite runs: always in CI (where a missing browser must fail, not pass silently), else only with Chromium. */
export function browserSuitePlan(): { run: boolean; chromium: boolean } {
  const present = existsSync(CHROMIUM_PATH);
  return { run: present || process.env.CI !== undefined, chromium: present };
}

export function buildClient(): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-client.mjs')], { cwd: ROOT, stdio: 'pipe' });
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(INSTALL_HINT);
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

export function startTestServer(overrides: Partial<ServerConfig> = {}): Promise<RunningServer> {
  return startServer({ ...DEFAULTS, port: 0, host: '127.0.0.1', inMemory: true, logLevel: 'silent', ...overrides });
}

export interface OpenPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught exceptions and console errors seen in the page. */
  errors: string[];
}

/** A page in its own context (own localStorage: another user), with a name preset, optionally set up before load. */
/**
 * `bypassCSP`: for tests that install their own instrument in the page (the audio tap's worklet is loaded
 * from a blob: URL the page's CSP rightly refuses); the page's own CSP is checked in security.test.ts.
 */
export async function openPage(browser: Browser, url: string, opts: { name?: string; before?: (page: Page) => Promise<void>; bypassCSP?: boolean } = {}): Promise<OpenPage> {
  const context = await browser.newContext({ viewport: { width: 960, height: 640 }, deviceScaleFactor: 1, ...(opts.bypassCSP ? { bypassCSP: true } : {}) });
  if (opts.name !== undefined) {
    await context.addInitScript((name) => localStorage.setItem('pixel-canvas:name', name), opts.name);
  }
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`); });
  // Which request failed, for the reader of a failing test (the console line names no URL).
  page.on('requestfailed', (req) => {
    const why = req.failure()?.errorText ?? '';
    // An aborted request (a navigation, a superseded fetch) is the page's own choice, not a failure.
    if (why !== 'net::ERR_ABORTED') errors.push(`requestfailed: ${req.method()} ${new URL(req.url()).pathname} ${why}`);
  });
  await opts.before?.(page);
  await page.goto(url);
  await waitReady(page);
  return { context, page, errors };
}

type HookWindow = Window & { __pixelCanvas?: PixelCanvasHook };

export async function waitReady(page: Page, timeout = 5000): Promise<void> {
  await page.waitForFunction(() => (window as HookWindow).__pixelCanvas?.ready === true, undefined, { timeout, polling: 20 });
}

export function view(page: Page): Promise<{ x: number; y: number; zoom: number }> {
  return page.evaluate(() => (window as HookWindow).__pixelCanvas!.view);
}

export function toScreen(page: Page, x: number, y: number): Promise<{ x: number; y: number }> {
  return page.evaluate(([x, y]) => (window as HookWindow).__pixelCanvas!.canvasToScreen(x!, y!), [x, y]);
}

export function toCanvas(page: Page, sx: number, sy: number): Promise<{ x: number; y: number }> {
  return page.evaluate(([sx, sy]) => (window as HookWindow).__pixelCanvas!.screenToCanvas(sx!, sy!), [sx, sy]);
}

/** The colour (0xRRGGBB) the canvas element shows at the centre of canvas pixel (x, y); -1 off screen. */
export function readPixel(page: Page, x: number, y: number): Promise<number> {
  return page.evaluate(([x, y]) => {
    const hook = (window as HookWindow).__pixelCanvas!;
    const el = document.getElementById('canvas') as HTMLCanvasElement;
    const dpr = el.width / el.clientWidth;
    const s = hook.canvasToScreen(x! + 0.5, y! + 0.5);
    const px = Math.floor(s.x * dpr);
    const py = Math.floor(s.y * dpr);
    if (px < 0 || py < 0 || px >= el.width || py >= el.height) return -1;
    const d = el.getContext('2d')!.getImageData(px, py, 1, 1).data;
    return (d[0]! << 16) | (d[1]! << 8) | d[2]!;
  }, [x, y]);
}

/** Waits until the canvas shows `rgb` at pixel (x, y); returns how long that took in ms. */
export async function waitForPixel(page: Page, x: number, y: number, rgb: number, timeout: number): Promise<number> {
  const started = performance.now();
  await page.waitForFunction(([x, y, rgb]) => {
    const hook = (window as HookWindow).__pixelCanvas!;
    const el = document.getElementById('canvas') as HTMLCanvasElement;
    const dpr = el.width / el.clientWidth;
    const s = hook.canvasToScreen(x! + 0.5, y! + 0.5);
    const d = el.getContext('2d')!.getImageData(Math.floor(s.x * dpr), Math.floor(s.y * dpr), 1, 1).data;
    return ((d[0]! << 16) | (d[1]! << 8) | d[2]!) === rgb;
  }, [x, y, rgb], { timeout, polling: 'raf' });
  return performance.now() - started;
}

/** A Node-side client (no reconnect), open and welcomed. */
export async function nodeClient(url: string, name = 'bot'): Promise<CanvasClient> {
  const client = new CanvasClient({ url, name, reconnect: false, socketFactory: (u) => new WebSocket(u) as unknown as WebSocketLike });
  const opened = new Promise<void>((resolve, reject) => {
    client.on('open', () => resolve());
    client.on('close', (c) => reject(new Error(`node client closed before WELCOME: ${c.code} ${c.reason}`)));
  });
  client.connect();
  await opened;
  return client;
}

export { placeFrom } from '../helpers/server.js';

export function hex(rgb: number): string {
  return `#${rgb.toString(16).padStart(6, '0')}`;
}
