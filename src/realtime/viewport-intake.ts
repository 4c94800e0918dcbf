/**
 * VIEWPORT, LOD_VIEWPORT and RESUME: a view applied at once when within the viewport rate, else deferred
 * (latest wins) to a later tick — never dropped, since the client has already discarded what left its view.
 * Applying a view subscribes it (./viewport-subscription.ts), moves the client's cursor view and asks for a
 * full cursor snapshot.
 */
import { OVERLOAD_DEFAULTS } from '../defaults.js';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { chunkKey, keyCx, keyCy } from '../chunks/geometry.js';
import { Op, ProtocolError, type Resume } from '../net/protocol.js';
import type { CursorTable } from '../presence/cursor-table.js';
import type { ChunkRange, PixelRect } from '../subscriptions/viewport-index.js';
import type { ClientSession } from './client-session.js';
import type { ClientErrors } from './client-errors.js';
import type { Outbox } from './outbox.js';
import { clampRect, intersectRange, type ViewportSubscriptions } from './viewport-subscription.js';

export interface ViewportIntakeDeps {
  store: ChunkStore;
  subs: ViewportSubscriptions;
  cursors: CursorTable;
  outbox: Outbox;
  errors: ClientErrors;
  /** The viewer's cursors are sent whole next tick. */
  cursorSnapshot: (s: ClientSession) => void;
  wake: () => void;
}

export class ViewportIntake {
  constructor(private readonly deps: ViewportIntakeDeps) {}

  /** A viewport at `level`; `withinBudget`: the message budget had room for it. Throws ProtocolError for a bad one. */
  request(s: ClientSession, level: number, msg: PixelRect, t: number, withinBudget: boolean): void {
    const { subs } = this.deps;
    const rect: PixelRect = { x: msg.x, y: msg.y, w: msg.w, h: msg.h };
    subs.validate(level, rect);
    const pending = s.pendingViewport;
    if (!withinBudget || pending || s.viewportBucket.take(1, t) !== 0) {
      // Faster than allowed: keep only the latest, apply it on a later tick. Remember which chunks were in
      // every view sent meanwhile (at one level; a level change resends everything); the client may have
      // dropped the others.
      const prevLevel = pending ? pending.level : s.level;
      const keep = prevLevel !== level ? null : pending ? pending.keep : subs.rangeOf(s);
      s.pendingViewport = { rect, level, keep: intersectRange(keep, subs.rangeAt(level, rect)) };
      this.deps.outbox.backlog.add(s);
      this.deps.wake();
      return;
    }
    this.apply(s, level, rect, undefined);
  }

  /** The tick's backlog stage: a deferred viewport is applied once the viewport rate allows. */
  applyDeferred(s: ClientSession, t: number): void {
    const p = s.pendingViewport;
    if (!p || s.viewportBucket.take(1, t) !== 0) return;
    s.pendingViewport = null;
    try {
      this.apply(s, p.level, p.rect, p.level === s.level ? p.keep : undefined);
    } catch (err) {
      if (err instanceof ProtocolError) this.deps.errors.violation(s, err, p.level > 0 ? Op.LOD_VIEWPORT : Op.VIEWPORT);
      else throw err;
    }
  }

  resume(s: ClientSession, msg: Resume): void {
    const versions = new Map<number, number>();
    for (const c of msg.chunks) versions.set(chunkKey(c.cx, c.cy), c.version);
    // Versions for the coming first VIEWPORT only: once a view is applied they would go stale (the client
    // drops what leaves its view), so a late RESUME serves only chunks still awaiting their snapshot.
    s.resumeVersions = this.deps.subs.has(s) ? null : versions;
    // Chunks already subscribed but not yet sent can be satisfied now (full-resolution subscriptions only).
    if (s.level === 0) for (const key of s.needSnapshot) {
      const v = versions.get(key);
      // (deleting the current key while iterating a ChunkKeySet is safe)
      if (v !== undefined && v === this.deps.store.version(keyCx(key), keyCy(key))) {
        s.needSnapshot.delete(key);
      }
    }
  }

  /** `keep` (for a deferred viewport): chunks outside it are re-sent whole even if the server thinks they are held. */
  private apply(s: ClientSession, level: number, rect: PixelRect, keep: ChunkRange | null | undefined): void {
    const { subs, cursors, store, outbox } = this.deps;
    subs.apply(s, level, rect, keep);
    const seen = clampRect(rect, store.width, store.height);
    cursors.setViewer(s, seen);
    s.zoomedIn = level === 0 && seen !== null && seen.w * seen.h <= OVERLOAD_DEFAULTS.zoomedInPixels;
    if (s.needSnapshot.size > 0) {
      outbox.backlog.add(s);
      if (s.panAt === 0) s.panAt = performance.now(); // pan→snapshot latency, from the oldest unfinished view
    }
    this.deps.cursorSnapshot(s);
    this.deps.wake();
  }
}
