/**
 * What each client is subscribed to: one viewport at one level of detail. Level L's viewports live in
 * level L's ViewportIndex (in level-L pixel coordinates), so a chunk changed at level L is mapped to its
 * subscribers by one query on one tree. This module also owns the rule for which chunks a client must be
 * sent whole (`needSnapshot`) when its subscription changes: chunks entering its view, all of them when it
 * changes level, and (for a viewport applied late) every chunk outside the views it sent meanwhile.
 */
import { chunkKey, keyCx, keyCy } from '../chunks/geometry.js';
import type { LodLevels } from '../chunks/lod.js';
import { levelRect } from '../chunks/lod-geometry.js';
import { ViewportIndex, ViewportError, type ChunkRange, type PixelRect } from '../subscriptions/viewport-index.js';
import { rangeContains } from '../subscriptions/chunk-range.js';
import { protocolError } from '../net/protocol.js';
import type { ClientSession } from './client-session.js';

/** The part of a viewport inside the canvas, as the viewport index clamps it; null when nothing is inside. */
export function clampRect(r: PixelRect, width: number, height: number): PixelRect | null {
  const x0 = Math.max(0, r.x);
  const y0 = Math.max(0, r.y);
  const x1 = Math.min(width, r.x + r.w);
  const y1 = Math.min(height, r.y + r.h);
  return x1 > x0 && y1 > y0 ? { x: x0, y: y0, w: x1 - x0, h: y1 - y0 } : null;
}

function chunkRangeOf(r: PixelRect | null): ChunkRange | null {
  return r ? { cx0: r.x >> 6, cy0: r.y >> 6, cx1: (r.x + r.w - 1) >> 6, cy1: (r.y + r.h - 1) >> 6 } : null;
}

export function intersectRange(a: ChunkRange | null, b: ChunkRange | null): ChunkRange | null {
  if (!a || !b) return null;
  const r = { cx0: Math.max(a.cx0, b.cx0), cy0: Math.max(a.cy0, b.cy0), cx1: Math.min(a.cx1, b.cx1), cy1: Math.min(a.cy1, b.cy1) };
  return r.cx0 <= r.cx1 && r.cy0 <= r.cy1 ? r : null;
}

export class ViewportSubscriptions {
  /** Index L: the viewports at level L, in level-L pixels. */
  readonly indexes: ViewportIndex<ClientSession>[] = [];
  private readonly width: number;
  private readonly height: number;

  constructor(private readonly levels: LodLevels, private readonly maxArea: number) {
    this.width = levels.level(0).width;
    this.height = levels.level(0).height;
    for (const store of levels.stores) {
      this.indexes.push(new ViewportIndex<ClientSession>({ width: store.width, height: store.height, maxArea }));
    }
  }

  get top(): number {
    return this.levels.top;
  }

  /** The checks a set would make, made before a viewport is deferred so the error comes at once. */
  validate(level: number, rect: PixelRect): void {
    if (!Number.isInteger(level) || level < 0 || level > this.levels.top) {
      throw protocolError('BAD_VIEWPORT', `level ${level} is not in 0..${this.levels.top} for this canvas`);
    }
    const c = clampRect(rect, this.width, this.height);
    const l = c ? levelRect(c, level) : null;
    const area = l ? l.w * l.h : 0;
    if (area > this.maxArea) {
      throw protocolError('VIEWPORT_TOO_LARGE', `viewport area ${area} px after clamping exceeds ${this.maxArea}`
        + (level > 0 ? ` (level ${level} pixels)` : ''));
    }
  }

  has(s: ClientSession): boolean {
    return this.indexes[s.level]!.has(s);
  }

  /** The chunk range (at its level) a client sees now, or null. */
  rangeOf(s: ClientSession): ChunkRange | null {
    return this.indexes[s.level]!.rangeOf(s);
  }

  /** The chunk range (at `level`) a canvas rect covers, or null. */
  rangeAt(level: number, rect: PixelRect): ChunkRange | null {
    const c = clampRect(rect, this.width, this.height);
    return c ? chunkRangeOf(levelRect(c, level)) : null;
  }

  remove(s: ClientSession): void {
    this.indexes[s.level]!.remove(s);
  }

  /**
   * Subscribe `s` to `rect` (canvas pixels) at `level` and file the chunks it must be sent whole.
   * `keep` (a viewport applied late, at the same level throughout): chunks outside it are re-sent whole even
   * if the server thinks they are held. Resume versions count at level 0 only.
   */
  apply(s: ClientSession, level: number, rect: PixelRect, keep: ChunkRange | null | undefined): void {
    const clamped = clampRect(rect, this.width, this.height);
    const lrect = clamped ? levelRect(clamped, level) : { x: 0, y: 0, w: 0, h: 0 };
    let change: { entered: number[]; left: number[] };
    const switching = s.level !== level;
    try {
      if (switching) {
        // Validate on the new tree first, so a refused viewport leaves the old subscription intact.
        change = this.indexes[level]!.set(s, lrect);
        this.indexes[s.level]!.remove(s);
        s.needSnapshot.clear();
        s.level = level;
      } else {
        change = this.indexes[level]!.set(s, lrect);
      }
    } catch (err) {
      if (err instanceof ViewportError) throw protocolError(err.code, err.message);
      throw err;
    }
    for (const key of change.left) s.needSnapshot.delete(key);
    const resume = level === 0 ? s.resumeVersions : null;
    const store = this.levels.level(level);
    for (const key of change.entered) {
      const v = resume?.get(key);
      if (v === undefined || v !== store.version(keyCx(key), keyCy(key))) s.needSnapshot.add(key);
    }
    if (keep !== undefined && !switching) {
      const range = this.indexes[level]!.rangeOf(s);
      if (range) for (let cy = range.cy0; cy <= range.cy1; cy++) for (let cx = range.cx0; cx <= range.cx1; cx++) {
        if (keep && rangeContains(keep, cx, cy)) continue;
        s.needSnapshot.add(chunkKey(cx, cy));
      }
    }
    s.resumeVersions = null;
  }
}
