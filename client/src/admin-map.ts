/**
 * The admin page's view of the canvas: the canvas, or a zoomed part of it, drawn from GET /canvas.png. A
 * moderator drags on it to pick the rectangle to roll back (a mouse or one finger: the view takes touch
 * for itself, so a drag selects instead of scrolling the page), and a click or tap without dragging picks
 * one pixel to look up. A rollback's dry run draws the pixels it would write over the view, each in the
 * colour it would get and ringed, so the moderator sees what would change before applying it.
 */

/** A rectangle of canvas pixels: its top-left corner and size. */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface PreviewPixel {
  x: number;
  y: number;
  color: number;
}

/** /canvas.png renders at most this many pixels at once (CANVAS_API_DEFAULTS.maxPngPixels). */
const MAX_IMAGE_PIXELS = 4096 * 4096;
/** CSS px a press may move and still be a click (pick a pixel) rather than a drag (pick a rectangle). */
const CLICK_SLOP = 4;
/** The view's height is at most this share of the window, so the form under it stays in reach. */
const MAX_HEIGHT_SHARE = 0.7;

const css = (rgb: number): string => `#${rgb.toString(16).padStart(6, '0')}`;

export class CanvasMap {
  private size = { width: 0, height: 0 };
  private palette: readonly number[] = [];
  /** The part of the canvas shown. */
  private view: Rect = { x: 0, y: 0, w: 1, h: 1 };
  private image: ImageBitmap | null = null;
  private selection: Rect | null = null;
  private preview: readonly PreviewPixel[] = [];
  private drag: { pointer: number; from: { x: number; y: number }; sx: number; sy: number; moved: boolean; before: Rect | null } | null = null;
  private loads = 0;

  constructor(private readonly el: HTMLCanvasElement, private readonly handlers: { select(r: Rect): void; pick(x: number, y: number): void }) {
    el.addEventListener('pointerdown', (e) => this.down(e));
    el.addEventListener('pointermove', (e) => this.move(e));
    el.addEventListener('pointerup', (e) => this.up(e));
    el.addEventListener('pointercancel', () => {
      if (this.drag !== null) this.selection = this.drag.before;
      this.drag = null;
      this.draw();
    });
    new ResizeObserver(() => this.layout()).observe(el.parentElement!);
  }

  /** The canvas's size and colours (GET /api/admin/status); shows all of it. */
  setCanvas(size: { width: number; height: number }, palette: readonly number[]): void {
    this.size = { width: size.width, height: size.height };
    this.palette = palette;
    this.el.hidden = false; // an empty box until there is a canvas to show
    void this.showWhole();
  }

  /** The whole canvas (or as much of it as one image holds, from the top-left). */
  showWhole(): Promise<void> {
    const w = this.size.width;
    const h = Math.min(this.size.height, Math.floor(MAX_IMAGE_PIXELS / w));
    return this.show({ x: 0, y: 0, w, h });
  }

  /** Zooms to the selection with a margin around it, so its edges can be refined. */
  zoomToSelection(): Promise<void> {
    const s = this.selection;
    if (s === null) return Promise.resolve();
    const pad = Math.max(8, Math.round(Math.max(s.w, s.h) / 2));
    const x0 = Math.max(0, s.x - pad);
    const y0 = Math.max(0, s.y - pad);
    const x1 = Math.min(this.size.width, s.x + s.w + pad);
    const y1 = Math.min(this.size.height, s.y + s.h + pad);
    return this.show({ x: x0, y: y0, w: x1 - x0, h: y1 - y0 });
  }

  /** Draws the canvas again as it is now (after a rollback was applied). */
  reload(): Promise<void> {
    return this.show(this.view);
  }

  /** The rectangle typed in the form (null: none). */
  setSelection(r: Rect | null): void {
    this.selection = r;
    this.draw();
  }

  /** The pixels a dry run would write (empty: none shown). */
  setPreview(pixels: readonly PreviewPixel[]): void {
    this.preview = pixels;
    this.el.dataset.preview = String(pixels.length);
    this.draw();
  }

  private async show(view: Rect): Promise<void> {
    if (this.size.width === 0) return;
    const id = ++this.loads;
    this.el.dataset.loaded = 'false';
    let image: ImageBitmap | null = null;
    for (let attempt = 0; attempt < 3 && image === null; attempt++) {
      const res = await fetch(`/canvas.png?x=${view.x}&y=${view.y}&w=${view.w}&h=${view.h}`, { cache: 'no-store' }).catch(() => null);
      // 503 BUSY: two images are being rendered for others; its Retry-After is a second.
      if (res?.ok) image = await createImageBitmap(await res.blob());
      else await new Promise((r) => setTimeout(r, 1000));
    }
    if (id !== this.loads) return;
    this.image?.close();
    this.image = image;
    this.view = { ...view };
    this.el.dataset.view = `${view.x},${view.y},${view.w},${view.h}`;
    this.layout();
    this.el.dataset.loaded = image === null ? 'failed' : 'true';
  }

