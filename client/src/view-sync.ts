/**
 * The view and what follows it: the camera follows the canvas element's size and the bars around it; the
 * server's viewport (and level of detail) and the URL hash follow the camera, each throttled; a hash the
 * user edits moves the camera back. Also answers whether the screen shows the current view (the test hook's
 * `ready`).
 */
import { type CanvasClient, effectiveViewport } from '../../src/client/canvas-client.js';
import { lodLevelForZoom, topLodLevel } from '../../src/chunks/lod-geometry.js';
import type { Camera, ViewState } from './camera.js';
import type { ChunkRenderer } from './chunk-renderer.js';
import type { PointerHover } from './pointer.js';
import { formatTemplateHash, parseTemplateHash, type TemplateOverlay } from './template.js';
import { throttle } from './throttle.js';
import { formatViewHash, parseViewHash } from './url-hash.js';

/** The viewport follows the camera at most this often (trailing call included), so panning loads only what comes into view. */
const VIEWPORT_THROTTLE_MS = 100;
/** The URL follows the view at most this often: browsers throttle replaceState themselves beyond ~100 calls per 10 s. */
const HASH_THROTTLE_MS = 300;

export interface ViewSyncParts {
  camera: Camera;
  canvas: HTMLCanvasElement;
  renderer: ChunkRenderer;
  template: TemplateOverlay;
  hover: PointerHover;
  /** The live client; undefined while the first one is being made. */
  client(): CanvasClient | undefined;
  requestFrame(): void;
  /** A frame is requested and not drawn yet. */
  framePending(): boolean;
}

type Rect = { x: number; y: number; w: number; h: number };

function rectArgs(r: Rect): [number, number, number, number] {
  return [r.x, r.y, r.w, r.h];
}

export class ViewSync {
  /** The camera has been placed on a known canvas (first WELCOME). */
  private placed = false;
  private wantedView: ViewState | null = parseViewHash(location.hash.split('&')[0]!);
  private lastHash = '';
  private readonly sendViewport = throttle(() => this.pushViewport(), VIEWPORT_THROTTLE_MS);
  /** Writes the view (and template) into the URL, throttled. */
  readonly writeHash = throttle(() => this.pushHash(), HASH_THROTTLE_MS);

  constructor(private readonly parts: ViewSyncParts) {}

  /** Takes the template from the URL and starts following the URL and the element's size. */
  start(): void {
    const tpl = parseTemplateHash(location.hash);
    if (tpl !== null) this.parts.template.set(tpl);
    window.addEventListener('hashchange', () => this.onHashChange());
    new ResizeObserver(() => this.resize()).observe(this.parts.canvas);
    this.resize();
  }

  /** The camera moved: redraw, and let the server, the URL and the hovered pixel follow. */
  viewChanged(): void {
    this.parts.requestFrame();
    if (!this.placed) return;
    this.sendViewport();
    this.writeHash();
    this.parts.hover.viewMoved();
  }

  /**
   * Puts the camera on the canvas a WELCOME describes: the URL's view the first time, else the whole canvas,
   * or its centre at `startZoom` when that is closer (a music canvas: whole, its cells would be specks).
   */
  placeCamera(startZoom = 0): void {
    const camera = this.parts.camera;
    if (!this.placed) {
      if (this.wantedView !== null) camera.set(this.wantedView);
      else camera.fit();
      if (this.wantedView === null && startZoom > camera.zoom) camera.set({ x: camera.canvasW / 2, y: camera.canvasH / 2, zoom: startZoom });
      this.placed = true;
    } else {
      camera.clamp(); // a restarted server may have another canvas size
    }
  }

  /** Sends the view now if a throttled send is waiting. */
  flushViewport(): void {
    this.sendViewport.flush();
  }

  /** A new client: it subscribes the current view when it connects (a no-op before the camera is placed). */
  subscribe(client: CanvasClient): void {
    if (this.placed) client.setViewport(...rectArgs(this.parts.camera.visiblePixels()), this.lodLevel());
  }

