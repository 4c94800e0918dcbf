/**
 * The page's layout in a real Chromium, asserted with element bounding boxes (issue 25): no interactive
 * element overlaps another or leaves the screen at 1280×800, 1024×768 and 390×844 (touch), light and dark,
 * in each state that adds controls (heatmap on, each panel open, a pixel selected); the phone layout
 * (name field on screen, every colour visible, a minimap, a bottom sheet of bounded height that leaves the
 * art visible and is opaque, the touch wording of the zoom hint, clear of the tool rows); the desktop
 * column (Heat on keeps Replay clear of the minimap; no close button over a field). Every state's
 * screenshot is saved under test-artifacts/layout.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RunningServer } from '../../src/server.js';
import {
  INSTALL_HINT, ROOT, browserSuitePlan, buildClient, launchBrowser, nodeClient, placeFrom, startTestServer, toScreen, waitReady,
} from './harness.js';
import { DESKTOP, LAPTOP, PHONE, type Screen, box, intersect, layoutFaults, openScreen } from './layout-helpers.js';

const plan = browserSuitePlan();
if (!plan.run) console.log(`browser tests skipped: ${INSTALL_HINT}`);

const ARTIFACTS = join(ROOT, 'test-artifacts', 'layout');

/** Taps (touch) or clicks (mouse) at a screen point. */
async function tapAt(page: Page, s: Screen, x: number, y: number): Promise<void> {
  if (s.touch) await page.touchscreen.tap(x, y);
  else await page.mouse.click(x, y);
}

/** The states that add controls to the screen, each reached from the page as loaded (and left again). */
const STATES: { name: string; enter(page: Page, s: Screen): Promise<void>; leave(page: Page): Promise<void> }[] = [
  { name: 'loaded', enter: async () => {}, leave: async () => {} },
  {
    name: 'heat-on',
    enter: async (page) => { await page.click('#tool-heatmap'); await page.waitForSelector('#heat-window', { state: 'visible' }); },
    leave: async (page) => { await page.click('#tool-heatmap'); },
  },
  {
    name: 'template-panel',
    enter: async (page) => { await page.click('#tool-template'); await page.waitForSelector('#template-panel', { state: 'visible' }); },
    leave: async (page) => { await page.click('[data-close="template-panel"]'); },
  },
  {
    name: 'timelapse-panel',
    enter: async (page) => { await page.click('#tool-timelapse'); await page.waitForSelector('#timelapse-panel', { state: 'visible' }); },
    leave: async (page) => { await page.click('[data-close="timelapse-panel"]'); },
  },
  {
    name: 'pixel-info',
    enter: async (page, s) => {
      await page.click('#tool-info');
      await tapAt(page, s, s.width / 2, s.height / 2);
      await page.waitForFunction(() => document.getElementById('pixel-info')!.dataset.state === 'loaded');
    },
    leave: async (page) => { await page.click('[data-close="pixel-info"]'); await page.click('#tool-info'); },
  },
  {
    // Touch: a tap selects (the Place bar and the coordinates appear); mouse: the pointer hovers a pixel.
    name: 'selected',
    enter: async (page, s) => {
      if (s.touch) {
        await page.touchscreen.tap(s.width / 2, s.height / 2);
        await page.waitForSelector('#confirm', { state: 'visible' });
      } else {
        await page.mouse.move(s.width / 2, s.height / 2);
        await page.waitForSelector('#coords', { state: 'visible' });
      }
    },
    leave: async (page) => {
      if (await page.isVisible('#confirm-cancel')) await page.click('#confirm-cancel');
    },
  },
];

