/**
 * The browser client: wires the library's CanvasClient to the camera, the chunk renderer, input, the
 * painter and the HUD. Everything that draws runs on one requestAnimationFrame callback, requested only
 * when something changed.
 */
import { CanvasClient, type WebSocketLike, type Welcome, effectiveViewport } from '../../src/client/canvas-client.js';
import { ErrorCode } from '../../src/net/protocol.js';
import { lodLevelForZoom, topLodLevel } from '../../src/chunks/lod-geometry.js';
import { Camera, type ViewState } from './camera.js';
import { ChunkRenderer } from './chunk-renderer.js';
import { CursorLayer } from './cursor-layer.js';
import { Hud } from './hud.js';
import { errorText } from './messages.js';
import { Navigation } from './navigation.js';
import { Painter, formatWait } from './painter.js';
import type { PixelCanvasHook } from './test-hook.js';
import { throttle } from './throttle.js';
import { formatViewHash, parseViewHash } from './url-hash.js';
import { MusicMode } from './music/music-mode.js';

/** The viewport follows the camera at most this often (trailing call included), so panning loads only what comes into view. */
const VIEWPORT_THROTTLE_MS = 100;
/** The URL follows the view at most this often: browsers throttle replaceState themselves beyond ~100 calls per 10 s. */
const HASH_THROTTLE_MS = 300;
const COOLDOWN_REFRESH_MS = 100;
const NAME_KEY = 'pixel-canvas:name';
const COLOR_KEY = 'pixel-canvas:color';

function wsUrl(): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}

/** localStorage may be unavailable (private modes, sandboxed frames): then nothing is remembered. */
function load(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function save(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // not remembered; everything still works for this visit
  }
}

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`index.html lacks #${id}`);
  return el as T;
}

class App {
  readonly camera = new Camera();
  readonly hud = new Hud();
  client: CanvasClient;
  private readonly canvasEl = byId<HTMLCanvasElement>('canvas');
  private readonly renderer: ChunkRenderer;
  private readonly cursors: CursorLayer;
  private readonly painter: Painter;
  private readonly navigation: Navigation;
  private readonly sendViewport = throttle(() => this.pushViewport(), VIEWPORT_THROTTLE_MS);
  private readonly writeHash = throttle(() => this.pushHash(), HASH_THROTTLE_MS);
  private frameRequested = false;
  /** The camera has been placed on a known canvas (first WELCOME). */
  private placed = false;
  private wantedView: ViewState | null = parseViewHash(location.hash);
  private lastHash = '';
  private everOpen = false;
  private selected = Number(load(COLOR_KEY) ?? 4) || 0;
  /** Last pointer position on the canvas element (CSS px), null when it left. */
  private pointer: { x: number; y: number } | null = null;
  private hovered: { x: number; y: number } | null = null;
  private cooldownTimer: ReturnType<typeof setInterval> | null = null;
  private unsubscribe: (() => void)[] = [];
  /** Music mode's controls and playback; made on the first WELCOME that carries music. */
  private music: MusicMode | null = null;

  constructor() {
    this.renderer = new ChunkRenderer(this.canvasEl, this.camera, () => this.requestFrame());
    this.cursors = new CursorLayer(byId('overlay'), byId('reticle'), this.camera);
    this.painter = new Painter({
      show: (x, y, color) => this.renderer.showPixel(x, y, color),
      notify: (text) => this.hud.toast(text, 'info'),
      cooldownChanged: () => this.refreshCooldown(),
    });
    this.renderer.setOverlay((cx, cy, write) => this.painter.overlay(cx, cy, write));
    this.navigation = new Navigation(this.canvasEl, this.camera, {
      viewChanged: () => this.viewChanged(),
      paint: (sx, sy) => this.paintAt(sx, sy),
      hover: (sx, sy) => this.hover(sx, sy),
      leave: () => this.leave(),
      requestFrame: () => this.requestFrame(),
    });

    const name = load(NAME_KEY) ?? '';
    this.hud.nameInput.value = name;
    this.hud.nameInput.addEventListener('change', () => this.rename(this.hud.nameInput.value.trim()));
    this.hud.nameInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') this.hud.nameInput.blur(); });
    window.addEventListener('hashchange', () => this.onHashChange());
    new ResizeObserver(() => this.resize()).observe(this.canvasEl);
    this.resize();
    this.hud.setStatus('connecting');
    this.hud.setCooldown(0, 0);
    this.client = this.startClient(name);
  }

