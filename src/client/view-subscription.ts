/**
 * The view this client watches: the one asked for (kept across reconnects), the one last sent on this
 * connection (what the server subscribed, and what the replicas mirror), the level of detail, and RESUME
 * after a reconnect. Views are sent at most at the server's viewportHz, only the latest; chunks leave the
 * replicas when the view that excludes them is sent ("keep only the chunks in your latest view").
 */
import { type Welcome, MAX_BODY_BYTES, encodeLodViewport, encodeResume, encodeViewport } from '../net/protocol.js';
import { levelRect, lodSide, topLodLevel } from '../chunks/lod-geometry.js';
import type { Rect, WebSocketLike } from './client-types.js';
import { type ViewChunkRange, Replica, rangeHas, viewChunkRange } from './replica.js';
import { now, throttleIntervalMs } from './throttle.js';

/** RESUME entries that fit one message body: u16 count + 8 bytes each. */
const MAX_RESUME_ENTRIES = Math.floor((MAX_BODY_BYTES - 2) / 8);

/**
 * The rectangle actually sent for a requested one: whole pixels covering it, clamped to the canvas (as the
 * server clamps), and shrunk about its centre when its area exceeds the server's limit, which would
 * otherwise reject it and leave the server's view and ours disagreeing.
 */
export function effectiveViewport(r: Rect, width: number, height: number, maxArea: number): Rect {
  const x0 = Math.max(Math.floor(r.x), 0);
  const y0 = Math.max(Math.floor(r.y), 0);
  const x1 = Math.min(Math.ceil(r.x + r.w), width);
  const y1 = Math.min(Math.ceil(r.y + r.h), height);
  let w = Math.max(0, x1 - x0);
  let h = Math.max(0, y1 - y0);
  if (w === 0 || h === 0) return { x: Math.min(x0, width), y: Math.min(y0, height), w: 0, h: 0 };
  if (w * h <= maxArea) return { x: x0, y: y0, w, h };
  const k = Math.sqrt(maxArea / (w * h));
  let nw = Math.max(1, Math.floor(w * k));
  let nh = Math.max(1, Math.floor(h * k));
  while (nw * nh > maxArea) {
    if (nw >= nh) nw--;
    else nh--;
  }
  return { x: x0 + ((w - nw) >> 1), y: y0 + ((h - nh) >> 1), w: nw, h: nh };
}

/**
 * The rectangle sent for a requested one at level of detail `level`: as effectiveViewport, but the area limit
 * counts level pixels, and a level pixel covers a whole 2^L block (so the view is shrunk a little further
 * until the blocks it touches fit).
 */
export function fitViewport(r: Rect, width: number, height: number, maxArea: number, level: number): Rect {
  if (level === 0) return effectiveViewport(r, width, height, maxArea);
  let area = maxArea * 4 ** level;
  for (;;) {
    const v = effectiveViewport(r, width, height, area);
    const l = levelRect(v, level);
    if (l.w * l.h <= maxArea || area <= 1) return v;
    area = Math.floor(area * 0.97); // the level's rounding outward made it a little too big
  }
}

function sameRect(a: Rect | null, b: Rect): boolean {
  return a !== null && a.x === b.x && a.y === b.y && a.w === b.w && a.h === b.h;
}

export interface ViewSubscriptionDeps {
  /** The full-resolution replica (the client's). */
  replica: Replica;
  keepReplica: boolean;
  /** The open connection's socket and WELCOME, or null when not open. */
  openLink: () => { socket: WebSocketLike; welcome: Welcome } | null;
  /** The level of the view sent changed (the client's levelChange event). */
  levelChanged: (level: number) => void;
}

