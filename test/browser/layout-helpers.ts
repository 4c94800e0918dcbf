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

/**
 * Layout faults of a page that scrolls (the admin page), in page coordinates, so what is below the fold
 * counts too: a status line over a form control, two controls overlapping, a checkbox away from the words
 * of its label (on one line with them, at most 16 px before them), anything wider than the screen.
 */
export function pageLayoutFaults(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const faults: string[] = [];
    const box = (e: Element) => {
      const r = e.getBoundingClientRect();
      return { x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height };
    };
    const overlap = (a: ReturnType<typeof box>, b: ReturnType<typeof box>) =>
      Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x) > 0.5 && Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y) > 0.5;
    const name = (e: Element) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${(e as HTMLInputElement).name ? `[name=${(e as HTMLInputElement).name}]` : ''}${!e.id ? ` "${(e.textContent ?? '').trim().slice(0, 24)}"` : ''}`;
    const shown = (e: Element) => (e as HTMLElement).checkVisibility() && e.getBoundingClientRect().width > 0;
    const controls = [...document.querySelectorAll('input, select, button, a[href], canvas, label')].filter(shown);
    for (const status of [...document.querySelectorAll('.result, [role="status"]')].filter(shown)) {
      for (const c of controls) if (!status.contains(c) && overlap(box(status), box(c))) faults.push(`${name(status)} lies over ${name(c)}`);
    }
    const interactive = controls.filter((e) => e.tagName !== 'LABEL');
    for (let i = 0; i < interactive.length; i++) {
      for (let j = i + 1; j < interactive.length; j++) {
        const a = interactive[i]!;
        const b = interactive[j]!;
        if (!a.contains(b) && !b.contains(a) && overlap(box(a), box(b))) faults.push(`${name(a)} overlaps ${name(b)}`);
      }
    }
    for (const cb of [...document.querySelectorAll('input[type="checkbox"]')].filter(shown)) {
      // The label's words, wherever they sit in its markup: the boxes of its text, measured with a Range.
      const label = cb.closest('label');
      const texts: DOMRect[] = [];
      const walk = label ? document.createTreeWalker(label, NodeFilter.SHOW_TEXT) : null;
      for (let n = walk?.nextNode(); n; n = walk!.nextNode()) {
        if (n.textContent!.trim() === '') continue;
        const range = document.createRange();
        range.selectNodeContents(n);
        texts.push(range.getBoundingClientRect());
      }
      if (texts.length === 0) {
        faults.push(`${name(cb)} has no label with words`);
        continue;
      }
      const c = box(cb);
      const left = Math.min(...texts.map((t) => t.left)) + scrollX;
      const top = Math.min(...texts.map((t) => t.top)) + scrollY;
      const bottom = Math.max(...texts.map((t) => t.bottom)) + scrollY;
      const gap = left - (c.x + c.w);
      const centres = Math.abs((c.y + c.h / 2) - (top + bottom) / 2);
      if (gap < 0 || gap > 16 || centres > 6) faults.push(`${name(cb)} is not beside "${label!.textContent!.trim()}" (gap ${gap.toFixed(1)} px, centres ${centres.toFixed(1)} px apart)`);
    }
    if (document.documentElement.scrollWidth > innerWidth + 0.5) faults.push(`the page is ${document.documentElement.scrollWidth} px wide on a ${innerWidth} px screen`);
    return faults;
  });
}
