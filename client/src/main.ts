/**
 * The browser client's composition: makes the camera, the renderer, input, the painter, the tools and the
 * connection, and hands each the collaborators it needs. What each part does lives in its own file; this
 * file only decides who talks to whom, the order of a WELCOME's effects and the draw order of a frame.
 */
import type { Welcome } from '../../src/client/canvas-client.js';
import { Camera } from './camera.js';
import { ChunkRenderer } from './chunk-renderer.js';
import { ColourChoice } from './colour-choice.js';
import { Connection } from './connection.js';
import { ConnectionStatus } from './connection-status.js';
import { CooldownReadout } from './cooldown-readout.js';
import { CursorLayer } from './cursor-layer.js';
import { FrameLoop } from './frame-loop.js';
import { Heatmap } from './heatmap.js';
import { hexOf } from './colour-names.js';
import { Hud, type PaintBlock } from './hud.js';
import { MusicMode } from './music/music-mode.js';
import { Navigation } from './navigation.js';
import { Overview } from './overview.js';
import { Painter } from './painter.js';
import { PixelInfoPanel } from './pixel-info.js';
import { PlacementInput } from './placement-input.js';
import { PointerHover } from './pointer.js';
import { TemplateOverlay } from './template.js';
import type { PixelCanvasHook } from './test-hook.js';
import { Timelapse } from './timelapse.js';
import { registerShellWorker } from './sw-register.js';
import { ToolFeed } from './tool-feed.js';
import { Toolbar } from './toolbar.js';
import { ViewSync } from './view-sync.js';

/** A music canvas opens at this zoom (CSS px per cell), unless the URL names a view: cells big enough to see and tap. */
const MUSIC_START_ZOOM = 12;

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`index.html lacks #${id}`);
  return el as T;
}

const camera = new Camera();
const hud = new Hud();
const canvas = byId<HTMLCanvasElement>('canvas');
// Every part is made before any callback can run (they run on events and frames), so the closures below
// may name parts made further down.
const frames = new FrameLoop((t) => drawFrame(t));
const requestFrame = (): void => frames.request();

const renderer = new ChunkRenderer(canvas, camera, requestFrame);
const cursors = new CursorLayer(byId('overlay'), byId('reticle'), camera);
const painter = new Painter({
  show: (x, y, color) => renderer.showPixel(x, y, color),
  notify: (text) => hud.toast(text, 'info', 'cooldown'),
  cooldownChanged: () => cooldown.refresh(),
});
renderer.setOverlay((cx, cy, write) => painter.overlay(cx, cy, write));
const navigation = new Navigation(canvas, camera, {
  viewChanged: () => view.viewChanged(),
  tap: (sx, sy, kind) => placement.tap(sx, sy, kind),
  longPress: (sx, sy) => placement.longPress(sx, sy),
  hover: (sx, sy) => hover.hover(sx, sy),
  leave: () => hover.leave(),
  requestFrame,
});

const info = new PixelInfoPanel(() => connection.client.welcome?.palette ?? [], (x, y) => `#${x},${y},32`);
const overview = new Overview(camera, {
  viewChanged: () => view.viewChanged(),
  toast: (t) => hud.toast(t, 'info'),
  link: () => location.href,
  online: () => connection.client.state === 'open',
});
const template = new TemplateOverlay(camera, {
  replica: () => connection.client.replica,
  palette: () => connection.client.welcome?.palette ?? [],
  changed: () => view.writeHash(),
  requestFrame,
  toast: (t) => hud.toast(t),
});
const heatmap = new Heatmap(camera);
const timelapse = new Timelapse(camera, { requestFrame, toast: (t) => hud.toast(t, 'info') });