  /** The level of detail for the zoom: coarser while a canvas pixel is smaller than a device pixel. */
  lodLevel(): number {
    const w = this.parts.client()?.welcome;
    if (!w) return 0;
    return lodLevelForZoom(this.parts.camera.zoom * (window.devicePixelRatio || 1), topLodLevel(w.width, w.height));
  }

  /** Controls on top and bottom: the whole-canvas view is fitted between them, so they hide none of it. */
  measureInsets(): void {
    const camera = this.parts.camera;
    const rect = (sel: string) => document.querySelector(sel)?.getBoundingClientRect();
    const top = rect('.bar-top');
    const bottom = rect('.bar-bottom');
    camera.insetTop = top ? Math.max(0, top.bottom) : 0;
    camera.insetBottom = bottom ? Math.max(0, window.innerHeight - bottom.top) : 0;
    camera.insetRight = 0;
    // Tools and zoom controls: a column at the right edge (kept clear on both sides, so the canvas stays
    // centred), or on narrow screens rows under the top bar (then they add to the top).
    for (const sel of ['#tools', '#overview']) {
      const r = rect(sel);
      if (r === undefined || r.width === 0) continue;
      if (r.width > window.innerWidth / 2) camera.insetTop = Math.max(camera.insetTop, r.bottom);
      else camera.insetRight = Math.max(camera.insetRight, window.innerWidth - r.left);
    }
  }

  /**
   * Pans the view up, when needed, so that canvas pixel (x, y) is not under the bottom controls or an open
   * bottom sheet (a phone's panels): the Place bar or the pixel info that just appeared must not cover the
   * pixel it is about.
   */
  reveal(x: number, y: number): void {
    const camera = this.parts.camera;
    let limit = window.innerHeight;
    const bottom = document.querySelector('.bar-bottom')?.getBoundingClientRect();
    if (bottom !== undefined) limit = Math.min(limit, bottom.top);
    for (const p of document.querySelectorAll<HTMLElement>('.panel')) {
      if (p.hidden) continue;
      const r = p.getBoundingClientRect();
      if (r.bottom >= window.innerHeight - 1 && r.width > window.innerWidth / 2) limit = Math.min(limit, r.top);
    }
    const margin = 12;
    const below = camera.toScreenY(y + 1) - (limit - margin);
    if (below <= 0) return;
    camera.panBy(0, -below);
    this.viewChanged();
  }

  /** See PixelCanvasHook.ready. */
  get ready(): boolean {
    const client = this.parts.client()!;
    const w = client.welcome;
    const sent = client.viewport;
    if (client.state !== 'open' || w === null || sent === null || !this.placed) return false;
    if (this.parts.framePending() || this.sendViewport.pending) return false;
    // What the client sends for the view on screen (shrunk when the server's area limit demands it).
    const want = effectiveViewport(this.parts.camera.visiblePixels(), w.width, w.height, w.limits.maxViewportArea);
    if (client.level !== this.lodLevel()) return false;
    return sent.x === want.x && sent.y === want.y && sent.w === want.w && sent.h === want.h && this.parts.renderer.loaded(want);
  }

  private resize(): void {
    const { camera, canvas } = this.parts;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    camera.screenW = Math.max(1, w);
    camera.screenH = Math.max(1, h);
    this.parts.renderer.resize(w, h, window.devicePixelRatio || 1);
    this.measureInsets();
    camera.clamp();
    if (this.placed) this.viewChanged();
  }

  private pushViewport(): void {
    if (this.placed) this.parts.client()!.setViewport(...rectArgs(this.parts.camera.visiblePixels()), this.lodLevel());
  }

  private pushHash(): void {
    const hash = formatViewHash(this.parts.camera) + formatTemplateHash(this.parts.template.params);
    this.lastHash = hash;
    if (hash !== location.hash) history.replaceState(history.state, '', hash);
  }

  private onHashChange(): void {
    if (location.hash === this.lastHash) return;
    const tpl = parseTemplateHash(location.hash);
    if (tpl !== null) this.parts.template.set(tpl);
    const v = parseViewHash(location.hash.split('&')[0]!);
    if (v === null) return;
    if (!this.placed) {
      this.wantedView = v;
      return;
    }
    this.parts.camera.set(v);
    this.viewChanged();
  }
}