  private layout(): void {
    const wrap = this.el.parentElement!;
    const room = wrap.clientWidth;
    if (room === 0) return;
    const maxHeight = Math.max(160, innerHeight * MAX_HEIGHT_SHARE);
    const scale = Math.min(room / this.view.w, maxHeight / this.view.h);
    const w = Math.max(1, Math.floor(this.view.w * scale));
    const h = Math.max(1, Math.floor(this.view.h * scale));
    this.el.style.width = `${w}px`;
    this.el.style.height = `${h}px`;
    const dpr = devicePixelRatio || 1;
    this.el.width = Math.round(w * dpr);
    this.el.height = Math.round(h * dpr);
    this.draw();
  }

  /** The canvas pixel under a client point, clamped into the view. */
  private pixelAt(clientX: number, clientY: number): { x: number; y: number } {
    const r = this.el.getBoundingClientRect();
    const x = Math.floor(((clientX - r.left) / r.width) * this.view.w);
    const y = Math.floor(((clientY - r.top) / r.height) * this.view.h);
    return {
      x: this.view.x + Math.min(this.view.w - 1, Math.max(0, x)),
      y: this.view.y + Math.min(this.view.h - 1, Math.max(0, y)),
    };
  }

  private down(e: PointerEvent): void {
    if (e.button !== 0 || this.drag !== null || this.image === null) return;
    e.preventDefault();
    this.el.setPointerCapture(e.pointerId);
    this.drag = { pointer: e.pointerId, from: this.pixelAt(e.clientX, e.clientY), sx: e.clientX, sy: e.clientY, moved: false, before: this.selection };
  }

  private move(e: PointerEvent): void {
    const d = this.drag;
    if (d === null || e.pointerId !== d.pointer) return;
    if (!d.moved && Math.hypot(e.clientX - d.sx, e.clientY - d.sy) < CLICK_SLOP) return;
    d.moved = true;
    const to = this.pixelAt(e.clientX, e.clientY);
    this.selection = {
      x: Math.min(d.from.x, to.x), y: Math.min(d.from.y, to.y),
      w: Math.abs(to.x - d.from.x) + 1, h: Math.abs(to.y - d.from.y) + 1,
    };
    this.draw();
  }

  private up(e: PointerEvent): void {
    const d = this.drag;
    if (d === null || e.pointerId !== d.pointer) return;
    this.move(e);
    this.drag = null;
    if (d.moved && this.selection !== null) this.handlers.select({ ...this.selection });
    else this.handlers.pick(d.from.x, d.from.y);
  }

  private draw(): void {
    const ctx = this.el.getContext('2d');
    if (ctx === null) return;
    // Device px per canvas pixel, across and down (the element's size is whole CSS px, so they differ a little).
    const kx = this.el.width / Math.max(1, this.view.w);
    const ky = this.el.height / Math.max(1, this.view.h);
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(0, 0, this.el.width, this.el.height);
    if (this.image !== null) ctx.drawImage(this.image, 0, 0, this.el.width, this.el.height);
    const at = (x: number, y: number): [number, number] => [(x - this.view.x) * kx, (y - this.view.y) * ky];
    // What the dry run would write, in its colours, each ringed so even a one-pixel change shows when zoomed out.
    const ring = Math.max(3, kx);
    ctx.strokeStyle = '#ff00d4';
    ctx.lineWidth = 1;
    for (const p of this.preview) {
      const [px, py] = at(p.x, p.y);
      ctx.fillStyle = css(this.palette[p.color] ?? 0);
      ctx.fillRect(px, py, Math.max(1, kx), Math.max(1, ky));
      ctx.strokeRect(px + kx / 2 - ring / 2 - 0.5, py + ky / 2 - ring / 2 - 0.5, ring + 1, ring + 1);
    }
    const s = this.selection;
    if (s === null) return;
    const [sx, sy] = at(s.x, s.y);
    const sw = s.w * kx;
    const sh = s.h * ky;
    // Everything outside the rectangle dimmed; the rectangle outlined in two colours (visible on any art).
    ctx.fillStyle = 'rgba(0, 0, 0, 0.45)';
    ctx.beginPath();
    ctx.rect(0, 0, this.el.width, this.el.height);
    ctx.rect(sx, sy, sw, sh);
    ctx.fill('evenodd');
    ctx.lineWidth = 2;
    ctx.strokeStyle = '#000';
    ctx.strokeRect(sx - 1, sy - 1, sw + 2, sh + 2);
    ctx.setLineDash([6, 4]);
    ctx.strokeStyle = '#fff';
    ctx.strokeRect(sx - 1, sy - 1, sw + 2, sh + 2);
    ctx.setLineDash([]);
  }
}
