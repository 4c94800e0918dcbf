/**
 * Others' cursors, shown to those who see them — fanned out the way chunk deltas are.
 *
 * The canvas is cut into 64-px cursor cells (the chunk grid: small enough that a zoomed-in viewer is not sent
 * a crowd far outside its view, and the same cells the delta fan-out queries). Moves are coalesced between ticks (latest position wins);
 * once per tick each cell with activity encodes ONE blob (records of cursors that moved in it or entered it,
 * ids of cursors that left it), and that blob is appended to every viewer whose viewport touches the cell.
 * Work per tick is one index query per active cell plus one append per (active cell, viewer) pair; nothing
 * is tracked per (cursor, viewer), so it grows with what is visible and moving, not with users squared.
 *
 * A viewer therefore learns about every cursor in the cells its view touches (a little beyond its view);
 * clients show the ones inside their view. When its view moves, or it catches up after being stale, a viewer
 * gets a cursor snapshot instead: a reset marker (id 0 in `removed`) and every cursor in its cells, named.
 */
import { HEADER_BYTES, MAX_BODY_BYTES, Op } from '../net/protocol.js';
import type { ClientSession } from '../realtime/client-session.js';
import type { PixelRect } from '../subscriptions/viewport-index.js';

export const CELL_SHIFT = 6;
export const CELL_SIZE = 1 << CELL_SHIFT;
/** Record size without the name: id u32, x u16, y u16, nameLen u8. */
const RECORD_BYTES = 9;
/** In CURSORS.removed, "forget every cursor you know, then apply this message" (client ids start at 1). */
export const CURSOR_RESET_ID = 0;

interface CursorRec {
  readonly session: ClientSession;
  readonly id: number;
  x: number;
  y: number;
  /** Cell key, or -1 when hidden. */
  cell: number;
}

/** What one cell must tell its viewers this tick. */
interface CellActivity {
  moved: Set<CursorRec>;
  entered: Set<CursorRec>;
  removed: number[];
}

/** One tick's blob of a cell: pre-encoded records and removed ids. */
interface Blob {
  records: Uint8Array;
  recordCount: number;
  removed: number[];
}

export interface ViewerLookup {
  /** Sessions whose viewport touches the inclusive pixel box. */
  subscribersIn(minX: number, minY: number, maxX: number, maxY: number): ClientSession[];
  rectOf(session: ClientSession): PixelRect | null;
  /** True if this viewer must get nothing now (backpressure); it gets a snapshot when it catches up. */
  isStale(session: ClientSession): boolean;
}

function cellKey(cx: number, cy: number): number {
  return cy * 65536 + cx;
}

export class CursorTable {
  private readonly cursors = new Map<number, CursorRec>();
  private readonly cells = new Map<number, Set<CursorRec>>();
  private readonly activity = new Map<number, CellActivity>();

  constructor(private readonly width: number, private readonly height: number) {}

  get size(): number {
    return this.cursors.size;
  }

  /** True if a flush would produce anything for viewers already in place. */
  get hasWork(): boolean {
    return this.activity.size > 0;
  }

  /** Record a move (latest wins until the next flush). Positions outside the canvas hide the cursor. */
  move(session: ClientSession, x: number, y: number, hidden: boolean): void {
    const visible = !hidden && x < this.width && y < this.height;
    let rec = this.cursors.get(session.id);
    if (!rec) {
      if (!visible) return;
      rec = { session, id: session.id, x, y, cell: -1 };
      this.cursors.set(session.id, rec);
    }
    const from = rec.cell;
    const to = visible ? cellKey(x >>> CELL_SHIFT, y >>> CELL_SHIFT) : -1;
    rec.x = x;
    rec.y = y;
    if (from === to) {
      if (to >= 0) this.act(to).moved.add(rec);
      return;
    }
    if (from >= 0) {
      this.cells.get(from)!.delete(rec);
      if (this.cells.get(from)!.size === 0) this.cells.delete(from);
      const a = this.act(from);
      a.moved.delete(rec);
      a.entered.delete(rec);
      a.removed.push(rec.id);
    }
    rec.cell = to;
    if (to >= 0) {
      let set = this.cells.get(to);
      if (!set) this.cells.set(to, (set = new Set()));
      set.add(rec);
      this.act(to).entered.add(rec);
    }
  }

