/** The handle tests (and curious developers) get on `window.__pixelCanvas`. */
import type { CanvasClient } from '../../src/client/canvas-client.js';
import type { ViewState } from './camera.js';

export interface PixelCanvasHook {
  /** The current view: canvas pixel at the screen centre and CSS pixels per canvas pixel (a copy). */
  readonly view: ViewState;
  /** The live client (replaced when the name changes). */
  readonly client: CanvasClient;
  /** CSS pixels relative to the canvas element ↔ canvas pixels (fractional). */
  screenToCanvas(sx: number, sy: number): { x: number; y: number };
  canvasToScreen(x: number, y: number): { x: number; y: number };
  /** Connected, the server has the current view, every chunk on screen is loaded and the last frame is drawn. */
  readonly ready: boolean;
  /** The state of the tools, for tests. */
  readonly tools: {
    info: { x: number; y: number } | null;
    infoState: string;
    selection: { x: number; y: number } | null;
    template: { loaded: boolean; differing: number; compared: number };
    heatmap: { enabled: boolean; count: number };
    timelapse: { phase: string; applied: number; total: number; t: number; from: number; to: number; videoBytes: number; videoHead: number[] };
  };
}

declare global {
  interface Window {
    __pixelCanvas?: PixelCanvasHook;
  }
}