  // ---------------------------------------------------------------------------------------------------
  // Connection

  private startClient(name: string): CanvasClient {
    const client = new CanvasClient({ url: wsUrl(), name, socketFactory: (u) => new WebSocket(u) as WebSocketLike });
    this.renderer.attach(client.replica);
    this.painter.use(client);
    this.unsubscribe = [
      client.on('open', (w) => this.onWelcome(w)),
      client.on('stateChange', (s) => {
        if (s === 'open') this.hud.setStatus('online');
        else if (s === 'closed') this.hud.setStatus('offline');
        else this.hud.setStatus(this.everOpen ? 'reconnecting' : 'connecting');
      }),
      client.on('close', (info) => {
        this.painter.abandonAll();
        if (info.code === 4001) this.hud.toast(errorText(ErrorCode.TOO_SLOW));
        this.requestFrame(); // cursors were cleared
      }),
      client.on('placeResult', (r) => {
        this.painter.onResult(r);
        if (r.status === ErrorCode.OK) return;
        const wait = r.status === ErrorCode.RATE_LIMITED && r.retryAfterMs > 0 ? ` ${formatWait(r.retryAfterMs)} left.` : '';
        this.hud.toast(errorText(r.status) + wait);
      }),
      client.on('cursors', () => this.requestFrame()),
      // Zoomed out, chunks come from a level of detail: draw from the replica of the level subscribed.
      client.on('levelChange', (level) => {
        this.renderer.attach(level === 0 ? client.replica : client.lod!, level);
        this.requestFrame();
      }),
      client.on('online', (n) => this.hud.setOnline(n)),
      client.on('error', (m) => this.hud.toast(errorText(m.code))),
      client.on('protocolError', () => this.hud.toast('The server sent something this page cannot read. Reconnecting…')),
    ];
    if (this.placed) client.setViewport(...rectArgs(this.camera.visiblePixels()), this.lodLevel());
    client.connect();
    return client;
  }

  private onWelcome(w: Welcome): void {
    this.everOpen = true;
    this.camera.canvasW = w.width;
    this.camera.canvasH = w.height;
    if (!this.placed) {
      if (this.wantedView !== null) this.camera.set(this.wantedView);
      else this.camera.fit();
      this.placed = true;
    } else {
      this.camera.clamp(); // a restarted server may have another canvas size
    }
    if (!(this.selected >= 0 && this.selected < w.palette.length)) this.selected = Math.min(4, w.palette.length - 1);
    this.hud.setPalette(w.palette, this.selected, (i) => this.pick(i));
    this.hud.nameInput.maxLength = Math.max(1, w.limits.maxNameBytes);
    this.renderer.setPalette(w.palette);
    this.painter.onWelcome(w);
    if (w.music !== undefined) {
      this.music ??= new MusicMode({ camera: this.camera, client: () => this.client, selected: () => this.selected, pick: (i) => this.pick(i) });
      this.music.onWelcome(w);
    }
    this.viewChanged();
    this.sendViewport.flush();
  }

  private rename(name: string): void {
    save(NAME_KEY, name);
    this.hud.toast(name ? `You are now “${name}”.` : 'You are now anonymous.', 'info');
    // The name travels in HELLO: a new session carries it.
    for (const off of this.unsubscribe) off();
    this.client.close();
    this.client = this.startClient(name);
  }

  // ---------------------------------------------------------------------------------------------------
  // View

  private resize(): void {
    const w = this.canvasEl.clientWidth;
    const h = this.canvasEl.clientHeight;
    this.camera.screenW = Math.max(1, w);
    this.camera.screenH = Math.max(1, h);
    this.renderer.resize(w, h, window.devicePixelRatio || 1);
    this.camera.clamp();
    if (this.placed) this.viewChanged();
  }

  private viewChanged(): void {
    this.requestFrame();
    if (!this.placed) return;
    this.sendViewport();
    this.writeHash();
    if (this.pointer !== null) this.hover(this.pointer.x, this.pointer.y);
  }

  private pushViewport(): void {
    if (this.placed) this.client.setViewport(...rectArgs(this.camera.visiblePixels()), this.lodLevel());
  }

  /** The level of detail for the zoom: coarser while a canvas pixel is smaller than a device pixel. */
  lodLevel(): number {
    const w = this.client?.welcome;
    if (!w) return 0;
    return lodLevelForZoom(this.camera.zoom * (window.devicePixelRatio || 1), topLodLevel(w.width, w.height));
  }