describe.skipIf(!plan.run)('layout (Chromium)', () => {
  let browser: Browser;
  let server: RunningServer;
  const contexts: BrowserContext[] = [];

  async function open(s: Screen, hash = '#512,512,8', scheme: 'light' | 'dark' = 'light', url = server.url): Promise<{ page: Page; errors: string[] }> {
    const o = await openScreen(browser, `${url}/${hash}`, s, scheme);
    contexts.push(o.context);
    return o;
  }

  beforeAll(async () => {
    if (!plan.chromium) throw new Error(`browser tests cannot run: ${INSTALL_HINT}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    buildClient();
    browser = await launchBrowser();
    server = await startTestServer();
    const bot = await nodeClient(server.wsUrl, 'Layout');
    for (let x = 500; x < 524; x += 3) expect(await placeFrom(bot, x, 512, 7)).toBe(0);
    bot.close();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await server?.close();
  });

  for (const s of [DESKTOP, LAPTOP, PHONE]) {
    for (const scheme of ['light', 'dark'] as const) {
      it(`no interactive element overlaps another or leaves the screen: ${s.width}×${s.height} ${scheme}`, async () => {
        const { page, errors } = await open(s, '#512,512,8', scheme);
        for (const state of STATES) {
          await state.enter(page, s);
          await page.waitForTimeout(50);
          await page.screenshot({ path: join(ARTIFACTS, `overlap-${s.width}x${s.height}-${scheme}-${state.name}.png`) });
          expect(await layoutFaults(page), `${state.name} at ${s.width}×${s.height} ${scheme}`).toEqual([]);
          await state.leave(page);
        }
        expect(errors).toEqual([]);
      });
    }
  }

  for (const s of [DESKTOP, PHONE]) {
    it(`${s.name}: the name field stays on screen with a pixel selected or hovered, and the coordinates show`, async () => {
      const { page } = await open(s);
      await STATES.find((t) => t.name === 'selected')!.enter(page, s);
      const name = await box(page, '#name');
      expect(name.x).toBeGreaterThanOrEqual(0);
      expect(name.x + name.width).toBeLessThanOrEqual(s.width);
      // The coordinates are on screen: in the top bar with a mouse, in the Place bar on touch.
      const coords = await box(page, s.touch ? '#confirm-text' : '#coords');
      expect(await page.textContent(s.touch ? '#confirm-text' : '#coords')).toMatch(/^\(\d+, \d+\)$/);
      expect(intersect(coords, name)).toBe(0);
      await page.screenshot({ path: join(ARTIFACTS, `name-field-${s.name}.png`) });
    });

    it(`${s.name}: every colour of the palette is on screen at once, no sideways scrolling`, async () => {
      const { page } = await open(s);
      const p = await page.evaluate(() => {
        const el = document.getElementById('palette')!;
        const r = el.getBoundingClientRect();
        const swatches = [...el.querySelectorAll('.swatch')].map((b) => b.getBoundingClientRect());
        return {
          count: swatches.length,
          expected: window.__pixelCanvas!.client.welcome!.palette.length,
          scrolls: el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1,
          outside: swatches.filter((b) => b.left < r.left - 0.5 || b.right > r.right + 0.5 || b.top < r.top - 0.5 || b.bottom > r.bottom + 0.5
            || b.left < 0 || b.right > innerWidth || b.bottom > innerHeight).length,
          smallest: Math.min(...swatches.map((b) => Math.min(b.width, b.height))),
        };
      });
      expect(p.count).toBe(p.expected);
      expect(p.scrolls).toBe(false);
      expect(p.outside).toBe(0);
      expect(p.smallest).toBeGreaterThanOrEqual(s.touch ? 44 : 24); // a target a finger can hit
      await page.screenshot({ path: join(ARTIFACTS, `palette-${s.name}.png`) });
    });

    it(`${s.name}: a minimap gives the overview; the Map button hides it and the page remembers`, async () => {
      const { page } = await open(s);
      const map = await box(page, '#minimap');
      expect(map.width).toBeGreaterThan(60);
      expect(map.width).toBeLessThanOrEqual(s.touch ? 100 : 170); // small on a phone
      for (const sel of ['#tools', '.zoom-row']) expect(intersect(map, await box(page, sel)), sel).toBe(0);
      await page.screenshot({ path: join(ARTIFACTS, `minimap-${s.name}.png`) });
      await page.click('#minimap-toggle');
      expect(await page.isVisible('#minimap')).toBe(false);
      expect(await page.getAttribute('#minimap-toggle', 'aria-pressed')).toBe('false');
      await page.reload();
      await waitReady(page);
      expect(await page.isVisible('#minimap')).toBe(false);
      await page.click('#minimap-toggle');
      expect(await page.isVisible('#minimap')).toBe(true);
    });

    it(`${s.name}: a panel is opaque, of bounded height, and leaves the art at the centre of the view visible`, async () => {
      const { page } = await open(s);
      const centre = await toScreen(page, 512.5, 512.5);
      for (const [tool, id] of [['#tool-template', '#template-panel'], ['#tool-timelapse', '#timelapse-panel']] as const) {
        await page.click(tool);
        const p = await box(page, id);
        expect(p.height, id).toBeLessThanOrEqual(s.height * (s.touch ? 0.4 : 0.75));
        const covers = centre.x >= p.x && centre.x <= p.x + p.width && centre.y >= p.y && centre.y <= p.y + p.height;
        expect(covers, `${id} covers the view's centre`).toBe(false);
        const bg = await page.evaluate((sel) => getComputedStyle(document.querySelector(sel)!).backgroundColor, id);
        expect(bg, id).toMatch(/^rgb\(/); // rgb(), not rgba(): opaque over whatever lies beneath
        await page.screenshot({ path: join(ARTIFACTS, `panel-${s.name}-${id.slice(1)}.png`) });
      }
      // One panel at a time: the second replaced the first.
      expect(await page.isVisible('#template-panel')).toBe(false);
    });

    it(`${s.name}: the pixel being looked at or placed stays in sight when pixel info or the Place bar appears`, async () => {
      const { page } = await open(s, '#512,512,12');
      const bar = await box(page, '.bar-bottom');
      const at = { x: s.width / 3, y: bar.y - 30 }; // just above the bottom controls
      const px = await page.evaluate(([x, y]) => {
        const p = window.__pixelCanvas!.screenToCanvas(x!, y!);
        return { x: Math.floor(p.x), y: Math.floor(p.y) };
      }, [at.x, at.y]);
      const clear = async (over: string): Promise<void> => {
        const cover = await box(page, over);
        const shown = await toScreen(page, px.x, px.y + 1); // the pixel's lower edge
        const left = await toScreen(page, px.x, px.y);
        const covered = shown.y > cover.y && left.y < cover.y + cover.height && left.x + 12 > cover.x && left.x < cover.x + cover.width;
        expect(covered, `(${px.x}, ${px.y}) at y ${left.y}–${shown.y} under ${over} from y ${cover.y}`).toBe(false);
      };
      await page.click('#tool-info');
      await tapAt(page, s, at.x, at.y);
      await page.waitForFunction(() => document.getElementById('pixel-info')!.dataset.state === 'loaded');
      expect(await page.textContent('#info-coords')).toBe(`(${px.x}, ${px.y})`);
      await clear('#pixel-info');
      await clear('.bar-bottom');
      await page.screenshot({ path: join(ARTIFACTS, `info-in-sight-${s.name}.png`) });
      await page.click('[data-close="pixel-info"]');
      await page.click('#tool-info');
      if (s.touch) {
        const now = await toScreen(page, px.x + 0.5, px.y + 0.5);
        await page.touchscreen.tap(now.x, now.y);
        await page.waitForSelector('#confirm', { state: 'visible' });
        expect(await page.textContent('#confirm-text')).toBe(`(${px.x}, ${px.y})`);
        await clear('.bar-bottom');
        await page.screenshot({ path: join(ARTIFACTS, `selection-in-sight-${s.name}.png`) });
      }
    });

    it(`${s.name}: the zoom hint says what to do on this device and covers no tool or zoom button`, async () => {
      const { page } = await open(s, '');
      await tapAt(page, s, s.width / 2, s.height / 2);
      await page.waitForSelector('.toast');
      const text = await page.textContent('#toasts');
      if (s.touch) {
        expect(text).toContain('Tap it again, then Place');
        expect(text).not.toMatch(/click/i);
      } else {
        expect(text).toContain('Click again to place');
      }
      const toast = await box(page, '.toast');
      for (const sel of ['#tools', '.zoom-row', '#minimap', '.bar-top', '.bar-bottom']) {
        expect(intersect(toast, await box(page, sel)), `toast over ${sel}`).toBe(0);
      }
      await page.screenshot({ path: join(ARTIFACTS, `zoom-hint-${s.name}.png`) });
    });

    it(`${s.name}: Heat on keeps Replay clear of the minimap, and no close button lies over a field`, async () => {
      const { page } = await open(s);
      await page.click('#tool-heatmap');
      await page.waitForSelector('#heat-window', { state: 'visible' });
      const replay = await box(page, '#tool-timelapse');
      for (const sel of ['#minimap', '.zoom-row', '#heat-window', '#tool-heatmap']) expect(intersect(replay, await box(page, sel)), sel).toBe(0);
      // The lower edge of Replay is Replay's: a click there opens the timelapse and does not move the view.
      const before = await page.evaluate(() => window.__pixelCanvas!.view);
      await page.mouse.click(replay.x + replay.width / 2, replay.y + replay.height - 2);
      expect(await page.isVisible('#timelapse-panel')).toBe(true);
      expect(await page.evaluate(() => window.__pixelCanvas!.view)).toEqual(before);
      const close = await box(page, '[data-close="timelapse-panel"]');
      for (const sel of ['#timelapse-speed', '#timelapse-range']) expect(intersect(close, await box(page, sel)), sel).toBe(0);
      await page.screenshot({ path: join(ARTIFACTS, `heat-replay-${s.name}.png`) });
      await page.click('#tool-template');
      const closeT = await box(page, '[data-close="template-panel"]');
      expect(intersect(closeT, await box(page, '#template-url'))).toBe(0);
      await page.screenshot({ path: join(ARTIFACTS, `template-close-${s.name}.png`) });
    });
  }
});
