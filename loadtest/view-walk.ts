/**
 * How a simulated user looks around: a 1280×720 screen at a zoom of zoomMin..zoomMax screen pixels per
 * canvas pixel, so the view is 1280/zoom × 720/zoom canvas pixels. It pans every 0.2–1 s by up to half a
 * screen, and now and then (one pan in ten) zooms in or out by a factor of two. Pure and seeded.
 */

import { prng } from '../bench/prng.js';
export { prng };

export const SCREEN_W = 1280;
export const SCREEN_H = 720;

export interface ViewRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Shortest and longest pause between two pans, in ms. */
export const PAN_MIN_MS = 200;
export const PAN_MAX_MS = 1000;
/** Chance that a pan is a zoom instead. */
const ZOOM_CHANCE = 0.1;

export class ViewWalk {
  zoom: number;
  /** Centre of the view in canvas pixels. */
  cx: number;
  cy: number;

  constructor(
    private readonly rand: () => number,
    private readonly width: number,
    private readonly height: number,
    private readonly zoomMin = 1,
    private readonly zoomMax = 16,
  ) {
    // Log-uniform, as people spend as long zoomed out as zoomed in.
    this.zoom = zoomMin * Math.pow(zoomMax / zoomMin, rand());
    this.cx = rand() * width;
    this.cy = rand() * height;
    this.clampCentre();
  }

  /** The view in canvas pixels; it hangs off the canvas only when it is larger than the canvas (the server clamps it). */
  rect(): ViewRect {
    const w = Math.max(1, Math.round(SCREEN_W / this.zoom));
    const h = Math.max(1, Math.round(SCREEN_H / this.zoom));
    return { x: Math.round(this.cx - w / 2), y: Math.round(this.cy - h / 2), w, h };
  }

  /** One step of the walk; returns the ms to wait before the next, in [minMs, maxMs) (a role's pace, crowd-mix.ts). */
  step(minMs = PAN_MIN_MS, maxMs = PAN_MAX_MS): number {
    const r = this.rand;
    if (r() < ZOOM_CHANCE) {
      const z = r() < 0.5 ? this.zoom * 2 : this.zoom / 2;
      this.zoom = Math.min(this.zoomMax, Math.max(this.zoomMin, z));
    } else {
      const { w, h } = this.rect();
      this.cx += (r() * 2 - 1) * w * 0.5;
      this.cy += (r() * 2 - 1) * h * 0.5;
    }
    this.clampCentre();
    return minMs + r() * (maxMs - minMs);
  }

  private clampCentre(): void {
    const { w, h } = { w: SCREEN_W / this.zoom, h: SCREEN_H / this.zoom };
    this.cx = w >= this.width ? this.width / 2 : Math.min(this.width - w / 2, Math.max(w / 2, this.cx));
    this.cy = h >= this.height ? this.height / 2 : Math.min(this.height - h / 2, Math.max(h / 2, this.cy));
  }
}
