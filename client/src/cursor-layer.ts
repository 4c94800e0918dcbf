/**
 * Others' cursors and the hover reticle, as DOM elements over the canvas: they move without redrawing a
 * single pixel, and they never end up in the canvas bitmap (which tests read back).
 */
import type { CursorState } from '../../src/client/canvas-client.js';
import type { Camera } from './camera.js';

/** A stable hue per client id, so a cursor keeps its colour while it moves. */
function hueOf(id: number): number {
  return (Math.imul(id, 2654435761) >>> 0) % 360;
}

export class CursorLayer {
  private readonly shown = new Map<number, HTMLElement>();

  constructor(private readonly layer: HTMLElement, private readonly reticle: HTMLElement, private readonly camera: Camera) {}

  /** Places every cursor at the centre of its pixel; hides those off screen; removes those gone. */
  update(cursors: ReadonlyMap<number, CursorState>): void {
    const cam = this.camera;
    for (const [id, el] of this.shown) {
      if (!cursors.has(id)) {
        el.remove();
        this.shown.delete(id);
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
      const sx = cam.toScreenX(c.x + 0.5);
      const sy = cam.toScreenY(c.y + 0.5);
      const visible = sx >= -20 && sy >= -20 && sx <= cam.screenW + 20 && sy <= cam.screenH + 20;
      el.hidden = !visible;
      if (visible) el.style.transform = `translate(${sx.toFixed(1)}px, ${sy.toFixed(1)}px)`;
    }
  }

  /** Outlines the hovered pixel (null: none). */
  updateReticle(pixel: { x: number; y: number } | null): void {
    if (pixel === null) {
      this.reticle.hidden = true;
      return;
    }
    const cam = this.camera;
    const size = Math.max(4, cam.zoom);
    const sx = cam.toScreenX(pixel.x + 0.5) - size / 2;
    const sy = cam.toScreenY(pixel.y + 0.5) - size / 2;
    this.reticle.hidden = false;
    this.reticle.style.width = `${size}px`;
    this.reticle.style.height = `${size}px`;
    this.reticle.style.transform = `translate(${sx.toFixed(1)}px, ${sy.toFixed(1)}px)`;
  }
}
