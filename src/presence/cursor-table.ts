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
 */
import { HEADER_BYTES, MAX_BODY_BYTES, Op } from '../net/protocol.js';
import type { ClientSession } from '../realtime/client-session.js';
import { joinParts } from '../realtime/transport.js';
import type { PixelRect } from '../subscriptions/viewport-index.js';

export const CELL_SHIFT = 6;
export const CELL_SIZE = 1 << CELL_SHIFT;
/** A viewer's cursor level is the finest at which its view touches at most this many cells. */
export const MAX_VIEW_CELLS = 9;
/** Default members per cell: with MAX_VIEW_CELLS, a viewer receives at most 54 cursors. */
export const DEFAULT_CELL_CAP = 6;
/** A member that has not moved for this long gives its place up to a cursor that moved more recently. */
export const IDLE_MS = 3000;
/** Record size without the name: id u32, x u16, y u16, nameLen u8. */
const RECORD_BYTES = 9;
/** In CURSORS.removed, "forget every cursor you know, then apply this message" (client ids start at 1). */
export const CURSOR_RESET_ID = 0;

interface CursorRec {
  readonly session: ClientSession;
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

/** One flush's blob of a cell: pre-encoded records and removed ids. */
export interface Blob {
  records: Uint8Array;
  recordCount: number;
  removed: number[];
  /** The CURSORS tail (u16 count, u32 ids) of `removed` alone, built once for the viewers it is the only removal of. */
  tail?: Uint8Array;
}

interface ViewerItem {
  readonly session: ClientSession;
  level: number;
  rect: PixelRect;
  /** The cells (at `level`) its view touches: at most MAX_VIEW_CELLS. */
  cells: number[];
  /** This flush's blobs for it, blobs[0..blobCount): reused flush after flush (nothing allocated per viewer). */
  blobs: Blob[];
  blobCount: number;
  /** The flush in which it gets a cursor snapshot instead of blobs. */
  snapshotFlush: number;
}

/**
 * Receives one viewer's CURSORS message as parts to be written back to back. `parts` is reused after the
 * call returns: keep the parts (they are not modified later), not the array.
 */
export type CursorSink = (viewer: ClientSession, parts: readonly Uint8Array[], count: number) => void;

export interface ViewerLookup {
  /** True if this viewer must get nothing now (backpressure); it gets a snapshot when it catches up. */
  isStale(session: ClientSession): boolean;
}

function cellKey(cx: number, cy: number): number {
  return cy * 65536 + cx;
}

/** True if `cells` (row by row) is exactly the block cx0..cx1 × cy0..cy1. */
function sameCells(cells: readonly number[], cx0: number, cy0: number, cx1: number, cy1: number): boolean {
  if (cells.length !== (cx1 - cx0 + 1) * (cy1 - cy0 + 1)) return false;
  return cells[0] === cellKey(cx0, cy0) && cells[cells.length - 1] === cellKey(cx1, cy1);
}

/** The coarsest cursor level of a canvas: its cells hold the whole canvas. */
export function topCursorLevel(width: number, height: number): number {
  let k = 0;
  while (CELL_SIZE << k < Math.max(width, height)) k++;
  return k;
}

/** Cells of level `k` a clamped rect touches. */
function cellsTouched(r: PixelRect, k: number): number {
  const s = CELL_SHIFT + k;
  const nx = ((r.x + r.w - 1) >> s) - (r.x >> s) + 1;
  const ny = ((r.y + r.h - 1) >> s) - (r.y >> s) + 1;
  return nx * ny;
}

/** The finest level at which the (clamped, non-empty) rect touches at most MAX_VIEW_CELLS cells. */
export function cursorLevelFor(r: PixelRect, top: number): number {
  for (let k = 0; k < top; k++) if (cellsTouched(r, k) <= MAX_VIEW_CELLS) return k;
  return top;
}

export class CursorTable {
  private readonly cursors = new Map<number, CursorRec>();
  /** Per level: the cells holding at least one cursor (or members still to be removed). */
  private readonly cells: Map<number, Cell>[] = [];
  /**
   * Per level: cells whose cursors changed since the last cell flush, in the first `activeCount[k]` places
   * (the lists are reused, and "moved" and "active" are epoch stamps on the records and cells: a table
   * cleared and refilled at every flush would allocate a new hash table each time, from a table that lives
   * long enough to be promoted — most of the old-space garbage at 1000 scrollers).
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
  private readonly watchers: Map<number, Set<ViewerItem>>[] = [];
  private readonly viewers = new Map<ClientSession, ViewerItem>();
  readonly topLevel: number;
  /** Token source for the membership stamps. */
  private stamp = 0;
  /** Flushes so far (ViewerItem.snapshotFlush compares with it). */
  private flushNo = 0;
  /** Scratch of flush(): the viewers given blobs, and one viewer's parts. */
  private readonly touched: ViewerItem[] = [];
  private readonly parts: Uint8Array[] = [];