  /** The session left: its cursor is removed from its cell's viewers at the next flush. */
  remove(session: ClientSession): void {
    const rec = this.cursors.get(session.id);
    if (!rec) return;
    this.move(session, 0, 0, true);
    this.cursors.delete(session.id);
  }

  /**
   * This tick's CURSORS bytes per viewer. `snapshots` are viewers that get their full cursor state instead of
   * the cell blobs (their view moved, or they caught up from stale); stale viewers get nothing.
   */
  flush(viewers: ViewerLookup, snapshots: Iterable<ClientSession>): Map<ClientSession, Uint8Array> {
    const perViewer = new Map<ClientSession, Blob[]>();
    const snap = new Set<ClientSession>();
    for (const v of snapshots) if (v.phase === 'ready' && !viewers.isStale(v)) snap.add(v);

    for (const [key, a] of this.activity) {
      const blob = encodeBlob(a, key);
      if (blob.recordCount === 0 && blob.removed.length === 0) continue;
      const x0 = (key % 65536) << CELL_SHIFT;
      const y0 = Math.floor(key / 65536) << CELL_SHIFT;
      for (const v of viewers.subscribersIn(x0, y0, x0 + CELL_SIZE - 1, y0 + CELL_SIZE - 1)) {
        if (v.phase !== 'ready' || snap.has(v) || viewers.isStale(v)) continue;
        const list = perViewer.get(v);
        if (list) list.push(blob);
        else perViewer.set(v, [blob]);
      }
    }
    this.activity.clear();

    const out = new Map<ClientSession, Uint8Array>();
    for (const [v, blobs] of perViewer) out.set(v, assemble(blobs));
    for (const v of snap) {
      const r = viewers.rectOf(v);
      out.set(v, assemble([this.snapshotBlob(r)]));
    }
    return out;
  }

  /** Every cursor in the cells a rect touches, named. */
  private snapshotBlob(r: PixelRect | null): Blob {
    const recs: CursorRec[] = [];
    if (r) {
      const cx1 = (r.x + r.w - 1) >>> CELL_SHIFT;
      const cy1 = (r.y + r.h - 1) >>> CELL_SHIFT;
      for (let cy = r.y >>> CELL_SHIFT; cy <= cy1; cy++) {
        for (let cx = r.x >>> CELL_SHIFT; cx <= cx1; cx++) {
          const cell = this.cells.get(cellKey(cx, cy));
          if (cell) for (const rec of cell) recs.push(rec);
        }
      }
    }
    return encodeRecords(recs, new Set(recs), [CURSOR_RESET_ID]);
  }

  private act(key: number): CellActivity {
    let a = this.activity.get(key);
    if (!a) {
      a = { moved: new Set(), entered: new Set(), removed: [] };
      this.activity.set(key, a);
    }
    return a;
  }
}

/** A cell's blob: records of cursors still in it (named if they entered it this tick), and removed ids. */
function encodeBlob(a: CellActivity, key: number): Blob {
  const recs: CursorRec[] = [];
  for (const rec of a.entered) if (rec.cell === key) recs.push(rec);
  for (const rec of a.moved) if (rec.cell === key && !a.entered.has(rec)) recs.push(rec);
  return encodeRecords(recs, a.entered, a.removed);
}

function encodeRecords(recs: CursorRec[], named: Set<CursorRec>, removed: number[]): Blob {
  let size = 0;
  for (const rec of recs) size += RECORD_BYTES + (named.has(rec) ? rec.session.nameBytes.length : 0);
  const b = new Uint8Array(size);
  let o = 0;
  for (const rec of recs) {
    const name = named.has(rec) ? rec.session.nameBytes : null;
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

/**
 * One or more CURSORS messages holding all the blobs' records and removed ids. Clients apply `removed`
 * before `moved`, so a cursor that left one cell and entered another in the same tick ends up present, and
 * a snapshot's reset marker (its blob's first removed id) lands in the first message. All removals are
 * written before all records, so splitting over several messages keeps that meaning.
 */
function assemble(blobs: Blob[]): Uint8Array {
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
  if (messages.length === 1) return messages[0]!;
  let total = 0;
  for (const m of messages) total += m.length;
  const all = new Uint8Array(total);
  let at = 0;
  for (const m of messages) {
    all.set(m, at);
    at += m.length;
  }
  return all;
}
