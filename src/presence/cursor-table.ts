/**
 * Others' cursors, shown to those who see them, at a cost per viewer that is bounded whatever the crowd.
 *
 * Cursors are grouped into square cells at several levels: level k cells are 64·2^k canvas pixels wide
 * (level 0 is the chunk grid; the top level holds the whole canvas in one cell). Each viewer is assigned the
 * finest level at which its view touches at most MAX_VIEW_CELLS cells (a zoomed-in viewer: 64-px cells; a
 * whole-canvas viewer: the top level). Each cell shows at most `cellCap` of the cursors inside it — its
 * members: members stay while they are in the cell (so a shown cursor does not flicker in and out), free
 * places go to the most recently moved cursors, and a member idle for IDLE_MS gives its place up to a
 * fresher one. So a viewer receives at most MAX_VIEW_CELLS × cellCap cursors, however many stand in its view.
 *
 * Moves are coalesced (latest position wins) and flushed at the cursor cadence (the room calls flush at
 * 15 Hz by default, not every pixel tick). Per flush, each cell whose cursors changed encodes ONE blob — records of
 * members that moved (named when they just became members) and ids of members that left — and that blob is
 * appended to every viewer at that level whose view touches the cell: encode once per (cell, level), share
 * the bytes. Nothing is tracked per (cursor, viewer).
 *
 * When its view moves (or it catches up after being stale) a viewer gets a cursor snapshot instead: a reset
 * marker (id 0 in `removed`) and every member of its cells, named.
 *
 * The table knows owners and viewers only as ./cursor-owner.ts describes them; the bytes are CURSORS as
 * ../net/cursors-codec.ts writes them.
 */
import type { PixelRect } from '../subscriptions/viewport-index.js';
import { CURSOR_RECORD_BYTES, CURSOR_RESET_ID, assembleParts, writeCursorRecord, type CursorBlob } from '../net/cursors-codec.js';
import { CELL_SHIFT, MAX_VIEW_CELLS, cellKey, cursorLevelFor, sameCells, topCursorLevel } from './cursor-cells.js';
import type { CursorObserver, CursorOwner, CursorViewer } from './cursor-owner.js';

/** Default members per cell: with MAX_VIEW_CELLS, a viewer receives at most 54 cursors. */
export const DEFAULT_CELL_CAP = 6;
/** A member that has not moved for this long gives its place up to a cursor that moved more recently. */
export const IDLE_MS = 3000;

interface CursorRec {
  readonly owner: CursorOwner;
  readonly id: number;
  x: number;
  y: number;
  /** Cell key at each level, or -1 when hidden or gone. */
  readonly cells: number[];
  /** When it last moved (the table's clock). */
  movedAt: number;
  /** The table's epoch when it last moved: it moved since the last cell flush when this is the current one. */
  movedEpoch: number;
  /** Scratch stamps for update(): "was a member" / "is a member", compared with the flush's tokens (no Sets). */
  wasMember: number;
  isMember: number;
}

interface Cell {
  /** Every cursor inside the cell. */
  readonly all: Set<CursorRec>;
  /** The ones its viewers are shown (at most the cap), as last sent. */
  members: CursorRec[];
  readonly key: number;
  /** The table's epoch when it was last listed as active (listed once per epoch). */
  activeEpoch: number;
}

interface ViewerItem<V> {
  readonly viewer: V;
  level: number;
  rect: PixelRect;
  /** The cells (at `level`) its view touches: at most MAX_VIEW_CELLS. */
  cells: number[];
  /** This flush's blobs for it, blobs[0..blobCount): reused flush after flush (nothing allocated per viewer). */
  blobs: CursorBlob[];
  blobCount: number;
  /** The flush in which it gets a cursor snapshot instead of blobs. */
  snapshotFlush: number;
}

/**
 * Receives one viewer's CURSORS message as parts to be written back to back. `parts` is reused after the
 * call returns: keep the parts (they are not modified later), not the array.
 */
export type CursorSink<V> = (viewer: V, parts: readonly Uint8Array[], count: number) => void;

export interface ViewerLookup<V> {
  /** True if this viewer must get nothing now (backpressure); it gets a snapshot when it catches up. */
  isStale(viewer: V): boolean;
}

