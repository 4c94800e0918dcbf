/**
 * Others' cursors, shown to those who see them. Cursor moves are coalesced between ticks (latest position
 * wins) and, once per tick, each moved cursor's record is encoded once and appended to every viewer whose
 * viewport contains it. A grid of 256-px cells answers "which cursors are inside this rectangle" when a
 * viewer's viewport moves, so that work grows with the viewer's area, not with the number of users.
 */
import { Op, HEADER_BYTES, MAX_BODY_BYTES } from '../net/protocol.js';
import type { ClientSession } from '../realtime/client-session.js';
import type { PixelRect } from '../subscriptions/viewport-index.js';

const CELL_SHIFT = 8;
const CELL_SIZE = 1 << CELL_SHIFT;
/** Record size without the name: id u32, x u16, y u16, nameLen u8. */
const RECORD_BYTES = 9;

interface CursorRec {
  readonly session: ClientSession;
  readonly id: number;
  x: number;
  y: number;
  visible: boolean;
  cell: number;
  /** Viewers currently showing this cursor (including stale ones, resynced when they catch up). */
  seenBy: Set<ClientSession>;
  /** Encoded records for this tick, built lazily: without and with the name. */
  plain: Uint8Array | null;
  named: Uint8Array | null;
}

/** Per-viewer accumulation for one tick. */
interface ViewerOut {
  records: Uint8Array[];
  bytes: number;
  removed: number[];
}

function cellOf(x: number, y: number): number {
  return (y >>> CELL_SHIFT) * 65536 + (x >>> CELL_SHIFT);
}

export interface ViewerLookup {
  /** Sessions whose viewport contains pixel (x, y). */
  subscribersAt(x: number, y: number): ClientSession[];
  rectOf(session: ClientSession): PixelRect | null;
  seesPixel(session: ClientSession, x: number, y: number): boolean;
  /** True if this viewer must get nothing now (backpressure); it is resynced in full when it catches up. */
  isStale(session: ClientSession): boolean;
}

export class CursorTable {
  private readonly cursors = new Map<number, CursorRec>();
  private readonly grid = new Map<number, Set<CursorRec>>();
  private readonly moved = new Set<CursorRec>();
  /** Cursors whose owner left, still to be removed from their viewers' screens at the next flush. */
  private departed: CursorRec[] = [];
  private readonly outs = new Map<ClientSession, ViewerOut>();
  /** Swapped with a cursor's seenBy on every move, so a move allocates no Set. */
  private scratch = new Set<ClientSession>();

  constructor(private readonly width: number, private readonly height: number) {}

  get size(): number {
    return this.cursors.size;
  }

  /** Record a move (latest wins until the next flush). Positions outside the canvas hide the cursor. */
  move(session: ClientSession, x: number, y: number, hidden: boolean): void {
    let rec = this.cursors.get(session.id);
    const visible = !hidden && x < this.width && y < this.height;
    if (!rec) {
      if (!visible) return;
      rec = { session, id: session.id, x, y, visible: false, cell: -1, seenBy: new Set(), plain: null, named: null };
      this.cursors.set(session.id, rec);
    }
    if (rec.visible) this.unindex(rec);
    rec.x = x;
    rec.y = y;
    rec.visible = visible;
    if (visible) this.index(rec);
    this.moved.add(rec);
  }

  /** The session left: its cursor disappears for everyone who showed it (at the next flush); its own view state goes now. */
  remove(session: ClientSession): void {
    const rec = this.cursors.get(session.id);
    if (rec) {
      if (rec.visible) this.unindex(rec);
      this.cursors.delete(session.id);
      this.moved.delete(rec);
      if (rec.seenBy.size > 0) this.departed.push(rec);
    }
    // Forget this viewer in every cursor it was showing.
    for (const id of session.visibleCursors) this.cursors.get(id)?.seenBy.delete(session);
    session.visibleCursors.clear();
    this.outs.delete(session);
  }

  /** True if a flush would produce anything. */
  get hasWork(): boolean {
    return this.moved.size > 0 || this.departed.length > 0;
  }

  /**
   * Work out, for this tick, what every viewer must be told; returns the viewers with something to send.
   * `resync` maps viewers whose shown set must be recomputed to whether the resync is full (after catching up
   * from stale: positions of kept cursors are re-sent too) or a diff (after a viewport move).
   * Stale viewers are told nothing and keep their shown set as it was, so the full resync can repair it.
   */
  flush(viewers: ViewerLookup, resync: Map<ClientSession, boolean>): Map<ClientSession, Uint8Array> {
    for (const rec of this.departed) {
      for (const v of rec.seenBy) {
        if (v.phase !== 'ready' || viewers.isStale(v)) continue; // a stale viewer finds it gone at resync
        v.visibleCursors.delete(rec.id);
        this.out(v).removed.push(rec.id);
      }
    }
    this.departed = [];

    for (const rec of this.moved) {
      rec.plain = rec.named = null;
      const next = this.scratch;
      if (rec.visible) {
        for (const v of viewers.subscribersAt(rec.x, rec.y)) {
          if (v === rec.session || v.phase !== 'ready') continue;
          if (viewers.isStale(v)) {
            if (rec.seenBy.has(v)) next.add(v);
            continue;
          }
          next.add(v);
          const entering = !v.visibleCursors.has(rec.id);
          if (entering) v.visibleCursors.add(rec.id);
          this.addRecord(v, rec, entering);
        }
      }
      for (const v of rec.seenBy) {
        if (next.has(v) || v.phase !== 'ready') continue;
        if (viewers.isStale(v)) {
          next.add(v);
          continue;
        }
        v.visibleCursors.delete(rec.id);
        this.out(v).removed.push(rec.id);
      }
      rec.seenBy.clear();
      this.scratch = rec.seenBy;
      rec.seenBy = next;
    }
    this.moved.clear();
    for (const [v, full] of resync) this.resyncViewer(v, viewers, full);

    const result = new Map<ClientSession, Uint8Array>();
    for (const [v, o] of this.outs) {
      if (o.records.length > 0 || o.removed.length > 0) for (const m of encodeCursorsMessages(o)) {
        const prev = result.get(v);
        result.set(v, prev ? concat(prev, m) : m);
      }
    }
    this.outs.clear();
    return result;
  }

