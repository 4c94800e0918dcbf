/**
 * Which subscribers see which chunks. Each subscriber's viewport, clamped to the canvas, is one
 * box in an R-tree; the tick asks "who sees chunk (cx, cy)?" once per dirty chunk, and cursor
 * fan-out asks "who sees pixel (x, y)?".
 */
import RBush from 'rbush';
import { CHUNK_SHIFT, CHUNK_SIZE, MAX_CANVAS_SIDE, keyCx, keyCy } from '../chunks/geometry.js';
import {
  type ChunkRange,
  chunkRangeOfPixels,
  pushRangeDifference,
  pushRangeKeys,
  rangeContains,
} from './chunk-range.js';

export type { ChunkRange } from './chunk-range.js';

/** A rectangle in pixel coordinates. May extend beyond the canvas; x and y may be negative. */
export interface PixelRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export type ViewportErrorCode = 'VIEWPORT_TOO_LARGE' | 'BAD_VIEWPORT';

/** A rejected viewport. The index is left exactly as it was before the call. */
export class ViewportError extends Error {
  override readonly name = 'ViewportError';
  constructor(
    readonly code: ViewportErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ViewportIndexOptions {
  /** Canvas width in pixels: a multiple of 64, at most 65536. */
  width: number;
  /** Canvas height in pixels: a multiple of 64, at most 65536. */
  height: number;
  /** Largest viewport area in pixels, measured after clamping to the canvas. */
  maxArea: number;
}

/**
 * One per known subscriber, for its whole life: rbush removes by reference, so moving a viewport
 * is remove + mutate + insert of this same object. The pixel box (inclusive max) is what the tree
 * indexes; the chunk range is kept beside it so seesChunk needs no division or search.
 */
interface Entry<S> extends ChunkRange {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  readonly sub: S;
  /** False while the view is empty or off the canvas: then the entry is not in the tree and its boxes are stale. */
  visible: boolean;
}

/** An rbush node as its toJSON() gives it: a box over entries (leaf) or over further nodes. */
interface TreeNode<S> {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  leaf: boolean;
  children: (TreeNode<S> | Entry<S>)[];
}

function badViewport(rect: PixelRect): ViewportError {
  return new ViewportError(
    'BAD_VIEWPORT',
    `viewport must have integer x, y and non-negative integer w, h; got ${rect.x},${rect.y} ${rect.w}x${rect.h}`,
  );
}

function isValidRect(rect: PixelRect): boolean {
  return (
    Number.isSafeInteger(rect.x) &&
    Number.isSafeInteger(rect.y) &&
    Number.isSafeInteger(rect.w) &&
    Number.isSafeInteger(rect.h) &&
    rect.w >= 0 &&
    rect.h >= 0
  );
}

function checkSide(name: string, side: number): void {
  if (!Number.isInteger(side) || side < CHUNK_SIZE || side > MAX_CANVAS_SIDE || side % CHUNK_SIZE !== 0) {
    throw new RangeError(`ViewportIndex: ${name} must be a multiple of ${CHUNK_SIZE} in [${CHUNK_SIZE}, ${MAX_CANVAS_SIDE}], got ${side}`);
  }
}

/** Replaces each entry of a fresh search result with its subscriber, reusing rbush's array. */
function toSubs<S>(hits: Entry<S>[]): S[] {
  const out = hits as unknown as S[];
  for (let i = 0; i < hits.length; i++) out[i] = hits[i].sub;
  return out;
}

/** Spatial index of subscriber viewports, keyed by subscriber identity (Map semantics). */
export class ViewportIndex<S> {
  private readonly tree = new RBush<Entry<S>>();
  private readonly entries = new Map<S, Entry<S>>();
  private readonly width: number;
  private readonly height: number;
  private readonly maxArea: number;
  private readonly chunksX: number;
  private readonly chunksY: number;
  // Scratch objects for the hot paths; never handed out.
  private readonly queryBox = { minX: 0, minY: 0, maxX: 0, maxY: 0 };
  private readonly nextRange: ChunkRange = { cx0: 0, cy0: 0, cx1: 0, cy1: 0 };
  private readonly stack: TreeNode<S>[] = [];

  constructor(opts: ViewportIndexOptions) {
    checkSide('width', opts.width);
    checkSide('height', opts.height);
    if (!(opts.maxArea > 0)) {
      throw new RangeError(`ViewportIndex: maxArea must be a positive number, got ${opts.maxArea}`);
    }
    this.width = opts.width;
    this.height = opts.height;
    this.maxArea = opts.maxArea;
    this.chunksX = opts.width >>> CHUNK_SHIFT;
    this.chunksY = opts.height >>> CHUNK_SHIFT;
  }

  /** Number of known subscribers, including those that currently see nothing. */
  get size(): number {
    return this.entries.size;
  }

  has(sub: S): boolean {
    return this.entries.has(sub);
  }

  /**
   * Sets or moves sub's viewport, clamped to the canvas. Returns the chunk keys that entered and
   * left its view, row by row. An empty or off-canvas rect keeps sub known but seeing nothing.
   * Throws ViewportError (BAD_VIEWPORT, VIEWPORT_TOO_LARGE) without changing anything.
   */
  set(sub: S, rect: PixelRect): { entered: number[]; left: number[] } {
    if (!isValidRect(rect)) throw badViewport(rect);
    // Exclusive clamped bounds.
    const x0 = Math.max(rect.x, 0);
    const y0 = Math.max(rect.y, 0);
    const x1 = Math.min(rect.x + rect.w, this.width);
    const y1 = Math.min(rect.y + rect.h, this.height);
    const visible = x1 > x0 && y1 > y0;
    // The limit applies to what the subscriber can actually be sent, so a huge rect hanging
    // off the canvas edge is fine as long as its on-canvas part is small.
    if (visible && (x1 - x0) * (y1 - y0) > this.maxArea) {
      throw new ViewportError(
        'VIEWPORT_TOO_LARGE',
        `viewport area ${(x1 - x0) * (y1 - y0)} px (${x1 - x0}x${y1 - y0} after clamping) exceeds maxArea ${this.maxArea} px`,
      );
    }

    let entry = this.entries.get(sub);
    const prev = entry !== undefined && entry.visible ? entry : null;
    const next = visible ? chunkRangeOfPixels(this.nextRange, x0, y0, x1 - 1, y1 - 1) : null;
    const entered: number[] = [];
    const left: number[] = [];
    if (next !== null) pushRangeDifference(entered, next, prev);
    if (prev !== null) pushRangeDifference(left, prev, next);

    if (entry === undefined) {
      entry = { minX: 0, minY: 0, maxX: 0, maxY: 0, cx0: 0, cy0: 0, cx1: 0, cy1: 0, sub, visible: false };
      this.entries.set(sub, entry);
    } else if (prev !== null) {
      if (visible && prev.minX === x0 && prev.minY === y0 && prev.maxX === x1 - 1 && prev.maxY === y1 - 1) {
        return { entered, left }; // same clamped box: nothing to reindex
      }
      // rbush finds the item by descending into nodes whose boxes contain it, so the entry's
      // box may only change while it is out of the tree.
      this.tree.remove(prev);
    }

    entry.visible = visible;
    if (next !== null) {
      entry.minX = x0;
      entry.minY = y0;
      entry.maxX = x1 - 1;
      entry.maxY = y1 - 1;
      entry.cx0 = next.cx0;
      entry.cy0 = next.cy0;
      entry.cx1 = next.cx1;
      entry.cy1 = next.cy1;
      this.tree.insert(entry);
    }
    return { entered, left };
  }

  /** Forgets sub and returns the chunk keys it was seeing. Unknown sub: []. */
  remove(sub: S): number[] {
    const entry = this.entries.get(sub);
    if (entry === undefined) return [];
    this.entries.delete(sub);
    if (!entry.visible) return [];
    this.tree.remove(entry);
    return pushRangeKeys([], entry);
  }

  /** Subscribers whose clamped viewport overlaps chunk (cx, cy), in no particular order. */
  subscribersOf(cx: number, cy: number): S[] {
    const out: S[] = [];
    out.length = this.collectSubscribers(cx, cy, out);
    return out;
  }

  /**
   * subscribersOf without allocating: writes the subscribers into `out` from index 0 and returns how many
   * (slots past the count are left as they were). The tick's fan-out asks once per dirty chunk with one
   * reused array.
   */
  collectSubscribers(cx: number, cy: number, out: S[]): number {
    if (cx < 0 || cy < 0 || cx >= this.chunksX || cy >= this.chunksY) return 0;
    const minX = cx << CHUNK_SHIFT;
    const minY = cy << CHUNK_SHIFT;
    const maxX = minX + CHUNK_SIZE - 1;
    const maxY = minY + CHUNK_SIZE - 1;
    // rbush's search, on its own tree (toJSON returns the root as is), with a reused stack and output.
    const stack = this.stack;
    let n = 0;
    let node: TreeNode<S> | undefined = this.tree.toJSON() as TreeNode<S>;
    if (node.children.length === 0) return 0;
    while (node !== undefined) {
      const children = node.children;
      if (node.leaf) {
        for (let i = 0; i < children.length; i++) {
          const e = children[i] as Entry<S>;
          if (e.minX <= maxX && e.minY <= maxY && e.maxX >= minX && e.maxY >= minY) out[n++] = e.sub;
        }
      } else {
        for (let i = 0; i < children.length; i++) {
          const c = children[i] as TreeNode<S>;
          if (c.minX <= maxX && c.minY <= maxY && c.maxX >= minX && c.maxY >= minY) stack.push(c);
        }
      }
      node = stack.pop();
    }
    return n;
  }

  /** Subscribers whose clamped viewport intersects the inclusive pixel box, in no particular order. */
  subscribersIn(minX: number, minY: number, maxX: number, maxY: number): S[] {
    const box = this.queryBox;
    box.minX = minX;
    box.minY = minY;
    box.maxX = maxX;
    box.maxY = maxY;
    return toSubs(this.tree.search(box));
  }

  /** Subscribers whose clamped viewport contains pixel (x, y), in no particular order. */
  subscribersAt(x: number, y: number): S[] {
    const box = this.queryBox;
    box.minX = box.maxX = x;
    box.minY = box.maxY = y;
    return toSubs(this.tree.search(box));
  }

  /** The clamped chunk range sub sees (a copy), or null if it sees nothing or is unknown. */
  rangeOf(sub: S): ChunkRange | null {
    const e = this.entries.get(sub);
    if (e === undefined || !e.visible) return null;
    return { cx0: e.cx0, cy0: e.cy0, cx1: e.cx1, cy1: e.cy1 };
  }

  /** The clamped pixel rect of sub, or null if it sees nothing or is unknown. */
  rectOf(sub: S): PixelRect | null {
    const e = this.entries.get(sub);
    if (e === undefined || !e.visible) return null;
    return { x: e.minX, y: e.minY, w: e.maxX - e.minX + 1, h: e.maxY - e.minY + 1 };
  }

  /** True if sub's view contains the chunk with this key. O(1). */
  seesChunk(sub: S, key: number): boolean {
    const e = this.entries.get(sub);
    return e !== undefined && e.visible && rangeContains(e, keyCx(key), keyCy(key));
  }

  /** True if sub's clamped view contains pixel (x, y). O(1). */
  seesPixel(sub: S, x: number, y: number): boolean {
    const e = this.entries.get(sub);
    return e !== undefined && e.visible && x >= e.minX && x <= e.maxX && y >= e.minY && y <= e.maxY;
  }
}