  constructor(
    private readonly width: number,
    private readonly height: number,
    private readonly cellCap = DEFAULT_CELL_CAP,
    private readonly clock: () => number = () => performance.now(),
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
  levelOf(session: ClientSession): number {
    return this.viewers.get(session)?.level ?? -1;
  }

  /** A viewer's view (clamped to the canvas, in canvas pixels), or null to stop showing it cursors. */
  setViewer(session: ClientSession, rect: PixelRect | null): void {
    let item = this.viewers.get(session);
    if (rect === null) {
      if (item) {
        this.unwatch(item);
        this.viewers.delete(session);
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
      item = { session, level, rect, cells: [], blobs: [], blobCount: 0, snapshotFlush: -1 };
      this.viewers.set(session, item);
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

  private unwatch(item: ViewerItem): void {
    const w = this.watchers[item.level]!;
    for (const key of item.cells) {
      const set = w.get(key)!;
      set.delete(item);
      if (set.size === 0) w.delete(key);
    }
  }

  /** Record a move (latest wins until the next flush). Positions outside the canvas hide the cursor. */
  move(session: ClientSession, x: number, y: number, hidden: boolean): void {
    const visible = !hidden && x < this.width && y < this.height;
    let rec = this.cursors.get(session.id);
    if (!rec) {
      if (!visible) return;
      rec = { session, id: session.id, x, y, cells: new Array<number>(this.topLevel + 1).fill(-1), movedAt: 0, movedEpoch: 0, wasMember: 0, isMember: 0 };
      this.cursors.set(session.id, rec);
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

  /** The session left: its cursor is removed from its cells' viewers at the next flush. */
  remove(session: ClientSession): void {
    this.setViewer(session, null);
    const rec = this.cursors.get(session.id);
    if (!rec) return;
    this.move(session, 0, 0, true);
    this.cursors.delete(session.id);
  }

  /**
   * This flush's CURSORS message for each viewer that has one, handed to `sink`. `snapshots` are viewers
   * that get their full cursor state instead of the cell blobs (their view moved, or they caught up from
   * stale); stale viewers get nothing. `cells` false: snapshots only (they go out on the tick that applied
   * the view; the cell blobs wait for the cursor cadence). A snapshot shows each cell's members as last
   * sent, so the next blobs apply on top of it. What is allocated grows with the cells that changed, not
   * with the viewers: their blob lists and parts are reused, and message heads are shared.
   */
  flush(lookup: ViewerLookup, snapshots: Iterable<ClientSession>, cells: boolean, sink: CursorSink): void {
    const now = this.clock();
    const flushNo = ++this.flushNo;
    const snap: ViewerItem[] = [];
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
          const v = item.session;
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
        sink(item.session, parts, assembleParts(item.blobs, item.blobCount, parts));
        releaseBlobs(item);
      }
      if (snap.length > 0) {
        // Named member lists, encoded once per (level, cell) for all the snapshots of this flush.
        const named = new Map<number, Blob>();
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
          sink(item.session, parts, assembleParts(item.blobs, item.blobCount, parts));
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
  private update(cell: Cell, key: number, k: number, now: number): Blob | null {
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
function releaseBlobs(item: ViewerItem): void {
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
const RESET: Blob = { records: EMPTY, recordCount: 0, removed: [CURSOR_RESET_ID] };
/** A membership stamp no record has (stamps start at 1): every record is named. */
const NAME_ALL = -1;

/** Encodes records, naming those that were not members at stamp `was` (new members); NAME_ALL names all. */
function encodeRecords(recs: CursorRec[], was: number, removed: number[]): Blob {
  let size = 0;
  for (const rec of recs) size += RECORD_BYTES + (rec.wasMember !== was ? rec.session.nameBytes.length : 0);
  const b = new Uint8Array(size);
  let o = 0;
  for (const rec of recs) {
    const name = rec.wasMember !== was ? rec.session.nameBytes : null;
    const id = rec.id;
    b[o] = id & 0xff; b[o + 1] = (id >>> 8) & 0xff; b[o + 2] = (id >>> 16) & 0xff; b[o + 3] = (id >>> 24) & 0xff;
    b[o + 4] = rec.x & 0xff; b[o + 5] = rec.x >>> 8;
    b[o + 6] = rec.y & 0xff; b[o + 7] = rec.y >>> 8;
    const n = name ? name.length : 0;
    b[o + 8] = n;
    if (name) b.set(name, o + 9);
    o += RECORD_BYTES + n;
  }
  return { records: b, recordCount: recs.length, removed };
}

const ZERO_REMOVED = new Uint8Array(2);
/** Message heads by (body length, record count): immutable, shared by every viewer whose message has that shape. */
const heads = new Map<number, Uint8Array>();
const HEADS_KEPT = 4096;

function headOf(body: number, recordCount: number): Uint8Array {
  const key = body * 65536 + recordCount;
  let head = heads.get(key);
  if (head === undefined) {
    if (heads.size >= HEADS_KEPT) heads.clear();
    head = new Uint8Array(HEADER_BYTES + 2);
    head[0] = Op.CURSORS;
    head[1] = body & 0xff;
    head[2] = body >>> 8;
    head[3] = recordCount & 0xff;
    head[4] = recordCount >>> 8;
    heads.set(key, head);
  }
  return head;
}

/** The CURSORS tail for removed ids: u16 count, then each id as u32. */
function removedTail(blobs: readonly Blob[], count: number, removedCount: number): Uint8Array {
  const tail = new Uint8Array(2 + 4 * removedCount);
  tail[0] = removedCount & 0xff;
  tail[1] = removedCount >>> 8;
  let at = 2;
  for (let i = 0; i < count; i++) {
    for (const id of blobs[i]!.removed) {
      tail[at] = id & 0xff; tail[at + 1] = (id >>> 8) & 0xff; tail[at + 2] = (id >>> 16) & 0xff; tail[at + 3] = (id >>> 24) & 0xff;
      at += 4;
    }
  }
  return tail;
}

/**
 * blobs[0..count) as the parts of ONE CURSORS message, written into `into` from index 0; returns how many.
 * The parts are written back to back: a 5-byte head (shared), the blobs' record bytes as they are (encoded
 * once per cell, referenced by every viewer), and the removed ids (a shared "none" when there are none, the
 * blob's own tail when one blob holds them all). The tick's write copies each part once into the frame. A
 * flush too big for one message (rare) goes through `assemble`, which splits it.
 */
export function assembleParts(blobs: readonly Blob[], count: number, into: Uint8Array[]): number {
  let recordBytes = 0;
  let recordCount = 0;
  let removedCount = 0;
  let remover: Blob | null = null;
  for (let i = 0; i < count; i++) {
    const b = blobs[i]!;
    recordBytes += b.records.length;
    recordCount += b.recordCount;
    if (b.removed.length > 0) {
      remover = removedCount === 0 ? b : null;
      removedCount += b.removed.length;
    }
  }
  const body = 4 + recordBytes + 4 * removedCount;
  if (body > MAX_BODY_BYTES || recordCount > 0xffff) {
    into[0] = assemble(blobs.slice(0, count));
    return 1;
  }
  let n = 0;
  into[n++] = headOf(body, recordCount);
  for (let i = 0; i < count; i++) if (blobs[i]!.records.length > 0) into[n++] = blobs[i]!.records;
  if (removedCount === 0) into[n++] = ZERO_REMOVED;
  else if (remover !== null) into[n++] = remover.tail ??= removedTail([remover], 1, removedCount);
  else into[n++] = removedTail(blobs, count, removedCount);
  return n;
}

/**
 * One or more CURSORS messages holding all the blobs' records and removed ids. Clients apply `removed`
 * before `moved`, so a cursor that left one cell and entered another in the same flush ends up present, and
 * a snapshot's reset marker (its first blob's removed id) lands in the first message. All removals are
 * written before all records, so splitting over several messages keeps that meaning.
 */
export function assemble(blobs: Blob[]): Uint8Array {
  const messages: Uint8Array[] = [];
  let records: Uint8Array[] = [];
  let recordBytes = 0;
  let recordCount = 0;
  let removed: number[] = [];
  const flush = () => {
    const body = 4 + recordBytes + 4 * removed.length;
    const msg = new Uint8Array(HEADER_BYTES + body);
    const view = new DataView(msg.buffer);
    msg[0] = Op.CURSORS;
    view.setUint16(1, body, true);
    view.setUint16(3, recordCount, true);
    let at = 5;
    for (const r of records) {
      msg.set(r, at);
      at += r.length;
    }
    view.setUint16(at, removed.length, true);
    at += 2;
    for (const id of removed) {
      view.setUint32(at, id, true);
      at += 4;
    }
    messages.push(msg);
    records = [];
    recordBytes = 0;
    recordCount = 0;
    removed = [];
  };
  const room = () => MAX_BODY_BYTES - 4 - recordBytes - 4 * removed.length;
  // Every removal before any record, across all blobs: when the output has to be split over several
  // messages, a cursor's removal from one cell can then never land after its record in another.
  for (const b of blobs) {
    for (const id of b.removed) {
      if (room() < 4) flush();
      removed.push(id);
    }
  }
  for (const b of blobs) {
    if (b.records.length <= room() && recordCount + b.recordCount <= 0xffff) {
      records.push(b.records);
      recordBytes += b.records.length;
      recordCount += b.recordCount;
    } else {
      // Rare: split the blob record by record.
      let o = 0;
      while (o < b.records.length) {
        const len = RECORD_BYTES + b.records[o + 8]!;
        if (room() < len) flush();
        records.push(b.records.subarray(o, o + len));
        recordBytes += len;
        recordCount++;
        o += len;
      }
    }
  }
  if (recordCount > 0 || removed.length > 0 || messages.length === 0) flush();
  let total = 0;
  for (const m of messages) total += m.length;
  return joinParts(messages, total);
}
