/**
 * A click or tap on the canvas becomes a placement: pixel info instead (info tool, Shift/Alt-click); a zoom
 * in first when pixels are too small to see what is painted; on touch a selected pixel that "Place"
 * confirms; with a mouse a paint at once. Also draws the touch selection's marker.
 */
import type { Camera } from './camera.js';
import type { Hud } from './hud.js';
import type { TapKind } from './navigation.js';
import type { Painter } from './painter.js';
import { type Pixel, pixelAt } from './pointer.js';

/** Below this zoom (CSS px per canvas pixel) a pixel is too small to see: a click zooms in instead of painting. */
export const PAINT_MIN_ZOOM = 3;
/** The zoom such a click goes to. */
const PAINT_ZOOM = 12;

export interface PlacementInputHost {
  camera: Camera;
  hud: Hud;
  painter: Painter;
  /** The info tool is on: a click asks who placed the pixel. */
  infoMode(): boolean;
  showInfo(x: number, y: number): void;
  /** The palette index a placement paints with. */
  colour(): number;
  /** That colour as CSS, previewed inside the selection marker. */
  preview(): string;
  viewChanged(): void;
  /** Pans, if needed, so that canvas pixel (x, y) is clear of the bottom controls. */
  reveal(x: number, y: number): void;
  requestFrame(): void;
}

export class PlacementInput {
  /** Touch: the pixel a tap selected, waiting for "Place". */
  private selected: Pixel | null = null;
  private zoomHintShown = false;

  constructor(private readonly host: PlacementInputHost) {
    document.getElementById('confirm-place')!.addEventListener('click', () => this.confirm());
    document.getElementById('confirm-cancel')!.addEventListener('click', () => this.select(null));
  }

  get selection(): Pixel | null {
    return this.selected;
  }

  tap(sx: number, sy: number, kind: TapKind): void {
    const { camera, hud } = this.host;
    const px = pixelAt(camera, sx, sy);
    if (px === null) return;
    if (this.host.infoMode() || kind.modifier) {
      this.host.showInfo(px.x, px.y);
      return;
    }
    if (camera.zoom < PAINT_MIN_ZOOM) {
      camera.zoomAt(PAINT_ZOOM / camera.zoom, sx, sy);
      this.host.viewChanged();
      if (!this.zoomHintShown) {
        this.zoomHintShown = true;
        // On touch a tap selects and Place paints; with a mouse the next click paints.
        hud.toast(kind.touch ? 'Zoomed in so you can see the pixel. Tap it again, then Place.' : 'Zoomed in so you can see the pixel you paint. Click again to place.', 'info', 'zoom');
      }
      return;
    }
    if (kind.touch) {
      this.select(px);
      return;
    }
    this.host.painter.paint(px.x, px.y, this.host.colour());
  }

  /** A long press: pixel info for the pixel under the finger. */
  longPress(sx: number, sy: number): void {
    const px = pixelAt(this.host.camera, sx, sy);
    if (px !== null) this.host.showInfo(px.x, px.y);
  }

  /** Positions the selection marker over the selected pixel (each frame: the camera may have moved). */
  drawSelection(): void {
    const el = document.getElementById('selection')!;
    const px = this.selected;
    if (px === null) {
      el.hidden = true;
      return;
    }
    const cam = this.host.camera;
    const size = Math.max(10, cam.zoom + 6);
    el.hidden = false;
    el.style.setProperty('--preview', this.host.preview());
    el.style.width = `${size}px`;
    el.style.height = `${size}px`;
    el.style.transform = `translate(${(cam.toScreenX(px.x + 0.5) - size / 2).toFixed(1)}px, ${(cam.toScreenY(px.y + 0.5) - size / 2).toFixed(1)}px)`;
  }

  private select(px: Pixel | null): void {
    this.selected = px;
    const bar = document.getElementById('confirm')!;
    bar.hidden = px === null;
    if (px !== null) {
      document.getElementById('confirm-text')!.textContent = `(${px.x}, ${px.y})`;
      this.host.hud.setCoords(px.x, px.y);
      this.host.reveal(px.x, px.y); // the Place bar just appeared at the bottom
    }
    this.host.requestFrame();
  }

  private confirm(): void {
    const px = this.selected;
    if (px === null) return;
    this.host.painter.paint(px.x, px.y, this.host.colour());
    this.select(null);
  }
}
