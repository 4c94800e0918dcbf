/**
 * Where the user is looking: the canvas pixel at the centre of the screen and the zoom (CSS pixels per
 * canvas pixel). Pure maths, no DOM: navigation mutates it, the renderer and the viewport sender read it.
 */

/** Most CSS pixels one canvas pixel may cover. */
export const MAX_ZOOM = 64;
/** From this zoom up the renderer draws a pixel grid. */
export const GRID_ZOOM = 16;

export interface ViewState {
  /** Canvas coordinates (pixels, fractional) at the centre of the screen. */
  x: number;
  y: number;
  /** CSS pixels per canvas pixel. */
  zoom: number;
}

/** A rectangle in canvas pixels. */
export interface CanvasRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export class Camera implements ViewState {
  x = 0;
  y = 0;
  zoom = 1;
  /** Screen (the drawing surface) size in CSS pixels. */
  screenW = 1;
  screenH = 1;
  /** Canvas size in pixels; 0 until the server said (WELCOME). */
  canvasW = 0;
  canvasH = 0;
  /** Screen space (CSS px) taken by controls at the top and bottom: the whole-canvas view fits between them. */
  insetTop = 0;
  insetBottom = 0;
  /** ...and at the right edge (the tool column), which matters when the width limits the fit (phones). */
  insetRight = 0;

  /** The zoom at which the whole canvas fits on screen: the lower bound, so one can never lose the canvas. */
  minZoom(): number {
    if (this.canvasW === 0 || this.canvasH === 0) return 1 / 64;
    const h = Math.max(this.screenH / 2, this.screenH - this.insetTop - this.insetBottom);
    const w = Math.max(this.screenW / 2, this.screenW - 2 * this.insetRight);
    return Math.min(MAX_ZOOM, w / this.canvasW, h / this.canvasH);
  }

  /** Whole canvas on screen, centred in the space the controls leave free. */
  fit(): void {
    this.zoom = this.minZoom();
    this.x = this.canvasW / 2;
    this.y = this.canvasH / 2 + (this.insetBottom - this.insetTop) / 2 / this.zoom;
    this.clamp();
  }

  set(v: ViewState): void {
    this.x = v.x;
    this.y = v.y;
    this.zoom = v.zoom;
    this.clamp();
  }

  /** Keeps the zoom in range and the screen centre on the canvas. */
  clamp(): void {
    const z = Number.isFinite(this.zoom) ? this.zoom : 1;
    this.zoom = Math.min(MAX_ZOOM, Math.max(this.minZoom(), z));
    if (this.canvasW > 0) this.x = Math.min(this.canvasW, Math.max(0, Number.isFinite(this.x) ? this.x : 0));
    if (this.canvasH > 0) this.y = Math.min(this.canvasH, Math.max(0, Number.isFinite(this.y) ? this.y : 0));
  }

  screenToCanvas(sx: number, sy: number): { x: number; y: number } {
    return { x: this.x + (sx - this.screenW / 2) / this.zoom, y: this.y + (sy - this.screenH / 2) / this.zoom };
  }

  canvasToScreen(x: number, y: number): { x: number; y: number } {
    return { x: (x - this.x) * this.zoom + this.screenW / 2, y: (y - this.y) * this.zoom + this.screenH / 2 };
  }

  /** Screen x (CSS px) of canvas x; the hot-path form of canvasToScreen, without an object. */
  toScreenX(x: number): number {
    return (x - this.x) * this.zoom + this.screenW / 2;
  }

  toScreenY(y: number): number {
    return (y - this.y) * this.zoom + this.screenH / 2;
  }

  /** Moves the view with the content: dragging right by dx screen pixels shows what was to the left. */
  panBy(dsx: number, dsy: number): void {
    this.x -= dsx / this.zoom;
    this.y -= dsy / this.zoom;
    this.clamp();
  }

  /** Multiplies the zoom, keeping the canvas point under screen point (sx, sy) where it is. */
  zoomAt(factor: number, sx: number, sy: number): void {
    const before = this.screenToCanvas(sx, sy);
    this.zoom *= factor;
    this.clamp();
    const after = this.screenToCanvas(sx, sy);
    this.x += before.x - after.x;
    this.y += before.y - after.y;
    this.clamp();
  }

  /** What is on screen, in canvas pixels (may extend past the canvas). */
  visibleRect(): CanvasRect {
    const w = this.screenW / this.zoom;
    const h = this.screenH / this.zoom;
    return { x: this.x - w / 2, y: this.y - h / 2, w, h };
  }

  /** The whole pixels on screen, clamped to the canvas: what the server is asked to send. */
  visiblePixels(): CanvasRect {
    const r = this.visibleRect();
    const x0 = Math.max(0, Math.floor(r.x));
    const y0 = Math.max(0, Math.floor(r.y));
    const x1 = Math.min(this.canvasW, Math.ceil(r.x + r.w));
    const y1 = Math.min(this.canvasH, Math.ceil(r.y + r.h));
    return { x: x0, y: y0, w: Math.max(0, x1 - x0), h: Math.max(0, y1 - y0) };
  }

  snapshot(): ViewState {
    return { x: this.x, y: this.y, zoom: this.zoom };
  }
}
