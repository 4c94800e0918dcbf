/**
 * Others' cursors and the hover reticle, as DOM elements over the canvas: they move without redrawing a
 * single pixel, and they never end up in the canvas bitmap (which tests read back).
 *
 * The server sends cursor positions at its cursor cadence (15 Hz by default, `--cursor-broadcast-hz`), not
 * every frame: each cursor glides from where it is drawn to its new position over a little more than the
 * interval at which its updates have been arriving (INTERPOLATION_MS until that is known), so a steady mover
 * never stops between updates and never lags more than about one interval, whatever the server's cadence.
 */
import type { CursorState } from '../../src/client/canvas-client.js';
import type { Camera } from './camera.js';

/** A stable hue per client id, so a cursor keeps its colour while it moves. */
function hueOf(id: number): number {
  return (Math.imul(id, 2654435761) >>> 0) % 360;
}

/** The first glide of a cursor: a little longer than the default cursor interval (67 ms at 15 Hz). */
export const INTERPOLATION_MS = 75;
/** Bounds of a glide learnt from the updates' arrival (a gap longer than GLIDE_MAX_MS * 2 is a pause, not a cadence). */
const GLIDE_MIN_MS = 30;
const GLIDE_MAX_MS = 150;

interface Glide {
  fromX: number;
  fromY: number;
  toX: number;
  toY: number;
  start: number;
  /** How long a glide takes: ~1.1 × the recent interval between this cursor's updates. */
  duration: number;
  /** Where it was last drawn (canvas pixels). */
  x: number;
  y: number;
}

export class CursorLayer {
  private readonly shown = new Map<number, HTMLElement>();
  private readonly glides = new Map<number, Glide>();

  constructor(private readonly layer: HTMLElement, private readonly reticle: HTMLElement, private readonly camera: Camera) {}

  /**
   * Places every cursor at the centre of its pixel, gliding towards positions that changed; hides those off
   * screen; removes those gone. Returns true while some cursor is still gliding (draw another frame).
   */
  update(cursors: ReadonlyMap<number, CursorState>, now = performance.now()): boolean {
    const cam = this.camera;
    let gliding = false;
    for (const [id, el] of this.shown) {
      if (!cursors.has(id)) {
        el.remove();
        this.shown.delete(id);
        this.glides.delete(id);
      }
    }
    for (const [id, c] of cursors) {
      let el = this.shown.get(id);
      if (el === undefined) {
        el = document.createElement('div');
        el.className = 'cursor';
        el.style.setProperty('--hue', String(hueOf(id)));
        const label = document.createElement('span');
        label.className = 'cursor-name';
        el.append(label);
        this.layer.append(el);
        this.shown.set(id, el);
      }
      const label = el.firstElementChild as HTMLElement;
      const name = c.name || `#${id}`;
      if (label.textContent !== name) label.textContent = name;
      let g = this.glides.get(id);
      if (g === undefined) {
        g = { fromX: c.x, fromY: c.y, toX: c.x, toY: c.y, start: now, duration: INTERPOLATION_MS, x: c.x, y: c.y };
        this.glides.set(id, g);
      } else if (g.toX !== c.x || g.toY !== c.y) {
        const gap = now - g.start;
        if (gap <= GLIDE_MAX_MS * 2) g.duration = Math.min(GLIDE_MAX_MS, Math.max(GLIDE_MIN_MS, 0.7 * g.duration + 0.3 * 1.1 * gap));
        g.fromX = g.x;
        g.fromY = g.y;
        g.toX = c.x;
        g.toY = c.y;
        g.start = now;
      }
      const k = Math.min(1, Math.max(0, (now - g.start) / g.duration));
      g.x = g.fromX + (g.toX - g.fromX) * k;
      g.y = g.fromY + (g.toY - g.fromY) * k;
      if (k < 1) gliding = true;
      el.dataset.x = String(g.x);
      const sx = cam.toScreenX(g.x + 0.5);
      const sy = cam.toScreenY(g.y + 0.5);
      const visible = sx >= -20 && sy >= -20 && sx <= cam.screenW + 20 && sy <= cam.screenH + 20;
      el.hidden = !visible;
      if (visible) el.style.transform = `translate(${sx.toFixed(1)}px, ${sy.toFixed(1)}px)`;
    }
    return gliding;
  }

  /** Outlines the hovered pixel (null: none), filled with `preview` (a CSS colour): what a click would paint there. */
  updateReticle(pixel: { x: number; y: number } | null, preview: string): void {
    if (pixel === null) {
      this.reticle.hidden = true;
      return;
    }
    const cam = this.camera;
    const size = Math.max(4, cam.zoom);
    const sx = cam.toScreenX(pixel.x + 0.5) - size / 2;
    const sy = cam.toScreenY(pixel.y + 0.5) - size / 2;
    this.reticle.hidden = false;
    if (this.reticle.dataset.preview !== preview) {
      this.reticle.dataset.preview = preview;
      this.reticle.style.setProperty('--preview', preview);
    }
    this.reticle.style.width = `${size}px`;
    this.reticle.style.height = `${size}px`;
    this.reticle.style.transform = `translate(${sx.toFixed(1)}px, ${sy.toFixed(1)}px)`;
  }
}
