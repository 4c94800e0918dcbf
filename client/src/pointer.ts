/**
 * Where the pointer is over the canvas: the hovered pixel shows in the coordinates read-out and travels to
 * others as this painter's cursor. Also the screen → canvas-pixel hit test every input uses.
 */
import type { CanvasClient } from '../../src/client/canvas-client.js';
import type { Camera } from './camera.js';
import type { Hud } from './hud.js';

export interface Pixel {
  x: number;
  y: number;
}

/** The canvas pixel under screen point (sx, sy) (CSS px on the canvas element), or null off the canvas. */
export function pixelAt(camera: Camera, sx: number, sy: number): Pixel | null {
  const p = camera.screenToCanvas(sx, sy);
  const x = Math.floor(p.x);
  const y = Math.floor(p.y);
  return x >= 0 && y >= 0 && x < camera.canvasW && y < camera.canvasH ? { x, y } : null;
}

export interface PointerHoverHost {
  camera: Camera;
  hud: Hud;
  /** The live client (replaced when the name changes). */
  client(): CanvasClient;
  requestFrame(): void;
}

export class PointerHover {
  /** Last pointer position on the canvas element (CSS px), null when it left. */
  private pointer: Pixel | null = null;
  private current: Pixel | null = null;

  constructor(private readonly host: PointerHoverHost) {}

  /** The canvas pixel under the pointer, null when there is none (the reticle hides). */
  get hovered(): Pixel | null {
    return this.current;
  }

  hover(sx: number, sy: number): void {
    this.pointer = { x: sx, y: sy };
    const px = pixelAt(this.host.camera, sx, sy);
    if (px === null) {
      this.unhover();
      return;
    }
    if (this.current !== null && this.current.x === px.x && this.current.y === px.y) return;
    this.current = px;
    this.host.hud.setCoords(px.x, px.y);
    this.host.client().moveCursor(px.x, px.y); // throttled to the server's cursorHz by the client
    this.host.requestFrame();
  }

  /** The view moved under a still pointer: another pixel may be under it now. */
  viewMoved(): void {
    if (this.pointer !== null) this.hover(this.pointer.x, this.pointer.y);
  }

  leave(): void {
    this.pointer = null;
    this.unhover();
  }

  private unhover(): void {
    const last = this.current;
    if (last === null) return;
    this.current = null;
    this.host.hud.hideCoords();
    this.host.client().moveCursor(last.x, last.y, true);
    this.host.requestFrame();
  }
}