const colour = new ColourChoice(hud);
const toolbar = new Toolbar({ hud, info, heatmap, timelapse, requestFrame });
const placement = new PlacementInput({
  camera, hud, painter,
  infoMode: () => toolbar.infoMode,
  showInfo: (x, y) => {
    toolbar.closePanels('pixel-info');
    hud.dismiss('tool'); // the tool's hint has done its job, and on a phone it would sit over the panel
    void info.show(x, y);
    view.reveal(x, y); // on a phone the panel is a bottom sheet
  },
  colour: () => colour.selected,
  preview: () => previewColour(),
  viewChanged: () => view.viewChanged(),
  reveal: (x, y) => view.reveal(x, y),
  requestFrame,
});
const status = new ConnectionStatus(hud, () => connection.live);
const cooldown = new CooldownReadout({ hud, cooldown: painter.cooldown, blocked: () => paintBlock() });
const hover = new PointerHover({ camera, hud, client: () => connection.client, requestFrame });
const view = new ViewSync({
  camera, canvas, renderer, template, hover,
  client: () => connection.live,
  requestFrame,
  framePending: () => frames.pending,
});
const feed = new ToolFeed({ heatmap, overview, template, requestFrame });
const connection: Connection = new Connection({
  hud, renderer, painter, status, cooldown, feed,
  welcome: (w) => welcome(w),
  subscribe: (client) => view.subscribe(client),
  requestFrame,
});
/** Music mode's controls and playback; made on the first WELCOME that carries music. */
let music: MusicMode | null = null;
/** The colours music mode draws with (lifted off the silence; a published palette's from its bar); null on a pixel canvas. */
let musicColours: readonly number[] | null = null;

function welcome(w: Welcome): void {
  status.welcomed();
  camera.canvasW = w.width;
  camera.canvasH = w.height;
  colour.showPalette(w.palette);
  view.measureInsets();
  overview.start(w.width, w.height, w.palette, w.background);
  view.placeCamera(w.music !== undefined ? MUSIC_START_ZOOM : 0);
  hud.nameInput.maxLength = Math.max(1, w.limits.maxNameBytes);
  renderer.setPalette(w.palette);
  painter.onWelcome(w);
  if (w.music !== undefined) {
    music ??= new MusicMode({
      camera, client: () => connection.client, selected: () => colour.selected, pick: (i) => colour.pick(i),
      showColours: (p) => {
        musicColours = p;
        renderer.setPalette(p);
      },
    });
    music.onWelcome(w);
  }
  view.viewChanged();
  view.flushViewport();
}

/** The chosen colour as CSS: the hover reticle and the touch selection preview it. */
function previewColour(): string {
  return hexOf((musicColours ?? connection.client.welcome?.palette)?.[colour.selected] ?? 0xffffff);
}

/** Why nothing can be painted now, for the cooldown pill; null when a pixel can be placed. */
function paintBlock(): PaintBlock | null {
  if (connection.live?.state !== 'open') return status.welcomedOnce ? 'offline' : 'connecting';
  return painter.refusal;
}

/** One frame, back to front; true while something still moves (a glide, a held key, cursors easing). */
function drawFrame(t: number): boolean {
  const moving = navigation.step(t);
  renderer.draw();
  const dpr = window.devicePixelRatio || 1;
  template.draw(dpr);
  heatmap.draw(dpr);
  timelapse.draw(dpr);
  overview.draw();
  const gliding = cursors.update(connection.client.cursors, t);
  cursors.updateReticle(hover.hovered, previewColour());
  placement.drawSelection();
  return moving || gliding;
}

view.start();
status.start();
hud.setCooldown(null, 0); // nothing known before the first WELCOME: nothing claims "Ready"
connection.start();
timelapse.openFromLink(); // after the toolbar exists: it opens the panel
registerShellWorker();

const hook: PixelCanvasHook = {
  get view() { return camera.snapshot(); },
  get client() { return connection.client; },
  screenToCanvas: (sx, sy) => camera.screenToCanvas(sx, sy),
  canvasToScreen: (x, y) => camera.canvasToScreen(x, y),
  get ready() { return view.ready; },
  get tools() {
    return {
      info: info.shown,
      infoState: document.getElementById('pixel-info')!.dataset.state ?? '',
      selection: placement.selection,
      template: { loaded: template.loaded, differing: template.differing, compared: template.compared },
      heatmap: { enabled: heatmap.enabled, count: heatmap.count },
      timelapse: timelapse.state,
    };
  },
};
window.__pixelCanvas = hook;
