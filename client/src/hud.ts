/**
 * The painter's controls and read-outs around the canvas: connection status, online count, hovered
 * coordinates, palette, cooldown, name field and toasts. Plain DOM, built on the elements of index.html.
 */
import { colourName, hexOf } from './colour-names.js';
import { formatSeconds } from './painter.js';

export type StatusKind = 'connecting' | 'online' | 'reconnecting' | 'offline';

const STATUS_TEXT: Record<StatusKind, string> = {
  connecting: 'Connecting…',
  online: 'Online',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

/** How long a toast stays up. */
const TOAST_MS = 4000;
/** Most toasts on screen at once; older ones go first. */
const MAX_TOASTS = 3;

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`index.html lacks #${id}`);
  return el as T;
}

const hex = hexOf;
const TITLE = 'pixel-canvas';

/**
 * Why nothing can be painted right now, in the cooldown pill's words: before the first WELCOME, while the
 * connection is down, or when the server refused this painter (a ban, a read-only canvas).
 */
export type PaintBlock = 'connecting' | 'offline' | 'banned' | 'read-only';

const BLOCK_TEXT: Record<PaintBlock, string> = {
  connecting: 'Connecting…',
  offline: 'Offline · painting resumes when back',
  banned: 'Painting blocked by a moderator',
  'read-only': 'Read-only: painting is paused',
};

export class Hud {
  private readonly status = byId('status');
  private readonly statusText = byId('status-text');
  private readonly online = byId('online');
  private readonly coords = byId('coords');
  private readonly palette = byId('palette');
  private readonly cooldown = byId('cooldown');
  private readonly toasts = byId('toasts');
  readonly nameInput = byId<HTMLInputElement>('name');
  private swatches: HTMLButtonElement[] = [];
  private paletteKey = '';

  private readonly retry = byId<HTMLButtonElement>('retry');
  private onlineCount: number | null = null;

  constructor() {
    // Toasts sit just above the bottom controls, whose height changes (the Place bar, a wrapped palette).
    const bottom = document.querySelector('.bar-bottom');
    if (bottom !== null) {
      const follow = (): void => document.documentElement.style.setProperty('--bar-bottom-h', `${Math.ceil(bottom.getBoundingClientRect().height)}px`);
      new ResizeObserver(follow).observe(bottom);
      follow();
    }
  }

  setStatus(kind: StatusKind): void {
    this.status.dataset.state = kind;
    this.statusText.textContent = STATUS_TEXT[kind];
    // Offline dims the canvas (CSS) and stops claiming a count of people online.
    document.body.dataset.conn = kind === 'online' ? 'online' : kind === 'connecting' ? 'connecting' : 'offline';
    this.renderOnline();
    if (kind !== 'reconnecting') this.retry.hidden = true;
  }

  setOnline(count: number): void {
    this.onlineCount = count;
    this.renderOnline();
  }

  private renderOnline(): void {
    const known = this.status.dataset.state === 'online' && this.onlineCount !== null;
    this.online.dataset.known = String(known);
    this.online.textContent = known ? `${this.onlineCount} online` : '– online';
  }

  /** While reconnecting: "Reconnecting in 3 s" and a Retry now button (onRetry). */
  setRetry(inMs: number | null, onRetry: () => void): void {
    this.retry.hidden = inMs === null;
    this.retry.onclick = onRetry;
    if (inMs !== null && this.status.dataset.state === 'reconnecting') {
      this.statusText.textContent = inMs > 500 ? `Reconnecting in ${formatSeconds(inMs)}` : 'Reconnecting…';
    }
  }

  setCoords(x: number, y: number): void {
    this.coords.textContent = `(${x}, ${y})`;
    this.coords.hidden = false;
  }

  hideCoords(): void {
    this.coords.hidden = true;
  }

  /** Builds the swatches (again only when the palette changed); `pick` is called with the chosen index. */
  setPalette(colors: readonly number[], selected: number, pick: (index: number) => void): void {
    const key = colors.join(',');
    if (key !== this.paletteKey) {
      this.paletteKey = key;
      this.palette.replaceChildren();
      this.swatches = colors.map((rgb, i) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'swatch';
        b.style.background = hex(rgb);
        b.dataset.colorIndex = String(i);
        b.dataset.color = hex(rgb);
        const name = colourName(rgb);
        b.title = `${name} (${hex(rgb)})`;
        b.setAttribute('aria-label', `${name} (${hex(rgb)})`);
        b.addEventListener('click', () => pick(i));
        this.palette.append(b);
        return b;
      });
    }
    this.select(selected);
  }

  select(index: number): void {
    this.swatches.forEach((b, i) => b.setAttribute('aria-pressed', String(i === index)));
  }

  /**
   * Remaining wait in ms (0: ready) and the pixels the estimate says are available; null when nothing can be
   * painted (`why` says why: nothing claims "Ready" or counts down then). The wait also goes in the tab title.
   */
  setCooldown(remainingMs: number | null, available: number, why: PaintBlock = 'connecting'): void {
    if (remainingMs === null) {
      const blocked = why === 'banned' || why === 'read-only';
      this.cooldown.dataset.state = blocked ? why : 'unknown';
      this.cooldown.textContent = BLOCK_TEXT[why];
      delete this.cooldown.dataset.remainingMs;
      document.title = TITLE;
      return;
    }
    const waiting = remainingMs > 0;
    this.cooldown.dataset.state = waiting ? 'waiting' : 'ready';
    this.cooldown.dataset.remainingMs = String(Math.ceil(remainingMs));
    this.cooldown.textContent = waiting ? `Wait ${formatSeconds(remainingMs)}` : `Ready · ${available} px`;
    document.title = waiting ? `(${formatSeconds(remainingMs)}) ${TITLE}` : TITLE;
  }

  /**
   * A toast. With a `key`, there is at most one toast of that key on screen: a new text replaces the old
   * one's and extends it (the cooldown says so once, not once per click).
   */
  /** Removes the toast of `key`, if one is on screen. */
  dismiss(key: string): void {
    for (const e of [...this.toasts.children]) if ((e as HTMLElement).dataset.key === key) e.remove();
  }

  toast(text: string, kind: 'error' | 'info' = 'error', key?: string): void {
    if (key !== undefined) {
      const same = [...this.toasts.children].find((e) => (e as HTMLElement).dataset.key === key) as HTMLElement | undefined;
      if (same !== undefined) {
        same.textContent = text;
        same.dataset.until = String(performance.now() + TOAST_MS);
        return;
      }
    }
    // The same message twice in a row refreshes the one on screen instead of stacking.
    const last = this.toasts.lastElementChild as HTMLElement | null;
    if (last !== null && last.textContent === text) {
      last.dataset.until = String(performance.now() + TOAST_MS);
      return;
    }
    const el = document.createElement('div');
    el.className = `toast toast-${kind}`;
    el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    el.textContent = text;
    if (key !== undefined) el.dataset.key = key;
    el.dataset.until = String(performance.now() + TOAST_MS);
    this.toasts.append(el);
    while (this.toasts.childElementCount > MAX_TOASTS) this.toasts.firstElementChild?.remove();
    const expire = (): void => {
      const left = Number(el.dataset.until) - performance.now();
      if (left > 0) setTimeout(expire, left);
      else el.remove();
    };
    setTimeout(expire, TOAST_MS);
  }
}
