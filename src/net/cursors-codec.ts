/**
 * CURSORS (server → client), the one encoder of it: u16 count · count × { u32 id · u16 x · u16 y · u8 nameLen ·
 * name } · u16 removedCount · removedCount × u32 id. Its decoder is decodeServerMessages in ./protocol.ts.
 *
 * Two ways in. `encodeCursors` takes entries with string names (clients of the library, tests). The cursor
 * flush (src/presence) instead pre-encodes each cell's records once as a `CursorBlob` and sends every viewer
 * the blobs of its cells as the parts of one message (`assembleParts`): a shared head, the blobs' record
 * bytes as they are, the removed ids. Both write records with `writeCursorRecord`.
 */
import { HEADER_BYTES, MAX_BODY_BYTES, Op } from './wire-vocabulary.js';
import { utf8Truncate } from './wire-io.js';

/** One cursor of a CURSORS message, with its name as a string (the library's and tests' form). */
export interface CursorEntry { id: number; x: number; y: number; name: string }

/** Record size without the name: id u32, x u16, y u16, nameLen u8. */
export const CURSOR_RECORD_BYTES = 9;
/** In CURSORS.removed, "forget every cursor you know, then apply this message" (client ids start at 1). */
export const CURSOR_RESET_ID = 0;

/** Pre-encoded records (CURSOR_RECORD_BYTES + name each) and removed ids, shared by every viewer they go to. */
export interface CursorBlob {
  records: Uint8Array;
  recordCount: number;
  removed: number[];
  /** The CURSORS tail (u16 count, u32 ids) of `removed` alone, built once for the viewers it is the only removal of. */
  tail?: Uint8Array;
}

/** Writes one record at `o` (the caller sized `b`); returns the offset after it. */
export function writeCursorRecord(b: Uint8Array, o: number, id: number, x: number, y: number, name: Uint8Array | null): number {
  b[o] = id & 0xff; b[o + 1] = (id >>> 8) & 0xff; b[o + 2] = (id >>> 16) & 0xff; b[o + 3] = (id >>> 24) & 0xff;
  b[o + 4] = x & 0xff; b[o + 5] = x >>> 8;
  b[o + 6] = y & 0xff; b[o + 7] = y >>> 8;
  const n = name ? name.length : 0;
  b[o + 8] = n;
  if (name) b.set(name, o + 9);
  return o + CURSOR_RECORD_BYTES + n;
}

const EMPTY = new Uint8Array(0);

/** Cursor name bytes are cached by the caller when it sends the same names often; this takes strings for clarity. */
export function encodeCursors(moved: readonly CursorEntry[], removed: readonly number[]): Uint8Array {
  const names = moved.map((c) => (c.name ? utf8Truncate(c.name, 255) : EMPTY));
  let recordBytes = 0;
  for (const n of names) recordBytes += CURSOR_RECORD_BYTES + n.length;
  const body = 4 + recordBytes + 4 * removed.length;
  if (body > MAX_BODY_BYTES) throw new RangeError(`message body of ${body} bytes exceeds ${MAX_BODY_BYTES}`);
  const bytes = new Uint8Array(HEADER_BYTES + body);
  writeHead(bytes, body, moved.length);
  let o = HEADER_BYTES + 2;
  for (let i = 0; i < moved.length; i++) {
    const c = moved[i]!;
    o = writeCursorRecord(bytes, o, c.id, c.x, c.y, names[i]!);
  }
  writeRemoved(bytes, o, removed);
  return bytes;
}

/** Op, u16 body length, u16 record count: the first five bytes of every CURSORS message. */
function writeHead(b: Uint8Array, body: number, recordCount: number): void {
  b[0] = Op.CURSORS;
  b[1] = body & 0xff;
  b[2] = body >>> 8;
  b[3] = recordCount & 0xff;
  b[4] = recordCount >>> 8;
}

/** u16 count, then each id as u32, at `at`. */
function writeRemoved(b: Uint8Array, at: number, ids: readonly number[]): number {
  b[at] = ids.length & 0xff;
  b[at + 1] = ids.length >>> 8;
  at += 2;
  for (const id of ids) {
    b[at] = id & 0xff; b[at + 1] = (id >>> 8) & 0xff; b[at + 2] = (id >>> 16) & 0xff; b[at + 3] = (id >>> 24) & 0xff;
    at += 4;
  }
  return at;
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
    writeHead(head, body, recordCount);
    heads.set(key, head);
  }
  return head;
}

/** The CURSORS tail for the removed ids of blobs[0..count). */
function removedTail(blobs: readonly CursorBlob[], count: number, removedCount: number): Uint8Array {
  const ids: number[] = new Array(removedCount);
  let n = 0;
  for (let i = 0; i < count; i++) for (const id of blobs[i]!.removed) ids[n++] = id;
  const tail = new Uint8Array(2 + 4 * removedCount);
  writeRemoved(tail, 0, ids);
  return tail;
}

/**
 * blobs[0..count) as the parts of ONE CURSORS message, written into `into` from index 0; returns how many.
 * The parts are written back to back: a 5-byte head (shared), the blobs' record bytes as they are (encoded
 * once per cell, referenced by every viewer), and the removed ids (a shared "none" when there are none, the
 * blob's own tail when one blob holds them all). The tick's write copies each part once into the frame. A
 * flush too big for one message (rare) goes through `assemble`, which splits it.
 */
export function assembleParts(blobs: readonly CursorBlob[], count: number, into: Uint8Array[]): number {
  let recordBytes = 0;
  let recordCount = 0;
  let removedCount = 0;
  let remover: CursorBlob | null = null;
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
 * One or more CURSORS messages (back to back in one array) holding all the blobs' records and removed ids.
 * Clients apply `removed` before `moved`, so a cursor that left one cell and entered another in the same
 * flush ends up present, and a snapshot's reset marker (its first blob's removed id) lands in the first
 * message. All removals are written before all records, so splitting over several messages keeps that meaning.
 */
export function assemble(blobs: readonly CursorBlob[]): Uint8Array {
  const messages: Uint8Array[] = [];
  let records: Uint8Array[] = [];
  let recordBytes = 0;
  let recordCount = 0;
  let removed: number[] = [];
  const flush = () => {
    const body = 4 + recordBytes + 4 * removed.length;
    const msg = new Uint8Array(HEADER_BYTES + body);
    writeHead(msg, body, recordCount);
    let at = HEADER_BYTES + 2;
    for (const r of records) {
      msg.set(r, at);
      at += r.length;
    }
    writeRemoved(msg, at, removed);
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
        const len = CURSOR_RECORD_BYTES + b.records[o + 8]!;
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
  const out = new Uint8Array(total);
  let o = 0;
  for (const m of messages) {
    out.set(m, o);
    o += m.length;
  }
  return out;
}