export class CursorTable<V extends CursorViewer = CursorViewer> {
  private readonly cursors = new Map<number, CursorRec>();
  /** Per level: the cells holding at least one cursor (or members still to be removed). */
  private readonly cells: Map<number, Cell>[] = [];
  /**
   * Per level: cells whose cursors changed since the last cell flush, in the first `activeCount[k]` places
   * (the lists are reused, and "moved" and "active" are epoch stamps on the records and cells: a table
   * cleared and refilled at every flush would allocate a new hash table each time, from a table that lives
   * long enough to be promoted: old-space garbage that grows with the crowd).
   */
  private readonly active: Cell[][] = [];
  private readonly activeCount: number[] = [];
  /** Bumped by each flush that sends cells: what moved or changed before it is older. */
  private epoch = 1;
  /**
   * Per level: the viewers at that level, by the cells their view touches. A view touches at most
   * MAX_VIEW_CELLS cells at its level, so registering one is a handful of Set operations (no tree), and the
   * viewers of a cell are one lookup.
   */
  private readonly watchers: Map<number, Set<ViewerItem<V>>>[] = [];
  private readonly viewers = new Map<V, ViewerItem<V>>();
  readonly topLevel: number;
  /** Token source for the membership stamps. */
  private stamp = 0;
  /** Flushes so far (ViewerItem.snapshotFlush compares with it). */
  private flushNo = 0;
  /** Scratch of flush(): the viewers given blobs, and one viewer's parts. */
  private readonly touched: ViewerItem<V>[] = [];
  private readonly parts: Uint8Array[] = [];

  constructor(
    private readonly width: number,
    private readonly height: number,
    private readonly cellCap = DEFAULT_CELL_CAP,
    private readonly clock: () => number = () => performance.now(),
    /** Told of every move and removal (a cluster node mirrors its own cursors to the others). */
    private readonly observer: CursorObserver | null = null,
  ) {
    this.topLevel = topCursorLevel(width, height);
    for (let k = 0; k <= this.topLevel; k++) {
      this.cells.push(new Map());
      this.active.push([]);
      this.activeCount.push(0);
      this.watchers.push(new Map());
    }
  }

  /** The most cursors one viewer can be sent at once. */
  get viewerCap(): number {
    return MAX_VIEW_CELLS * this.cellCap;
  }

  get size(): number {
    return this.cursors.size;
  }

  /** Viewers registered (for leak tests). */
  get viewerCount(): number {
    return this.viewers.size;
  }

  /** True if a flush would produce anything for viewers already in place. */
  get hasWork(): boolean {
    for (const n of this.activeCount) if (n > 0) return true;
    return false;
  }

  /** The cursor level a viewer was given (for tests and docs), or -1 without a view. */
  levelOf(viewer: V): number {
    return this.viewers.get(viewer)?.level ?? -1;
  }