export class ViewSubscription {
  /**
   * While the view is subscribed at a level of detail L > 0: level L's chunks in view; null at full
   * resolution (see CanvasClient.lod).
   */
  lod: Replica | null = null;
  /** The viewport asked for by setViewport, as given. */
  private desiredView: Rect | null = null;
  private desiredLevel = 0;
  /** Level of the view last sent on this connection. */
  private sentLevel = 0;
  /** What this connection last sent, and the chunks it covers (null: none); reset per connection. */
  private sentView: Rect | null = null;
  private sentRange: ViewChunkRange | null = null;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly deps: ViewSubscriptionDeps) {}

  /** The viewport last sent on this connection (clamped and fitted to the limits), or null. */
  get view(): Readonly<Rect> | null {
    return this.sentView;
  }

  /** Level of detail of the view last sent (0: full resolution). */
  get level(): number {
    return this.sentLevel;
  }

  /** A new view asked for (checked by the caller): remembered, and sent now or at the viewport rate while open. */
  request(view: Rect, level: number): void {
    this.desiredView = view;
    this.desiredLevel = level;
    if (this.deps.openLink() !== null) this.schedule();
  }

  /** A SNAPSHOT is kept only for a chunk of the full-resolution view last sent (one that left it may be in flight). */
  holdsChunk(cx: number, cy: number): boolean {
    return this.sentLevel === 0 && this.sentRange !== null && rangeHas(this.sentRange, cx, cy);
  }

  /** Like holdsChunk, for a level-of-detail chunk of `level`. */
  holdsLodChunk(level: number, cx: number, cy: number): boolean {
    return this.lod !== null && level === this.sentLevel && this.sentRange !== null && rangeHas(this.sentRange, cx, cy);
  }

  /**
   * A WELCOME opened the connection: resume what the first view keeps (RESUME must precede the VIEWPORT that
   * makes the server send snapshots), then send that view. `resumable`: the replica's chunks are of this canvas
   * and epoch.
   */
  start(socket: WebSocketLike, w: Welcome, resumable: boolean): void {
    const r = this.deps.replica;
    const level = this.levelFor(w);
    const view = this.desiredView === null ? null : this.fit(this.desiredView, w, level);
    if (view === null || level > 0) {
      r.clear(); // no full-resolution view: nothing held would be kept fresh
    } else if (resumable) {
      r.retainOnly(view.x, view.y, view.w, view.h);
      if (r.size > 0) socket.send(encodeResume(r.heldVersions().slice(0, MAX_RESUME_ENTRIES)));
    }
    if (view !== null) this.send(socket, view, level);
  }

  /** The connection is gone: nothing sent on the next one yet (the view asked for is kept). */
  reset(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.sentView = null;
    this.sentRange = null;
    this.setLevel(0);
    this.lastSentAt = Number.NEGATIVE_INFINITY;
  }

  /** The level asked for, capped at the canvas's top level (the whole canvas in one level chunk). */
  private levelFor(w: Welcome): number {
    return Math.min(this.desiredLevel, topLodLevel(w.width, w.height));
  }

  /** The rect to send for a requested one at `level` (fitViewport, within this canvas's limit). */
  private fit(r: Rect, w: Welcome, level = 0): Rect {
    return fitViewport(r, w.width, w.height, w.limits.maxViewportArea, level);
  }

  /** Switches the replica that receives chunks (reports a change of level). */
  private setLevel(level: number): void {
    if (level === this.sentLevel) return;
    this.sentLevel = level;
    if (level === 0) {
      this.lod = null;
    } else {
      const r = this.deps.replica;
      const lod = new Replica();
      lod.reset(lodSide(r.width, level), lodSide(r.height, level), r.background, r.epoch ?? 0);
      this.lod = lod;
    }
    this.deps.levelChanged(level);
  }

  private schedule(): void {
    if (this.timer !== null) return; // the pending send will take the latest view
    const l = this.deps.openLink();
    if (l === null) return;
    const wait = this.lastSentAt + throttleIntervalMs(l.welcome.limits.viewportHz) - now();
    if (wait <= 0) {
      this.flush();
    } else {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, wait);
    }
  }

  private flush(): void {
    const l = this.deps.openLink();
    if (l === null || this.desiredView === null) return;
    const level = this.levelFor(l.welcome);
    const view = this.fit(this.desiredView, l.welcome, level);
    if (sameRect(this.sentView, view) && level === this.sentLevel) return;
    this.send(l.socket, view, level);
  }

  /**
   * Sends a view and makes the replicas match it: from now on the server sends nothing for chunks outside
   * it, nor for any other level (a level change starts the new level's replica empty).
   */
  private send(socket: WebSocketLike, view: Rect, level = 0): void {
    const { replica, keepReplica } = this.deps;
    socket.send(level === 0 ? encodeViewport(view.x, view.y, view.w, view.h) : encodeLodViewport(level, view.x, view.y, view.w, view.h));
    this.sentView = view;
    this.setLevel(level);
    this.lastSentAt = now();
    if (level === 0) {
      this.sentRange = viewChunkRange(view.x, view.y, view.w, view.h, replica.width, replica.height);
      if (keepReplica) replica.retainOnly(view.x, view.y, view.w, view.h);
    } else {
      const c = viewChunkRange(view.x, view.y, view.w, view.h, replica.width, replica.height);
      const lr = c === null ? null : levelRect(view, level);
      const lod = this.lod!;
      this.sentRange = lr === null ? null : viewChunkRange(lr.x, lr.y, lr.w, lr.h, lod.width, lod.height);
      if (keepReplica) {
        replica.clear();
        if (lr === null) lod.clear();
        else lod.retainOnly(lr.x, lr.y, lr.w, lr.h);
      }
    }
  }
}
