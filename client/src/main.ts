/**
 * The browser client: wires the library's CanvasClient to the camera, the chunk renderer, input, the
 * painter and the HUD. Everything that draws runs on one requestAnimationFrame callback, requested only
 * when something changed.
 */
import { CanvasClient, type WebSocketLike, type Welcome, effectiveViewport } from '../../src/client/canvas-client.js';
import { CloseCode, ErrorCode } from '../../src/net/protocol.js';
import { lodLevelForZoom, topLodLevel } from '../../src/chunks/lod-geometry.js';
import { Camera, type ViewState } from './camera.js';
import { ChunkRenderer } from './chunk-renderer.js';
import { CursorLayer } from './cursor-layer.js';
import { Hud } from './hud.js';
import { errorText } from './messages.js';
import { Navigation } from './navigation.js';
import { Painter, formatSeconds } from './painter.js';
import type { PixelCanvasHook } from './test-hook.js';
import { throttle } from './throttle.js';
import { formatViewHash, parseViewHash } from './url-hash.js';
import { MusicMode } from './music/music-mode.js';
import { PixelInfoPanel } from './pixel-info.js';
import { Overview } from './overview.js';
import { TemplateOverlay, formatTemplateHash, parseTemplateHash } from './template.js';
import { Heatmap } from './heatmap.js';
import { Timelapse } from './timelapse.js';
import { CHUNK_SHIFT } from '../../src/chunks/geometry.js';
import type { TapKind } from './navigation.js';

