/**
 * Layout helpers for the browser tests: the screens the issue names, pages opened at a screen size and
 * colour scheme, and the bounding-box checks (overlap, off screen, covered) run inside the page.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { waitReady } from './harness.js';

export interface Screen {
  name: string;
  width: number;
  height: number;
  touch: boolean;
}

export const DESKTOP: Screen = { name: 'desktop', width: 1280, height: 800, touch: false };
export const LAPTOP: Screen = { name: 'laptop', width: 1024, height: 768, touch: false };
export const PHONE: Screen = { name: 'phone', width: 390, height: 844, touch: true };

export type Box = { x: number; y: number; width: number; height: number };

export function intersect(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

export async function openScreen(browser: Browser, url: string, s: Screen, colorScheme: 'light' | 'dark' = 'light'): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({
    viewport: { width: s.width, height: s.height }, hasTouch: s.touch, isMobile: s.touch, deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  await page.emulateMedia({ colorScheme });
  await page.goto(url);
  await waitReady(page);
  return { context, page, errors };
}

export async function box(page: Page, selector: string): Promise<Box> {
  const b = await page.locator(selector).boundingBox();
  if (b === null) throw new Error(`${selector} is not on screen`);
  return b;
}

/**
 * Layout faults of the interactive elements on screen: pairs that overlap, elements that leave the screen,
 * and elements covered by something other than an opaque panel. An element under an opaque panel (a phone's
 * bottom sheet over the palette) cannot be reached and is not counted; one under anything else is a fault.
 */
export function layoutFaults(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const faults: string[] = [];
    const name = (e: Element): string => {
      const h = e as HTMLElement;
      return `${e.tagName.toLowerCase()}${h.id ? '#' + h.id : ''}${h.dataset.close ? `[data-close=${h.dataset.close}]` : ''}${h.dataset.colorIndex ? `[swatch ${h.dataset.colorIndex}]` : ''}${!h.id && h.textContent ? ` "${h.textContent.trim().slice(0, 20)}"` : ''}`;
    };
    const opaque = (e: Element): boolean => {
      const c = getComputedStyle(e).backgroundColor;
      const m = /rgba?\(([^)]+)\)/.exec(c);
      if (m === null) return false;
      const parts = m[1]!.split(',').map((p) => Number(p.trim()));
      return parts.length === 3 || parts[3] === 1;
    };
    const all = [...document.querySelectorAll('button, input, select, textarea, a[href], #minimap')].filter((e) => {
      const h = e as HTMLElement;
      if (!h.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) return false;
      const r = h.getBoundingClientRect();
      return r.width > 0 && r.height > 0;
    });
    const reachable: { el: Element; r: DOMRect }[] = [];
    for (const el of all) {
      const r = el.getBoundingClientRect();
      const panel = el.closest('.panel');
      // Inside a panel that scrolls, only the panel has to fit on screen (checked as its own element below).
      const clip = panel?.getBoundingClientRect();
      const outside = r.left < -0.5 || r.right > innerWidth + 0.5 || (clip === undefined && (r.top < -0.5 || r.bottom > innerHeight + 0.5));
      if (outside) faults.push(`${name(el)} leaves the screen: ${Math.round(r.left)},${Math.round(r.top)}–${Math.round(r.right)},${Math.round(r.bottom)}`);
      if (clip !== undefined && (r.bottom <= clip.top || r.top >= clip.bottom)) continue; // scrolled out of its panel
      const cx = Math.min(innerWidth - 1, Math.max(0, r.left + r.width / 2));
      const cy = Math.min(innerHeight - 1, Math.max(0, (clip ? Math.max(r.top, clip.top) + Math.min(r.bottom, clip.bottom) : r.top + r.bottom) / 2));
      const top = document.elementFromPoint(cx, cy);
      if (top !== null && top !== el && !el.contains(top) && !top.contains(el)) {
        const over = top.closest('.panel');
        if (over !== null && over !== panel && opaque(over)) continue; // under an opaque sheet: out of reach
        faults.push(`${name(el)} is covered by ${name(top)}`);
        continue;
      }
      reachable.push({ el, r });
    }
    for (const p of document.querySelectorAll('.panel')) {
      const h = p as HTMLElement;
      if (h.hidden) continue;
      const r = h.getBoundingClientRect();
      if (r.left < -0.5 || r.right > innerWidth + 0.5 || r.top < -0.5 || r.bottom > innerHeight + 0.5) faults.push(`${name(p)} leaves the screen`);
      if (!opaque(p)) faults.push(`${name(p)} is see-through (${getComputedStyle(p).backgroundColor})`);
    }
    for (let i = 0; i < reachable.length; i++) {
      for (let j = i + 1; j < reachable.length; j++) {
        const a = reachable[i]!;
        const b = reachable[j]!;
        if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
        const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
        const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
        if (w > 0.5 && h > 0.5) faults.push(`${name(a.el)} overlaps ${name(b.el)} by ${w.toFixed(1)}×${h.toFixed(1)} px`);
      }
    }
    return faults;
  });
}

