/**
 * Pixel info: who placed a pixel and when, from GET /api/pixel, in a small panel with a link to the pixel.
 * Opened by Shift/Alt-click, a long press on touch, or any click while the info tool is on. In a moderator's
 * tab the answer comes from the admin API instead, with the painter's identity (./pixel-moderation.ts).
 */
import { colourName, hexOf } from './colour-names.js';
import { PixelModeration } from './pixel-moderation.js';
import type { AdminPixelAnswer, PixelAnswer } from '../../src/net/api-types.js';

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`index.html lacks #${id}`);
  return el as T;
}

/** "just now", "5 min ago", "3 h ago", "2 days ago". */
export function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 10) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

async function publicPixel(x: number, y: number): Promise<PixelAnswer> {
  const res = await fetch(`/api/pixel?x=${x}&y=${y}`, { cache: 'no-store' });
  if (!res.ok) throw new Error(String(res.status));
  return await res.json() as PixelAnswer;
}

export class PixelInfoPanel {
  private readonly panel = byId('pixel-info');
  private readonly moderation = new PixelModeration();
  private request = 0;
  /** The pixel shown, or null while closed. */
  shown: { x: number; y: number } | null = null;

  constructor(private readonly palette: () => readonly number[], private readonly linkFor: (x: number, y: number) => string) {}

  async show(x: number, y: number): Promise<void> {
    const id = ++this.request;
    this.shown = { x, y };
    this.panel.hidden = false;
    this.panel.dataset.state = 'loading';
    byId('info-coords').textContent = `(${x}, ${y})`;
    byId('info-who').textContent = 'Loading…';
    byId('info-when').textContent = '';
    byId('info-colour').textContent = '';
    const link = byId<HTMLAnchorElement>('info-link');
    link.href = this.linkFor(x, y);
    this.moderation.hide();
    let a: PixelAnswer;
    let asModerator: AdminPixelAnswer | null = null;
    try {
      asModerator = await this.moderation.lookup(x, y);
      a = asModerator ?? await publicPixel(x, y);
    } catch {
      if (id !== this.request) return;
      this.panel.dataset.state = 'error';
      byId('info-who').textContent = 'Could not load this pixel’s history. Try again in a moment.';
      return;
    }
    if (id !== this.request) return;
    const rgb = this.palette()[a.color] ?? 0;
    byId('info-swatch').style.background = hexOf(rgb);
    byId('info-colour').textContent = `${colourName(rgb)} (${hexOf(rgb)})`;
    const who = byId('info-who');
    if (a.placedAt === null) {
      who.textContent = 'Never painted.';
    } else if (a.moderation) {
      who.textContent = 'Restored by a moderator.';
    } else {
      who.textContent = `Placed by ${a.placedBy ? a.placedBy : 'an anonymous painter'}`;
    }
    byId('info-when').textContent = a.placedAt === null ? '' : `${ago(Date.now() - a.placedAt)} · ${new Date(a.placedAt).toLocaleString()}`;
    this.moderation.render(x, y, asModerator);
    this.panel.dataset.state = 'loaded';
  }

  hide(): void {
    this.request++;
    this.shown = null;
    this.panel.hidden = true;
  }
}
