/**
 * Moderation by hand (issue 25, point 6) in a real Chromium, at 1280×800 and at 390×844 with touch, under
 * the pages' CSP: a moderator signs in on /admin, drags the rollback's rectangle on the view of the canvas
 * (a rough drag, "Zoom to rectangle", then an exact one), picks the time in a datetime field, sees a
 * preview whose count is what the API's dry run says, applies it, and a painter's page shows the pixels
 * restored. Pixel info shows the painter's identity and address hash only in the moderator's tab, and its
 * Preview undo / Undo / Ban act on them. The audit log is a table in words and local time. Bounding boxes:
 * no status line lies over a form, every checkbox sits beside its words, no two controls overlap.
 * Screenshots go to test-artifacts/admin-ui/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { DEFAULTS } from '../../src/config.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import { ErrorCode } from '../../src/net/protocol.js';
import {
  INSTALL_HINT, ROOT, browserSuitePlan, buildClient, launchBrowser, nodeClient, placeFrom, toScreen, waitForPixel, waitReady,
} from './harness.js';
import { DESKTOP, LAPTOP, PHONE, type Screen, layoutFaults, pageLayoutFaults } from './layout-helpers.js';

const plan = browserSuitePlan();
const ARTIFACTS = join(ROOT, 'test-artifacts', 'admin-ui');
const TOKEN = 'admin-ui-token-0123456789abcdef';
const RED = 7;
const BLUE = 18;
const WHITE = DEFAULT_PALETTE[0]!;

type Point = { x: number; y: number };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function api(s: RunningServer, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${s.url}/api/admin/${path}`, {
    method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(res.status, `${method} ${path}`).toBe(200);
  return res.json();
}

/** A page at the screen's size (touch on the phone) that records CSP violations and admin requests. */
async function screenPage(browser: Browser, s: Screen, contexts: BrowserContext[]): Promise<{ page: Page; csp: string[]; adminRequests: string[]; cdp: CDPSession | null }> {
  const context = await browser.newContext({ viewport: { width: s.width, height: s.height }, hasTouch: s.touch, isMobile: s.touch, deviceScaleFactor: 1 });
  contexts.push(context);
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const w = window as unknown as { __csp?: string[] };
      (w.__csp ??= []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  const csp: string[] = [];
  const adminRequests: string[] = [];
  page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) csp.push(m.text()); });
  page.on('pageerror', (e) => csp.push(`pageerror: ${e.message}`));
  page.on('request', (r) => { if (new URL(r.url()).pathname.startsWith('/api/admin/')) adminRequests.push(new URL(r.url()).pathname); });
  return { page, csp, adminRequests, cdp: s.touch ? await context.newCDPSession(page) : null };
}

const violations = (page: Page): Promise<string[]> => page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? []);

async function touch(cdp: CDPSession, type: 'touchStart' | 'touchMove' | 'touchEnd', points: Point[]): Promise<void> {
  await cdp.send('Input.dispatchTouchEvent', { type, touchPoints: points.map((p, i) => ({ x: p.x, y: p.y, id: i, radiusX: 2, radiusY: 2, force: 1 })) });
}

/** A drag with the mouse, or one finger on the phone. */
async function drag(page: Page, cdp: CDPSession | null, from: Point, to: Point, steps = 10): Promise<void> {
  if (cdp !== null) {
    await touch(cdp, 'touchStart', [from]);
    for (let k = 1; k <= steps; k++) await touch(cdp, 'touchMove', [{ x: from.x + ((to.x - from.x) * k) / steps, y: from.y + ((to.y - from.y) * k) / steps }]);
    await touch(cdp, 'touchEnd', []);
    return;
  }
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move(to.x, to.y, { steps });
  await page.mouse.up();
}

/** A click, or a tap on the phone. */
async function press(page: Page, cdp: CDPSession | null, at: Point): Promise<void> {
  if (cdp !== null) await page.touchscreen.tap(at.x, at.y);
  else await page.mouse.click(at.x, at.y);
}

/** The viewport point at the centre of canvas pixel (x, y) on the admin page's view of the canvas. */
function mapPoint(page: Page, x: number, y: number): Promise<Point> {
  return page.evaluate(([x, y]) => {
    const el = document.getElementById('map') as HTMLCanvasElement;
    const [vx, vy, vw, vh] = el.dataset.view!.split(',').map(Number) as [number, number, number, number];
    const r = el.getBoundingClientRect();
    return { x: r.left + ((x! - vx + 0.5) / vw) * r.width, y: r.top + ((y! - vy + 0.5) / vh) * r.height };
  }, [x, y]);
}

