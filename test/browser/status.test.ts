/**
 * Truthful status in a real Chromium (issue 25, point 5), at 1280×800 and 390×844 (touch): the cooldown
 * pill says something true while connecting and offline (never a bare "–") and, once the server answers a
 * PLACE with BANNED, says so and stops counting down; the hover reticle (and a touch selection) previews
 * the chosen colour; the minimap keeps a lone painted pixel visible when it scales the canvas down.
 * Screenshots under test-artifacts/status.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DEFAULTS } from '../../src/config.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import { INSTALL_HINT, ROOT, browserSuitePlan, buildClient, launchBrowser, nodeClient, placeFrom, startTestServer, toScreen } from './harness.js';
import { DESKTOP, PHONE, type Screen, openScreen } from './layout-helpers.js';

const plan = browserSuitePlan();
if (!plan.run) console.log(`browser tests skipped: ${INSTALL_HINT}`);

const ARTIFACTS = join(ROOT, 'test-artifacts', 'status');
const TOKEN = 'status-test-token';

/** "rgb(255, 69, 0)" → 0xff4500. */
function cssRgb(css: string): number {
  const m = /rgba?\((\d+), (\d+), (\d+)/.exec(css);
  if (m === null) throw new Error(`not a colour: ${css}`);
  return (Number(m[1]) << 16) | (Number(m[2]) << 8) | Number(m[3]);
}

async function paintAt(page: Page, s: Screen, x: number, y: number): Promise<void> {
  const at = await toScreen(page, x + 0.5, y + 0.5);
  if (s.touch) {
    await page.touchscreen.tap(at.x, at.y);
    await page.waitForSelector('#confirm-place', { state: 'visible' });
    await page.click('#confirm-place');
  } else {
    await page.mouse.click(at.x, at.y);
  }
}

describe.skipIf(!plan.run)('truthful status (Chromium)', () => {
  let browser: Browser;
  let server: RunningServer;
  const contexts: BrowserContext[] = [];

  async function open(s: Screen, url: string): Promise<Page> {
    const o = await openScreen(browser, url, s);
    contexts.push(o.context);
    return o.page;
  }

  beforeAll(async () => {
    if (!plan.chromium) throw new Error(`browser tests cannot run: ${INSTALL_HINT}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    buildClient();
    browser = await launchBrowser();
    server = await startTestServer();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await server?.close();
  });

  for (const s of [DESKTOP, PHONE]) {
    it(`${s.name}: offline, the cooldown pill says painting waits for the connection, not "–"`, async () => {
      const own = await startTestServer();
      const page = await open(s, `${own.url}/#100,100,8`);
      expect(await page.textContent('#cooldown')).toMatch(/^Ready · \d+ px$/);
      await own.close();
      await page.waitForFunction(() => document.getElementById('cooldown')!.textContent!.startsWith('Offline'));
      const text = (await page.textContent('#cooldown'))!;
      expect(text).toMatch(/painting resumes/);
      expect(text).not.toContain('Ready');
      expect(await page.getAttribute('#cooldown', 'data-state')).toBe('unknown');
      await page.screenshot({ path: join(ARTIFACTS, `offline-${s.name}.png`) });
    });

    it(`${s.name}: banned, the pill says so instead of "Ready · N px" and does not count down`, async () => {
      const admin = await startServer({ ...DEFAULTS, port: 0, host: '127.0.0.1', inMemory: true, logLevel: 'silent' }, { adminToken: TOKEN });
      try {
        const res = await fetch(`${admin.url}/api/admin/ban`, {
          method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ ip: '127.0.0.1' }),
        });
        expect(res.status).toBe(200);
        const page = await open(s, `${admin.url}/#200,200,12`);
        await paintAt(page, s, 200, 200);
        await page.waitForFunction(() => document.getElementById('cooldown')!.dataset.state === 'banned');
        const text = await page.textContent('#cooldown');
        expect(text).toBe('Painting blocked by a moderator');
        expect(await page.getAttribute('#cooldown', 'data-remaining-ms')).toBeNull();
        await page.waitForTimeout(1200); // a countdown would have ticked by now
        expect(await page.textContent('#cooldown')).toBe(text);
        expect(admin.store.get(200, 200)).toBe(0);
        await page.screenshot({ path: join(ARTIFACTS, `banned-${s.name}.png`) });
        // Unbanned: the next accepted pixel brings the pill back, with the refused pixel's token refunded.
        await fetch(`${admin.url}/api/admin/unban`, {
          method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ ip: '127.0.0.1' }),
        });
        await paintAt(page, s, 201, 200);
        await page.waitForFunction(() => document.getElementById('cooldown')!.dataset.state !== 'banned');
        expect(await page.textContent('#cooldown')).toMatch(/^(Ready · \d+ px|Wait .+)$/);
      } finally {
        await admin.close();
      }
    });

    it(`${s.name}: the reticle (mouse) or the selection (touch) previews the chosen colour`, async () => {
      const page = await open(s, `${server.url}/#300,300,16`);
      const at = await toScreen(page, 300.5, 300.5);
      const marker = s.touch ? '#selection' : '#reticle';
      for (const index of [7, 18]) {
        await page.click(`.swatch[data-color-index="${index}"]`);
        if (s.touch) await page.touchscreen.tap(at.x, at.y);
        else await page.mouse.move(at.x, at.y + (index === 7 ? 0 : 1));
        await page.waitForSelector(marker, { state: 'visible' });
        const bg = await page.evaluate((sel) => getComputedStyle(document.querySelector(sel)!).backgroundColor, marker);
        expect(cssRgb(bg), `colour ${index}`).toBe(DEFAULT_PALETTE[index]);
        await page.screenshot({ path: join(ARTIFACTS, `preview-${s.name}-${index}.png`) });
        if (s.touch) await page.click('#confirm-cancel');
      }
      expect(server.store.get(300, 300)).toBe(0); // previewing is not painting
    });

    it(`${s.name}: the minimap keeps a lone painted pixel visible when it scales the canvas down`, async () => {
      const bot = await nodeClient(server.wsUrl, 'sparse');
      expect(await placeFrom(bot, 901, 131, 7)).toBe(0);
      bot.close();
      const page = await open(s, `${server.url}/#200,800,8`);
      // /canvas.png has it (the page fetched it after the placement); the scaled pixel must not wash out.
      await page.waitForFunction(() => {
        const m = document.getElementById('minimap') as HTMLCanvasElement;
        const sx = Math.floor((901 * m.width) / 1024);
        const sy = Math.floor((131 * m.height) / 1024);
        const d = m.getContext('2d')!.getImageData(sx, sy, 1, 1).data;
        return ((d[0]! << 16) | (d[1]! << 8) | d[2]!) === 0xff4500;
      }, undefined, { timeout: 5000 });
      await page.screenshot({ path: join(ARTIFACTS, `minimap-sparse-${s.name}.png`) });
    });
  }
});
