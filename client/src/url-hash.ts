/**
 * The view in the URL: `#x,y,zoom`, the canvas pixel at the centre of the screen and CSS pixels per canvas
 * pixel, so a link opens where its sender was looking.
 */
import type { ViewState } from './camera.js';

/** The view a hash names, or null when it names none (empty, malformed, non-positive zoom). */
export function parseViewHash(hash: string): ViewState | null {
  const m = /^#?(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?$/.exec(hash.trim());
  if (m === null) return null;
  const x = Number(m[1]);
  const y = Number(m[2]);
  const zoom = m[3] === undefined ? 8 : Number(m[3]);
  if (!Number.isFinite(x) || !Number.isFinite(y) || !(zoom > 0)) return null;
  return { x, y, zoom };
}

/** Whole pixels for the centre, two decimals for the zoom: short links that restore the view within a pixel. */
export function formatViewHash(v: ViewState): string {
  const zoom = Math.round(v.zoom * 100) / 100;
  return `#${Math.round(v.x)},${Math.round(v.y)},${zoom}`;
}