  private pushHash(): void {
    const hash = formatViewHash(this.camera);
    this.lastHash = hash;
    if (hash !== location.hash) history.replaceState(history.state, '', hash);
  }

  private onHashChange(): void {
    if (location.hash === this.lastHash) return;
    const v = parseViewHash(location.hash);
    if (v === null) return;
    if (!this.placed) {
      this.wantedView = v;
      return;
    }
    this.camera.set(v);
    this.viewChanged();
  }

  private requestFrame(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame((t) => this.frame(t));
  }

  private frame(t: number): void {
    this.frameRequested = false;
    const moving = this.navigation.step(t);
    this.renderer.draw();
    const gliding = this.cursors.update(this.client.cursors, t);
    this.cursors.updateReticle(this.hovered);
    if (moving || gliding) this.requestFrame();
  }

  // ---------------------------------------------------------------------------------------------------
  // Pointer and painting

  private pixelAt(sx: number, sy: number): { x: number; y: number } | null {
    const p = this.camera.screenToCanvas(sx, sy);
    const x = Math.floor(p.x);
    const y = Math.floor(p.y);
    return x >= 0 && y >= 0 && x < this.camera.canvasW && y < this.camera.canvasH ? { x, y } : null;
  }

  private hover(sx: number, sy: number): void {
    this.pointer = { x: sx, y: sy };
    const px = this.pixelAt(sx, sy);
    if (px === null) {
      this.unhover();
      return;
    }
    if (this.hovered !== null && this.hovered.x === px.x && this.hovered.y === px.y) return;
    this.hovered = px;
    this.hud.setCoords(px.x, px.y);
    this.client.moveCursor(px.x, px.y); // throttled to the server's cursorHz by the client
    this.requestFrame();
  }

  private leave(): void {
    this.pointer = null;
    this.unhover();
  }

  private unhover(): void {
    const last = this.hovered;
    if (last === null) return;
    this.hovered = null;
    this.hud.hideCoords();
    this.client.moveCursor(last.x, last.y, true);
    this.requestFrame();
  }

  private paintAt(sx: number, sy: number): void {
    const px = this.pixelAt(sx, sy);
    if (px !== null) this.painter.paint(px.x, px.y, this.selected);
  }

  private pick(index: number): void {
    this.selected = index;
    save(COLOR_KEY, String(index));
    this.hud.select(index);
  }

  private refreshCooldown(): void {
    const now = performance.now();
    const remaining = this.painter.cooldown.remaining(now);
    this.hud.setCooldown(remaining, this.painter.cooldown.available(now));
    // Tick while waiting, and while the estimate refills, so the pixel count stays true.
    const settled = remaining === 0 && this.painter.cooldown.full(now);
    if (!settled && this.cooldownTimer === null) {
      this.cooldownTimer = setInterval(() => this.refreshCooldown(), COOLDOWN_REFRESH_MS);
    } else if (settled && this.cooldownTimer !== null) {
      clearInterval(this.cooldownTimer);
      this.cooldownTimer = null;
    }
  }

  /** See PixelCanvasHook.ready. */
  get ready(): boolean {
    const w = this.client.welcome;
    const sent = this.client.viewport;
    if (this.client.state !== 'open' || w === null || sent === null || !this.placed) return false;
    if (this.frameRequested || this.sendViewport.pending) return false;
    // What the client sends for the view on screen (shrunk when the server's area limit demands it).
    const want = effectiveViewport(this.camera.visiblePixels(), w.width, w.height, w.limits.maxViewportArea);
    if (this.client.level !== this.lodLevel()) return false;
    return sent.x === want.x && sent.y === want.y && sent.w === want.w && sent.h === want.h && this.renderer.loaded(want);
  }
}

function rectArgs(r: { x: number; y: number; w: number; h: number }): [number, number, number, number] {
  return [r.x, r.y, r.w, r.h];
}

const app = new App();
const hook: PixelCanvasHook = {
  get view() { return app.camera.snapshot(); },
  get client() { return app.client; },
  screenToCanvas: (sx, sy) => app.camera.screenToCanvas(sx, sy),
  canvasToScreen: (x, y) => app.camera.canvasToScreen(x, y),
  get ready() { return app.ready; },
};
window.__pixelCanvas = hook;
