/**
 * The painter's controls and read-outs around the canvas: connection status, online count, hovered
 * coordinates, palette, cooldown, name field and toasts. Plain DOM, built on the elements of index.html.
 */
import { formatWait } from './painter.js';

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

function hex(rgb: number): string {
  return `#${rgb.toString(16).padStart(6, '0')}`;
}

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

  setStatus(kind: StatusKind): void {
    this.status.dataset.state = kind;
    this.statusText.textContent = STATUS_TEXT[kind];
  }

  setOnline(count: number): void {
    this.online.textContent = `${count} online`;
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
        b.title = `${hex(rgb)} (colour ${i})`;
        b.setAttribute('aria-label', `colour ${hex(rgb)}`);
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

  /** Remaining wait in ms (0: ready) and the pixels the estimate says are available. */
  setCooldown(remainingMs: number, available: number): void {
    const waiting = remainingMs > 0;
    this.cooldown.dataset.state = waiting ? 'waiting' : 'ready';
    this.cooldown.dataset.remainingMs = String(Math.ceil(remainingMs));
    this.cooldown.textContent = waiting ? `Wait ${formatWait(remainingMs)}` : `Ready · ${available} px`;
  }

  toast(text: string, kind: 'error' | 'info' = 'error'): void {
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