/** The viewport follows the camera at most this often (trailing call included), so panning loads only what comes into view. */
const VIEWPORT_THROTTLE_MS = 100;
/** The URL follows the view at most this often: browsers throttle replaceState themselves beyond ~100 calls per 10 s. */
const HASH_THROTTLE_MS = 300;
const COOLDOWN_REFRESH_MS = 100;
/** Below this zoom (CSS px per canvas pixel) a pixel is too small to see: a click zooms in instead of painting. */
export const PAINT_MIN_ZOOM = 3;
/** The zoom such a click goes to. */
const PAINT_ZOOM = 12;
/** The recount of a template's differing pixels follows the canvas at most this often. */
const TEMPLATE_RECOUNT_MS = 250;
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
  private wantedView: ViewState | null = parseViewHash(location.hash.split('&')[0]!);
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
  readonly info: PixelInfoPanel;
  readonly overview: Overview;
  readonly template: TemplateOverlay;
  readonly heatmap: Heatmap;
  readonly timelapse: Timelapse;
  /** Touch: the pixel a tap selected, waiting for "Place". */
  selection: { x: number; y: number } | null = null;
  private infoMode = false;
  private statusTimer: ReturnType<typeof setInterval> | null = null;
  private heatTimer: ReturnType<typeof setInterval> | null = null;
  private notifyWanted = false;
  private wasWaiting = false;
  private zoomHintShown = false;
  private readonly recountTemplate = throttle(() => this.template.recount(), TEMPLATE_RECOUNT_MS);

  constructor() {
    this.renderer = new ChunkRenderer(this.canvasEl, this.camera, () => this.requestFrame());
    this.cursors = new CursorLayer(byId('overlay'), byId('reticle'), this.camera);
    this.painter = new Painter({
      show: (x, y, color) => this.renderer.showPixel(x, y, color),
      notify: (text) => this.hud.toast(text, 'info', 'cooldown'),
      cooldownChanged: () => this.refreshCooldown(),
    });
    this.renderer.setOverlay((cx, cy, write) => this.painter.overlay(cx, cy, write));
    this.navigation = new Navigation(this.canvasEl, this.camera, {
      viewChanged: () => this.viewChanged(),
      tap: (sx, sy, kind) => this.tap(sx, sy, kind),
      longPress: (sx, sy) => {
        const px = this.pixelAt(sx, sy);
        if (px !== null) void this.info.show(px.x, px.y);
      },
      hover: (sx, sy) => this.hover(sx, sy),
      leave: () => this.leave(),
      requestFrame: () => this.requestFrame(),
    });

    this.info = new PixelInfoPanel(() => this.client.welcome?.palette ?? [], (x, y) => `#${x},${y},32`);
    this.overview = new Overview(this.camera, {
      viewChanged: () => this.viewChanged(),
      toast: (t) => this.hud.toast(t, 'info'),
      link: () => location.href,
      online: () => this.client.state === 'open',
    });
    this.template = new TemplateOverlay(this.camera, {
      replica: () => this.client.replica,
      palette: () => this.client.welcome?.palette ?? [],
      changed: () => this.writeHash(),
      requestFrame: () => this.requestFrame(),
      toast: (t) => this.hud.toast(t),
    });
    this.heatmap = new Heatmap(this.camera);
    this.timelapse = new Timelapse(this.camera);
    this.wireTools();
    const tpl = parseTemplateHash(location.hash);
    if (tpl !== null) this.template.set(tpl);

    const name = load(NAME_KEY) ?? '';
    this.hud.nameInput.value = name;
    this.hud.nameInput.addEventListener('change', () => this.rename(this.hud.nameInput.value.trim()));
    this.hud.nameInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') this.hud.nameInput.blur(); });
    window.addEventListener('hashchange', () => this.onHashChange());
    new ResizeObserver(() => this.resize()).observe(this.canvasEl);
    this.resize();
    this.hud.setStatus('connecting');
    this.hud.setCooldown(null, 0); // nothing known before the first WELCOME: nothing claims "Ready"
    this.statusTimer = setInterval(() => this.refreshRetry(), 500);
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
        this.refreshRetry();
        this.refreshCooldown();
      }),
      client.on('close', (info) => {
        this.painter.abandonAll();
        if (info.code === CloseCode.TOO_SLOW) this.hud.toast(errorText(ErrorCode.TOO_SLOW));
        this.refreshRetry();
        this.requestFrame(); // cursors were cleared
      }),
      client.on('placeResult', (r) => {
        const why = this.painter.onResult(r);
        if (r.status === ErrorCode.OK) return;
        if (why === 'budget') {
          this.hud.toast('Too many messages too fast: the server is pacing this connection (not your paint cooldown). Try again in a moment.', 'error', 'budget');
          return;
        }
        if (r.status === ErrorCode.RATE_LIMITED) {
          const wait = r.retryAfterMs > 0 ? ` ${formatSeconds(r.retryAfterMs)} left.` : '';
          this.hud.toast(errorText(r.status) + wait, 'error', 'cooldown');
          return;
        }
        this.hud.toast(errorText(r.status), 'error', `status-${r.status}`);
      }),
      client.on('delta', (d) => this.onDelta(d.cx, d.cy, d.offsets, d.colors)),
      client.on('snapshot', () => {
        if (this.template.params !== null) this.recountTemplate();
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
    document.getElementById('down-page')!.hidden = true;
    this.camera.canvasW = w.width;
    this.camera.canvasH = w.height;
    if (!(this.selected >= 0 && this.selected < w.palette.length)) this.selected = Math.min(4, w.palette.length - 1);
    this.hud.setPalette(w.palette, this.selected, (i) => this.pick(i));
    this.measureInsets();
    this.overview.start(w.width, w.height, w.palette);
    if (!this.placed) {
      if (this.wantedView !== null) this.camera.set(this.wantedView);
      else this.camera.fit();
      this.placed = true;
    } else {
      this.camera.clamp(); // a restarted server may have another canvas size
    }
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
    this.measureInsets();
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
    const hash = formatViewHash(this.camera) + formatTemplateHash(this.template.params);
    this.lastHash = hash;
    if (hash !== location.hash) history.replaceState(history.state, '', hash);
  }

  private onHashChange(): void {
    if (location.hash === this.lastHash) return;
    const tpl = parseTemplateHash(location.hash);
    if (tpl !== null) this.template.set(tpl);
    const v = parseViewHash(location.hash.split('&')[0]!);
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
    const dpr = window.devicePixelRatio || 1;
    this.template.draw(dpr);
    this.heatmap.draw(dpr);
    this.overview.draw();
    const gliding = this.cursors.update(this.client.cursors, t);
    this.cursors.updateReticle(this.hovered);
    this.drawSelection();
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

  /**
   * A click or tap: pixel info (info tool, Shift/Alt-click); zoom in first when pixels are too small to see
   * what is painted; on touch select the pixel for "Place" to confirm; with a mouse paint at once.
   */
  private tap(sx: number, sy: number, kind: TapKind): void {
    const px = this.pixelAt(sx, sy);
    if (px === null) return;
    if (this.infoMode || kind.modifier) {
      void this.info.show(px.x, px.y);
      return;
    }
    if (this.camera.zoom < PAINT_MIN_ZOOM) {
      this.camera.zoomAt(PAINT_ZOOM / this.camera.zoom, sx, sy);
      this.viewChanged();
      if (!this.zoomHintShown) {
        this.zoomHintShown = true;
        this.hud.toast('Zoomed in so you can see the pixel you paint. Click again to place.', 'info', 'zoom');
      }
      return;
    }
    if (kind.touch) {
      this.select(px);
      return;
    }
    this.painter.paint(px.x, px.y, this.selected);
  }

  private select(px: { x: number; y: number } | null): void {
    this.selection = px;
    const bar = document.getElementById('confirm')!;
    bar.hidden = px === null;
    if (px !== null) {
      document.getElementById('confirm-text')!.textContent = `(${px.x}, ${px.y})`;
      this.hud.setCoords(px.x, px.y);
    }
    this.requestFrame();
  }

  private confirmPlace(): void {
    const px = this.selection;
    if (px === null) return;
    this.painter.paint(px.x, px.y, this.selected);
    this.select(null);
  }

  private drawSelection(): void {
    const el = document.getElementById('selection')!;
    const px = this.selection;
    if (px === null) {
      el.hidden = true;
      return;
    }
    const cam = this.camera;
    const size = Math.max(10, cam.zoom + 6);
    el.hidden = false;
    el.style.width = `${size}px`;
    el.style.height = `${size}px`;
    el.style.transform = `translate(${(cam.toScreenX(px.x + 0.5) - size / 2).toFixed(1)}px, ${(cam.toScreenY(px.y + 0.5) - size / 2).toFixed(1)}px)`;
  }

  /** Controls on top and bottom: the whole-canvas view is fitted between them, so they hide none of it. */
  private measureInsets(): void {
    const rect = (sel: string) => document.querySelector(sel)?.getBoundingClientRect();
    const top = rect('.bar-top');
    const bottom = rect('.bar-bottom');
    this.camera.insetTop = top ? Math.max(0, top.bottom) : 0;
    this.camera.insetBottom = bottom ? Math.max(0, window.innerHeight - bottom.top) : 0;
    this.camera.insetRight = 0;
    // Tools and zoom controls: a column at the right edge (kept clear on both sides, so the canvas stays
    // centred), or on narrow screens rows under the top bar (then they add to the top).
    for (const sel of ['#tools', '#overview']) {
      const r = rect(sel);
      if (r === undefined || r.width === 0) continue;
      if (r.width > window.innerWidth / 2) this.camera.insetTop = Math.max(this.camera.insetTop, r.bottom);
      else this.camera.insetRight = Math.max(this.camera.insetRight, window.innerWidth - r.left);
    }
  }

  private onDelta(cx: number, cy: number, offsets: Uint16Array, colors: Uint8Array): void {
    const x0 = cx << CHUNK_SHIFT, y0 = cy << CHUNK_SHIFT;
    const now = Date.now();
    for (let i = 0; i < offsets.length; i++) {
      const o = offsets[i]!;
      const x = x0 + (o & 63), y = y0 + (o >>> 6);
      this.heatmap.add(x, y, now);
      this.overview.pixel(x, y, colors.length === offsets.length ? colors[i]! : colors[0] ?? 0);
    }
    if (this.template.params !== null) this.recountTemplate();
    if (this.heatmap.enabled || this.template.params !== null) this.requestFrame();
  }

  /** The reconnect countdown and Retry now, and the page shown while a first load cannot connect. */
  private refreshRetry(): void {
    if (this.client === undefined) return; // events during startClient, before it returned
    const at = this.client.nextAttemptAt;
    const waiting = this.client.state === 'connecting' && at !== null;
    const inMs = waiting ? Math.max(0, at - Date.now()) : null;
    this.hud.setRetry(this.everOpen ? inMs : null, () => this.client.retryNow());
    const down = document.getElementById('down-page')!;
    if (!this.everOpen && waiting) {
      down.hidden = false;
      document.getElementById('down-next')!.textContent = inMs! > 500 ? `Next try in ${formatSeconds(inMs!)}.` : 'Trying again…';
    }
  }

  private wireTools(): void {
    const toggle = (id: string, on: boolean) => document.getElementById(id)!.setAttribute('aria-pressed', String(on));
    const panel = (id: string, show: boolean) => { document.getElementById(id)!.hidden = !show; };
    document.getElementById('tool-info')!.addEventListener('click', () => {
      this.infoMode = !this.infoMode;
      toggle('tool-info', this.infoMode);
      if (!this.infoMode) this.info.hide();
      else this.hud.toast('Info: click any pixel to see who placed it.', 'info', 'tool');
    });
    document.getElementById('tool-template')!.addEventListener('click', () => {
      const p = document.getElementById('template-panel')!;
      panel('template-panel', p.hidden);
      toggle('tool-template', !p.hidden);
    });
    const heatWindow = document.getElementById('heat-window') as HTMLSelectElement;
    heatWindow.addEventListener('change', () => {
      this.heatmap.windowMs = Number(heatWindow.value);
      void this.heatmap.setEnabled(true).then(() => this.requestFrame()); // re-seeds the longer window
    });
    document.getElementById('tool-heatmap')!.addEventListener('click', () => {
      const on = !this.heatmap.enabled;
      toggle('tool-heatmap', on);
      heatWindow.hidden = !on;
      void this.heatmap.setEnabled(on).then(() => this.requestFrame());
      if (this.heatTimer !== null) clearInterval(this.heatTimer);
      this.heatTimer = on ? setInterval(() => this.requestFrame(), 1000) : null;
    });
    document.getElementById('tool-timelapse')!.addEventListener('click', () => {
      const p = document.getElementById('timelapse-panel')!;
      panel('timelapse-panel', p.hidden);
      toggle('tool-timelapse', !p.hidden);
      if (!p.hidden) this.timelapse.reset();
    });
    for (const b of document.querySelectorAll<HTMLElement>('[data-close]')) {
      b.addEventListener('click', () => {
        const id = b.dataset.close!;
        panel(id, false);
        if (id === 'pixel-info') this.info.hide();
        if (id === 'template-panel') toggle('tool-template', false);
        if (id === 'timelapse-panel') toggle('tool-timelapse', false);
      });
    }
    document.getElementById('confirm-place')!.addEventListener('click', () => this.confirmPlace());
    document.getElementById('confirm-cancel')!.addEventListener('click', () => this.select(null));
    document.getElementById('down-retry')!.addEventListener('click', () => this.client.retryNow());
    const notify = document.getElementById('notify')!;
    if ('Notification' in window) {
      notify.hidden = false;
      notify.addEventListener('click', () => {
        if (this.notifyWanted) {
          this.notifyWanted = false;
          toggle('notify', false);
          return;
        }
        void Notification.requestPermission().then((p) => {
          this.notifyWanted = p === 'granted';
          toggle('notify', this.notifyWanted);
          if (p !== 'granted') this.hud.toast('Notifications are blocked for this site.', 'info');
        });
      });
    }
  }

  private pick(index: number): void {
    this.selected = index;
    save(COLOR_KEY, String(index));
    this.hud.select(index);
  }

  private refreshCooldown(): void {
    const now = performance.now();
    const remaining = this.painter.cooldown.remaining(now);
    // Not connected: nothing can be painted, so nothing claims "Ready" (the wait is kept for the reconnect).
    this.hud.setCooldown(this.client?.state === 'open' ? remaining : null, this.painter.cooldown.available(now));
    // Ready again: tell a painter who looked away, if they asked to be told.
    if (this.wasWaiting && remaining === 0 && this.notifyWanted && document.hidden) {
      try {
        new Notification('pixel-canvas', { body: 'You can place a pixel again.' });
      } catch {
        // some browsers only notify from a service worker; the title shows it anyway
      }
    }
    this.wasWaiting = remaining > 0;
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
  get tools() {
    return {
      info: app.info.shown,
      infoState: document.getElementById('pixel-info')!.dataset.state ?? '',
      selection: app.selection,
      template: { loaded: app.template.loaded, differing: app.template.differing, compared: app.template.compared },
      heatmap: { enabled: app.heatmap.enabled, count: app.heatmap.count },
      timelapse: { phase: app.timelapse.phase, applied: app.timelapse.applied, total: app.timelapse.total },
    };
  },
};
window.__pixelCanvas = hook;