  /** A viewer's view (clamped to the canvas, in canvas pixels), or null to stop showing it cursors. */
  setViewer(viewer: V, rect: PixelRect | null): void {
    let item = this.viewers.get(viewer);
    if (rect === null) {
      if (item) {
        this.unwatch(item);
        this.viewers.delete(viewer);
      }
      return;
    }
    const level = cursorLevelFor(rect, this.topLevel);
    const s = CELL_SHIFT + level;
    const cx0 = rect.x >> s;
    const cy0 = rect.y >> s;
    const cx1 = (rect.x + rect.w - 1) >> s;
    const cy1 = (rect.y + rect.h - 1) >> s;
    if (item) {
      item.rect = rect;
      // Most pans stay within the same cells: nothing to re-register.
      if (item.level === level && sameCells(item.cells, cx0, cy0, cx1, cy1)) return;
      this.unwatch(item);
      item.level = level;
    } else {
      item = { viewer, level, rect, cells: [], blobs: [], blobCount: 0, snapshotFlush: -1 };
      this.viewers.set(viewer, item);
    }
    const cells: number[] = [];
    const w = this.watchers[level]!;
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const key = cellKey(cx, cy);
        cells.push(key);
        let set = w.get(key);
        if (!set) w.set(key, (set = new Set()));
        set.add(item);
      }
    }
    item.cells = cells;
  }

  private unwatch(item: ViewerItem<V>): void {
    const w = this.watchers[item.level]!;
    for (const key of item.cells) {
      const set = w.get(key)!;
      set.delete(item);
      if (set.size === 0) w.delete(key);
    }
  }

  /** Record a move (latest wins until the next flush). Positions outside the canvas hide the cursor. */
  move(owner: CursorOwner, x: number, y: number, hidden: boolean): void {
    this.place(owner, x, y, hidden);
    this.observer?.moved(owner, x, y, hidden);
  }

  private place(owner: CursorOwner, x: number, y: number, hidden: boolean): void {
    const visible = !hidden && x < this.width && y < this.height;
    let rec = this.cursors.get(owner.id);
    if (!rec) {
      if (!visible) return;
      rec = { owner, id: owner.id, x, y, cells: new Array<number>(this.topLevel + 1).fill(-1), movedAt: 0, movedEpoch: 0, wasMember: 0, isMember: 0 };
      this.cursors.set(owner.id, rec);
    }
    rec.x = x;
    rec.y = y;
    rec.movedAt = this.clock();
    rec.movedEpoch = this.epoch;
    for (let k = 0; k <= this.topLevel; k++) {
      const s = CELL_SHIFT + k;
      const to = visible ? cellKey(x >>> s, y >>> s) : -1;
      const from = rec.cells[k]!;
      const cells = this.cells[k]!;
      let cell: Cell | undefined;
      if (from !== to) {
        if (from >= 0) {
          const left = cells.get(from)!;
          left.all.delete(rec);
          this.markActive(k, left);
        }
        rec.cells[k] = to;
        if (to >= 0) {
          cell = cells.get(to);
          if (!cell) cells.set(to, (cell = { all: new Set(), members: [], key: to, activeEpoch: 0 }));
          cell.all.add(rec);
        }
      } else if (to >= 0) cell = cells.get(to);
      if (cell) this.markActive(k, cell);
    }
  }

  /** Lists `cell` among level k's changed cells, once per epoch. */
  private markActive(k: number, cell: Cell): void {
    if (cell.activeEpoch === this.epoch) return;
    cell.activeEpoch = this.epoch;
    this.active[k]![this.activeCount[k]!++] = cell;
  }

  /** A local client left: it views nothing more, and its cursor goes (see removeCursor). */
  remove(client: V & CursorOwner): void {
    this.setViewer(client, null);
    this.removeCursor(client);
  }

  /** The cursor is removed from its cells' viewers at the next flush. */
  removeCursor(owner: CursorOwner): void {
    const rec = this.cursors.get(owner.id);
    if (rec) {
      this.move(owner, 0, 0, true);
      this.cursors.delete(owner.id);
    }
    this.observer?.removed(owner);
  }

  /**
   * This flush's CURSORS message for each viewer that has one, handed to `sink`. `snapshots` are viewers
   * that get their full cursor state instead of the cell blobs (their view moved, or they caught up from
   * stale); stale viewers get nothing. `cells` false: snapshots only (they go out on the tick that applied
   * the view; the cell blobs wait for the cursor cadence). A snapshot shows each cell's members as last
   * sent, so the next blobs apply on top of it. What is allocated grows with the cells that changed, not
   * with the viewers: their blob lists and parts are reused, and message heads are shared.
   */
  flush(lookup: ViewerLookup<V>, snapshots: Iterable<V>, cells: boolean, sink: CursorSink<V>): void {
    const now = this.clock();
    const flushNo = ++this.flushNo;
    const snap: ViewerItem<V>[] = [];
    for (const v of snapshots) {
      const item = this.viewers.get(v);
      if (!item || item.snapshotFlush === flushNo || v.phase !== 'ready' || lookup.isStale(v)) continue;
      item.snapshotFlush = flushNo;
      snap.push(item);
    }

    const touched = this.touched;
    for (let k = 0; cells && k <= this.topLevel; k++) {
      const cells = this.cells[k]!;
      const watchers = this.watchers[k]!;
      const active = this.active[k]!;
      const count = this.activeCount[k]!;
      this.activeCount[k] = 0;
      for (let i = 0; i < count; i++) {
        const cell = active[i]!;
        const key = cell.key;
        active[i] = EMPTY_CELL; // the list keeps no cell alive past its flush
        const blob = this.update(cell, key, k, now);
        if (cell.all.size === 0 && cell.members.length === 0) cells.delete(key);
        if (blob === null) continue;
        const hits = watchers.get(key);
        if (!hits) continue;
        for (const item of hits) {
          const v = item.viewer;
          if (v.phase !== 'ready' || item.snapshotFlush === flushNo || lookup.isStale(v)) continue;
          if (item.blobCount === 0) touched.push(item);
          item.blobs[item.blobCount++] = blob;
        }
      }
    }
    if (cells) this.epoch++;

    const parts = this.parts;
    try {
      for (const item of touched) {
        sink(item.viewer, parts, assembleParts(item.blobs, item.blobCount, parts));
        releaseBlobs(item);
      }
      if (snap.length > 0) {
        // Named member lists, encoded once per (level, cell) for all the snapshots of this flush.
        const named = new Map<number, CursorBlob>();
        for (const item of snap) {
          const k = item.level;
          item.blobs[item.blobCount++] = RESET;
          for (const key of item.cells) {
            const cell = this.cells[k]!.get(key);
            if (!cell || cell.members.length === 0) continue;
            const id = key * 32 + k;
            let b = named.get(id);
            if (!b) named.set(id, (b = encodeRecords(cell.members, NAME_ALL, [])));
            item.blobs[item.blobCount++] = b;
          }
          sink(item.viewer, parts, assembleParts(item.blobs, item.blobCount, parts));
          releaseBlobs(item);
        }
      }
    } finally {
      // Should a sink throw, no viewer keeps this flush's blobs for the next one.
      for (const item of touched) releaseBlobs(item);
      for (const item of snap) releaseBlobs(item);
      touched.length = 0;
      parts.fill(EMPTY);
    }
  }

  /** A cursor's current position, or null when it is hidden or gone (tests). */
  positionOf(id: number): { x: number; y: number } | null {
    const rec = this.cursors.get(id);
    return rec && rec.cells[0]! >= 0 ? { x: rec.x, y: rec.y } : null;
  }

  /** The members currently shown for the cell holding (x, y) at level k (tests). */
  membersAt(k: number, x: number, y: number): number[] {
    const s = CELL_SHIFT + k;
    return (this.cells[k]?.get(cellKey(x >>> s, y >>> s))?.members ?? []).map((r) => r.id);
  }

  /**
   * Recompute a cell's members and encode what its viewers must learn: removed members' ids, new members
   * named, members that moved unnamed. Null when nothing changed for its viewers.
   */
  private update(cell: Cell, key: number, k: number, now: number): CursorBlob | null {
    const old = cell.members;
    const cap = this.cellCap;
    const was = ++this.stamp;
    const is = ++this.stamp;
    for (const r of old) r.wasMember = was;
    const next: CursorRec[] = [];
    const crowded = cell.all.size > cap;
    for (const r of old) {
      if (r.cells[k] !== key) continue; // left the cell, hidden or gone
      if (crowded && now - r.movedAt > IDLE_MS) continue; // idle in a crowd: competes again below
      next.push(r);
      r.isMember = is;
    }
    if (next.length < cap && next.length < cell.all.size) {
      // Fill free places with the most recently moved non-members (a small insertion-sorted top list).
      const top: CursorRec[] = [];
      const want = cap - next.length;
      for (const r of cell.all) {
        if (r.isMember === is) continue;
        if (top.length === want && !fresher(r, top[want - 1]!)) continue;
        let i = top.length < want ? top.length : want - 1;
        top[i] = r;
        while (i > 0 && fresher(top[i]!, top[i - 1]!)) {
          const t = top[i - 1]!;
          top[i - 1] = top[i]!;
          top[i] = t;
          i--;
        }
      }
      for (const r of top) {
        next.push(r);
        r.isMember = is;
      }
    }
    cell.members = next;

    const removed: number[] = [];
    for (const r of old) if (r.isMember !== is) removed.push(r.id);
    const recs: CursorRec[] = [];
    for (const r of next) {
      // New members are sent named; members that moved, unnamed.
      if (r.wasMember !== was || r.movedEpoch === this.epoch) recs.push(r);
    }
    if (recs.length === 0 && removed.length === 0) return null;
    return encodeRecords(recs, was, removed);
  }
}