/** The colour the view of the canvas shows at the centre of canvas pixel (x, y). */
function mapColour(page: Page, x: number, y: number): Promise<number> {
  return page.evaluate(([x, y]) => {
    const el = document.getElementById('map') as HTMLCanvasElement;
    const [vx, vy, vw, vh] = el.dataset.view!.split(',').map(Number) as [number, number, number, number];
    const d = el.getContext('2d')!.getImageData(Math.floor(((x! - vx + 0.5) / vw) * el.width), Math.floor(((y! - vy + 0.5) / vh) * el.height), 1, 1).data;
    return (d[0]! << 16) | (d[1]! << 8) | d[2]!;
  }, [x, y]);
}

async function mapLoaded(page: Page): Promise<void> {
  await page.waitForFunction(() => document.getElementById('map')!.dataset.loaded === 'true');
}

describe.skipIf(!plan.run)('moderation by hand (Chromium)', () => {
  let browser: Browser;
  const servers: RunningServer[] = [];
  const contexts: BrowserContext[] = [];

  async function serve(): Promise<RunningServer> {
    const s = await startServer({ ...DEFAULTS, port: 0, host: '127.0.0.1', inMemory: true, logLevel: 'silent', paintRate: 1000, paintBurst: 1000 }, { adminToken: TOKEN });
    servers.push(s);
    return s;
  }

  async function signIn(page: Page, s: RunningServer): Promise<void> {
    await page.goto(`${s.url}/admin`);
    await page.fill('#token', TOKEN);
    await page.click('#login button[type="submit"]');
    await page.waitForFunction(() => document.getElementById('login-state')!.textContent === 'Signed in.');
    await mapLoaded(page);
  }

  beforeAll(async () => {
    if (!plan.chromium) throw new Error(`browser tests cannot run: ${INSTALL_HINT}`);
    buildClient();
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    for (const s of servers) await s.close();
  });

  it('laptop (1024×768): the admin page, signed in, a rollback previewed, has no overlaps in either theme', async () => {
    const s = await serve();
    const artist = await nodeClient(s.wsUrl, 'artist');
    expect(await placeFrom(artist, 10, 10, RED)).toBe(0);
    artist.close();
    const { page } = await screenPage(browser, LAPTOP, contexts);
    await signIn(page, s);
    await page.fill('#rollback [name=x]', '0');
    await page.fill('#rollback [name=y]', '0');
    await page.fill('#rollback [name=w]', '16');
    await page.fill('#rollback [name=h]', '16');
    await page.click('#rollback button[type=submit]');
    await page.waitForFunction(() => /Preview/.test(document.getElementById('rollback-result')!.textContent ?? ''));
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      expect(await pageLayoutFaults(page), scheme).toEqual([]);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'admin-laptop.png'), fullPage: true });
  });

  for (const screen of [DESKTOP, PHONE]) {
    it(`${screen.name}: a rectangle dragged on the canvas, previewed (the API's count, the pixels marked), applied, seen restored by a painter`, async () => {
      const s = await serve();
      // Before the time rolled back to: a red row. After it: a blue 4×3 block over it.
      const artist = await nodeClient(s.wsUrl, 'artist');
      for (let x = 100; x < 104; x++) expect(await placeFrom(artist, x, 100, RED)).toBe(0);
      const T = Math.ceil((Date.now() + 1) / 1000) * 1000; // whole seconds: what a datetime field holds
      await sleep(T - Date.now() + 50);
      const vandal = await nodeClient(s.wsUrl, 'vandal');
      for (let y = 100; y < 103; y++) for (let x = 100; x < 104; x++) expect(await placeFrom(vandal, x, y, BLUE)).toBe(0);
      artist.close();
      vandal.close();

      const painter = await screenPage(browser, screen, contexts);
      await painter.page.goto(`${s.url}/#102,101,16`);
      await waitReady(painter.page);
      await waitForPixel(painter.page, 101, 101, DEFAULT_PALETTE[BLUE]!, 5000);

      const { page, csp, cdp } = await screenPage(browser, screen, contexts);
      await signIn(page, s);
      // The time as a moderator picks it: local time in a datetime field.
      await page.fill('#rollback input[name="time"]', await page.evaluate((t) => {
        const d = new Date(t);
        const p = (n: number) => String(n).padStart(2, '0');
        return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
      }, T));
      await page.locator('#map').scrollIntoViewIfNeeded();
      // Roughly around the damage on the whole canvas, then zoomed in and exactly.
      await drag(page, cdp, await mapPoint(page, 88, 90), await mapPoint(page, 116, 112));
      expect(Number(await page.inputValue('#rollback input[name="w"]'))).toBeGreaterThan(10);
      await page.click('#map-zoom');
      await mapLoaded(page);
      const zoomed = (await page.getAttribute('#map', 'data-view'))!.split(',').map(Number);
      expect(zoomed[2]).toBeLessThan(100);
      await page.locator('#map').scrollIntoViewIfNeeded();
      await drag(page, cdp, await mapPoint(page, 100, 100), await mapPoint(page, 103, 102));
      const rect = Object.fromEntries(await Promise.all(['x', 'y', 'w', 'h'].map(async (k) => [k, Number(await page.inputValue(`#rollback input[name="${k}"]`))])));
      expect(rect).toEqual({ x: 100, y: 100, w: 4, h: 3 });
      expect(await mapColour(page, 101, 101)).toBe(DEFAULT_PALETTE[BLUE]);

      // The preview: the count the API's dry run gives, and the pixels it would write drawn on the view.
      await page.click('#rollback button[type="submit"]');
      await page.waitForFunction(() => document.getElementById('rollback-result')!.dataset.state === 'previewed');
      const dry = await api(s, 'POST', 'rollback', { ...rect, time: T, dryRun: true });
      expect(dry.restored).toBe(12);
      expect(Number(await page.getAttribute('#rollback-result', 'data-restored'))).toBe(dry.restored);
      expect(await page.textContent('#rollback-result')).toContain('would restore 12 pixels');
      expect(await page.textContent('#rollback-apply')).toBe('Roll back 12 pixels');
      expect(await page.getAttribute('#map', 'data-preview')).toBe('12');
      expect(await mapColour(page, 101, 101)).toBe(WHITE); // the background it would get back
      expect(await mapColour(page, 100, 100)).toBe(DEFAULT_PALETTE[RED]);
      expect(s.store.get(101, 101)).toBe(BLUE); // a preview changes nothing
      await page.screenshot({ path: join(ARTIFACTS, `rollback-preview-${screen.name}.png`), fullPage: true });

      await page.click('#rollback-apply');
      await page.waitForFunction(() => document.getElementById('rollback-result')!.dataset.state === 'applied');
      expect(await page.textContent('#rollback-result')).toContain('restored 12 pixels');
      await waitForPixel(painter.page, 101, 101, WHITE, 5000);
      await waitForPixel(painter.page, 100, 100, DEFAULT_PALETTE[RED]!, 5000);
      await painter.page.screenshot({ path: join(ARTIFACTS, `rollback-restored-painter-${screen.name}.png`) });

      // A ban by the address hash pixel info shows, from the form: listed with an Unban button.
      await page.selectOption('#ban select[name="kind"]', 'address');
      await page.fill('#ban input[name="value"]', 'fedcba9876543210');
      await page.fill('#ban input[name="reason"]', 'griefing the logo');
      await page.click('#ban button[type="submit"]');
      await page.waitForFunction(() => document.getElementById('bans')!.textContent!.includes('fedcba9876543210'));
      expect(await page.textContent('#ban-result')).toBe('Banned fedcba9876543210.');

      // The audit log: readable rows, the time in the browser's local time, no JSON, no epoch numbers.
      await page.waitForFunction(() => [...document.querySelectorAll('#audit tr')].some((r) => r.textContent!.includes('Rollback'))
        && [...document.querySelectorAll('#audit tr')].some((r) => r.textContent!.includes('Ban')));
      const audit = (await api(s, 'GET', 'audit')).entries;
      const rows = await page.$$eval('#audit tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      expect(rows.length).toBe(audit.length);
      const local = await page.evaluate((ts: number[]) => ts.map((t) => new Date(t).toLocaleString()), audit.map((e: any) => e.time));
      rows.forEach((cells, i) => {
        expect(cells).toHaveLength(5);
        expect(cells[0]).toBe(local[i]);
        for (const c of cells) expect(c).not.toMatch(/[{}]|\d{12}/);
      });
      const rollbackRow = rows[audit.findIndex((e: any) => e.action === 'rollback')]!;
      expect(rollbackRow[1]).toBe('Rollback');
      expect(rollbackRow[2]).toBe('127.0.0.1');
      expect(rollbackRow[3]).toBe(`4×3 at (100, 100) back to ${await page.evaluate((t) => new Date(t).toLocaleString(), T)}`);
      expect(rollbackRow[4]).toBe('12 pixels');
      expect(rows[audit.findIndex((e: any) => e.action === 'ban')]!.slice(1, 4)).toEqual(['Ban', '127.0.0.1', 'address hash fedcba9876543210 — “griefing the logo”']);
      await page.locator('#audit-table').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(ARTIFACTS, `audit-${screen.name}.png`), fullPage: true });

      // Bounding boxes in both themes: status lines beside (not over) forms, checkboxes by their words.
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        expect(await pageLayoutFaults(page), scheme).toEqual([]);
      }
      expect(await violations(page)).toEqual([]);
      expect(csp).toEqual([]);
      expect(await violations(painter.page)).toEqual([]);
    });

    it(`${screen.name}: pixel info shows the painter's identity only in the moderator's tab, whose buttons undo and ban it`, async () => {
      const s = await serve();
      const zed = await nodeClient(s.wsUrl, 'Zed');
      expect(await placeFrom(zed, 200, 200, RED)).toBe(0);
      const who = await api(s, 'GET', 'pixel?x=200&y=200');
      expect(who.identity).toMatch(/^[0-9a-f]{24}$/);

      const openInfo = async (page: Page, cdp: CDPSession | null) => {
        await page.click('#tool-info');
        await press(page, cdp, await toScreen(page, 200.5, 200.5));
        await page.waitForFunction(() => document.getElementById('info-coords')!.textContent === '(200, 200)' && document.getElementById('pixel-info')!.dataset.state === 'loaded');
        // No toast sits over the open panel (the Info tool's hint covered its first lines on a phone).
        const covered = await page.evaluate(() => {
          const p = document.getElementById('pixel-info')!.getBoundingClientRect();
          return [...document.querySelectorAll('#toasts .toast')].map((t) => t.getBoundingClientRect())
            .filter((r) => r.left < p.right && r.right > p.left && r.top < p.bottom && r.bottom > p.top).length;
        });
        expect(covered).toBe(0);
      };

      // A painter: the public answer only; the page never asks the admin API.
      const painter = await screenPage(browser, screen, contexts);
      await painter.page.goto(`${s.url}/#200,200,16`);
      await waitReady(painter.page);
      await openInfo(painter.page, painter.cdp);
      expect(await painter.page.textContent('#info-who')).toBe('Placed by Zed');
      expect(await painter.page.isVisible('#info-mod')).toBe(false);
      expect(await painter.page.content()).not.toContain(who.identity);
      expect(painter.adminRequests).toEqual([]);
      await painter.page.screenshot({ path: join(ARTIFACTS, `pixel-info-painter-${screen.name}.png`) });

      // The moderator: signed in on /admin, then the canvas in the same tab.
      const mod = await screenPage(browser, screen, contexts);
      await signIn(mod.page, s);
      await mod.page.click('#canvas-link');
      await waitReady(mod.page);
      await mod.page.evaluate(() => { location.hash = '#200,200,16'; });
      await mod.page.waitForFunction(() => Math.abs(window.__pixelCanvas!.view.x - 200) < 1 && window.__pixelCanvas!.view.zoom === 16);
      await waitReady(mod.page);
      await openInfo(mod.page, mod.cdp);
      expect(await mod.page.isVisible('#info-mod')).toBe(true);
      expect(await mod.page.textContent('#info-identity')).toBe(who.identity);
      expect(await mod.page.textContent('#info-address')).toBe(who.address);

      await mod.page.click('#mod-preview');
      await mod.page.waitForFunction(() => !(document.getElementById('mod-undo') as HTMLButtonElement).hidden);
      const since = Date.now() - 24 * 3_600_000;
      const dry = await api(s, 'POST', 'undo', { identity: who.identity, since, dryRun: true });
      expect(dry.restored).toBe(1);
      expect(await mod.page.textContent('#mod-result')).toBe('Would restore 1 pixel.');
      expect(await mod.page.textContent('#mod-undo')).toBe('Undo 1 pixel');
      expect(s.store.get(200, 200)).toBe(RED);
      expect((await layoutFaults(mod.page)).filter((f) => /info|mod-|pixel-info/.test(f))).toEqual([]);
      await mod.page.screenshot({ path: join(ARTIFACTS, `pixel-info-moderator-${screen.name}.png`) });

      await mod.page.click('#mod-undo');
      await mod.page.waitForFunction(() => document.getElementById('mod-result')!.textContent!.startsWith('Undone'));
      expect(await mod.page.textContent('#mod-result')).toBe('Undone: restored 1 pixel.');
      await expect.poll(() => s.store.get(200, 200), { timeout: 3000 }).toBe(0);

      await mod.page.click('#mod-ban');
      expect(await mod.page.textContent('#mod-ban-confirm')).toBe('Confirm: ban this identity');
      await mod.page.click('#mod-ban-confirm');
      await mod.page.waitForFunction(() => document.getElementById('mod-result')!.textContent!.startsWith('Banned'));
      expect((await api(s, 'GET', 'bans')).bans).toMatchObject([{ kind: 'identity', value: who.identity, reason: 'pixel info at (200, 200)' }]);
      expect(await placeFrom(zed, 201, 200, RED)).toBe(ErrorCode.BANNED);
      zed.close();
      await mod.page.screenshot({ path: join(ARTIFACTS, `pixel-info-banned-${screen.name}.png`) });
      expect(await violations(mod.page)).toEqual([]);
      expect(mod.csp).toEqual([]);
      expect(painter.csp).toEqual([]);
    });
  }
});