  /** Recompute what viewer v shows from its current viewport: enter what is inside, remove what is not. */
  private resyncViewer(v: ClientSession, viewers: ViewerLookup, full: boolean): void {
    if (v.phase !== 'ready' || viewers.isStale(v)) return;
    for (const id of v.visibleCursors) {
      const rec = this.cursors.get(id);
      if (rec && rec.visible && viewers.seesPixel(v, rec.x, rec.y)) {
        if (full) {
          // It may have moved while v was stale: say where it is now.
          rec.seenBy.add(v);
          rec.plain = rec.named = null;
          this.addRecord(v, rec, false);
        }
        continue;
      }
      v.visibleCursors.delete(id);
      rec?.seenBy.delete(v);
      this.out(v).removed.push(id);
    }
    const r = viewers.rectOf(v);
    if (!r) return;
    const x1 = r.x + r.w - 1;
    const y1 = r.y + r.h - 1;
    for (let cy = r.y >>> CELL_SHIFT; cy <= y1 >>> CELL_SHIFT; cy++) {
      for (let cx = r.x >>> CELL_SHIFT; cx <= x1 >>> CELL_SHIFT; cx++) {
        const cell = this.grid.get(cy * 65536 + cx);
        if (!cell) continue;
        for (const rec of cell) {
          if (rec.session === v || v.visibleCursors.has(rec.id)) continue;
          if (rec.x < r.x || rec.x > x1 || rec.y < r.y || rec.y > y1) continue;
          v.visibleCursors.add(rec.id);
          rec.seenBy.add(v);
          rec.plain = rec.named = null; // position may have been encoded for an earlier tick
          this.addRecord(v, rec, true);
        }
      }
    }
  }

  private addRecord(v: ClientSession, rec: CursorRec, withName: boolean): void {
    let bytes: Uint8Array;
    if (withName && rec.session.nameBytes.length > 0) bytes = rec.named ??= encodeRecord(rec, rec.session.nameBytes);
    else bytes = rec.plain ??= encodeRecord(rec, null);
    const o = this.out(v);
    o.records.push(bytes);
    o.bytes += bytes.length;
  }

  private out(v: ClientSession): ViewerOut {
    let o = this.outs.get(v);
    if (!o) {
      o = { records: [], bytes: 0, removed: [] };
      this.outs.set(v, o);
    }
    return o;
  }

  private index(rec: CursorRec): void {
    rec.cell = cellOf(rec.x, rec.y);
    let set = this.grid.get(rec.cell);
    if (!set) this.grid.set(rec.cell, (set = new Set()));
    set.add(rec);
  }

  private unindex(rec: CursorRec): void {
    const set = this.grid.get(rec.cell);
    if (set) {
      set.delete(rec);
      if (set.size === 0) this.grid.delete(rec.cell);
    }
    rec.cell = -1;
  }
}

function encodeRecord(rec: CursorRec, name: Uint8Array | null): Uint8Array {
  const n = name ? name.length : 0;
  const b = new Uint8Array(RECORD_BYTES + n);
  const id = rec.session.id;
  b[0] = id & 0xff; b[1] = (id >>> 8) & 0xff; b[2] = (id >>> 16) & 0xff; b[3] = (id >>> 24) & 0xff;
  b[4] = rec.x & 0xff; b[5] = rec.x >>> 8;
  b[6] = rec.y & 0xff; b[7] = rec.y >>> 8;
  b[8] = n;
  if (name) b.set(name, RECORD_BYTES);
  return b;
}

/** Assemble CURSORS messages from pre-encoded records, split so no body exceeds the u16 length. */
function encodeCursorsMessages(o: ViewerOut): Uint8Array[] {
  const messages: Uint8Array[] = [];
  let i = 0;
  let r = 0;
  do {
    let body = 4;
    const start = i;
    while (i < o.records.length && body + o.records[i]!.length <= MAX_BODY_BYTES - 4) body += o.records[i++]!.length;
    const removedStart = r;
    while (r < o.removed.length && body + 4 <= MAX_BODY_BYTES) { body += 4; r++; }
    const msg = new Uint8Array(HEADER_BYTES + body);
    const view = new DataView(msg.buffer);
    msg[0] = Op.CURSORS;
    view.setUint16(1, body, true);
    view.setUint16(3, i - start, true);
    let at = 5;
    for (let k = start; k < i; k++) {
      msg.set(o.records[k]!, at);
      at += o.records[k]!.length;
    }
    view.setUint16(at, r - removedStart, true);
    at += 2;
    for (let k = removedStart; k < r; k++) {
      view.setUint32(at, o.removed[k]!, true);
      at += 4;
    }
    messages.push(msg);
  } while (i < o.records.length || r < o.removed.length);
  return messages;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const c = new Uint8Array(a.length + b.length);
  c.set(a, 0);
  c.set(b, a.length);
  return c;
}

export { CELL_SIZE };