/** Drops a viewer's references to this flush's blobs, so none outlives the flush through its item. */
function releaseBlobs(item: ViewerItem<unknown>): void {
  for (let i = 0; i < item.blobCount; i++) item.blobs[i] = RESET;
  item.blobCount = 0;
}

/** More recently moved; ties broken by id so the choice is deterministic. */
function fresher(a: CursorRec, b: CursorRec): boolean {
  return a.movedAt > b.movedAt || (a.movedAt === b.movedAt && a.id < b.id);
}

const EMPTY = new Uint8Array(0);
/** What a flushed place of an active list holds until it is reused. */
const EMPTY_CELL: Cell = { all: new Set(), members: [], key: -1, activeEpoch: 0 };
/** The first blob of a cursor snapshot: "forget every cursor you know" (the reset marker). */
const RESET: CursorBlob = { records: EMPTY, recordCount: 0, removed: [CURSOR_RESET_ID] };
/** A membership stamp no record has (stamps start at 1): every record is named. */
const NAME_ALL = -1;

/** Encodes records, naming those that were not members at stamp `was` (new members); NAME_ALL names all. */
function encodeRecords(recs: CursorRec[], was: number, removed: number[]): CursorBlob {
  let size = 0;
  for (const rec of recs) size += CURSOR_RECORD_BYTES + (rec.wasMember !== was ? rec.owner.nameBytes.length : 0);
  const b = new Uint8Array(size);
  let o = 0;
  for (const rec of recs) o = writeCursorRecord(b, o, rec.id, rec.x, rec.y, rec.wasMember !== was ? rec.owner.nameBytes : null);
  return { records: b, recordCount: recs.length, removed };
}
