/**
 * What the music browser tests share, beside ./harness.ts: the server's pattern palette (GET /api/music), a
 * page whose music clock has synced, and the scene most audio tests start from — one hat cell in sixteenths
 * at (100, 100), painted by a Node client, and a page opened on it at zoom 16, optionally with the
 * independent tap (./music-tap.ts) before its audio destination.
 */
import type { Browser, Page } from 'playwright-core';
import type { RunningServer } from '../../src/server.js';
import type { MusicHook } from '../../client/src/music/music-mode.js';
import { type OpenPage, nodeClient, openPage, placeFrom } from './harness.js';
import { installTap } from './music-tap.js';

export type MusicWindow = Window & { __music?: MusicHook };

/** One pattern as GET /api/music lists it. */
export interface ApiPattern {
  index: number;
  name: string;
  stepsPerBeat: number;
  steps: number[];
}

export async function musicPatterns(server: RunningServer): Promise<ApiPattern[]> {
  return ((await (await fetch(`${server.url}/api/music`)).json()) as { patterns: ApiPattern[] }).patterns;
}

/** Waits until the page's music clock has synced with the server's (PING/PONG). */
export async function waitSynced(page: Page, timeout = 5000): Promise<void> {
  await page.waitForFunction(() => (window as MusicWindow).__music?.synced === true, undefined, { timeout, polling: 20 });
}

/** A page on `url`, loaded and ready (openPage), its music clock synced; `tap`: with the independent tap installed first. */
export async function openMusicPage(browser: Browser, url: string, opts: { tap?: boolean } = {}): Promise<OpenPage> {
  const open = await openPage(browser, url, opts.tap ? { bypassCSP: true, before: async (p) => { await p.addInitScript(installTap); } } : {});
  await waitSynced(open.page);
  return open;
}

/**
 * The hat cell painted at (100, 100) and a page opened on it (synced, ready; not yet playing). Returns the
 * page and the hat pattern, whose steps the tests check the onsets against.
 */
export async function openOnHat(browser: Browser, server: RunningServer, opts: { tap?: boolean } = {}): Promise<{ open: OpenPage; hat: ApiPattern }> {
  const hat = (await musicPatterns(server)).find((p) => p.name === 'hat' && p.stepsPerBeat === 4);
  if (hat === undefined) throw new Error('the pattern palette has no hat in sixteenths');
  const bot = await nodeClient(server.wsUrl);
  const status = await placeFrom(bot, 100, 100, hat.index);
  bot.close();
  if (status !== 0) throw new Error(`the hat cell was refused: PLACE_RESULT status ${status}`);
  return { open: await openMusicPage(browser, `${server.url}/#100,100,16`, opts), hat };
}
