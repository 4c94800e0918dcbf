/**
 * The public entry of the wire protocol of pixel-canvas: server → client messages here, and the rest
 * re-exported from the files that own it — the vocabulary (opcodes, error and close codes) in
 * wire-vocabulary.ts, client messages in client-messages.ts, WELCOME in welcome-codec.ts, music mode in
 * music-protocol.ts. Imports nothing from ws or the server, so the browser client, bots, tests and benches
 * share it; importers need only this module.
 *
 * Framing (see docs/protocol.md): every message is `op u8 | bodyLength u16 LE | body`. All integers are
 * little-endian. A WebSocket message from a client holds exactly one protocol message; a WebSocket message
 * from the server holds one or more, back to back (that is how a tick is one write per client).
 */

import { HEADER_BYTES, Op, opName, protocolError } from './wire-vocabulary.js';
import { BodyReader, EMPTY, frame, readHeader, toView, utf8Truncate } from './wire-io.js';
import {
  type ClientMessage, encodeCursor, encodeHello, encodeLodViewport, encodePing, encodePlace, encodeResume, encodeViewport,
} from './client-messages.js';
import { type Welcome, encodeWelcome, readWelcome } from './welcome-codec.js';
import { type Tempo, encodeTempo, readTempo } from './music-protocol.js';

export {
  CloseCode, type CloseCodeValue, ERROR_CLOSE_CODE, ErrorCode, type ErrorCodeName, HEADER_BYTES, MAX_BODY_BYTES, Op, type OpCode,
  PROTOCOL_VERSION, ProtocolError, SESSION_TOKEN_BYTES, SnapshotEncoding, WelcomeExtension, errorName, opName, protocolError,
} from './wire-vocabulary.js';
export { utf8Truncate } from './wire-io.js';
// CURSORS: one encoder, in ./cursors-codec.ts (the cursor flush sends it in shared parts); its decoder is below.
export { type CursorEntry, encodeCursors } from './cursors-codec.js';
import { type CursorEntry, encodeCursors } from './cursors-codec.js';
export * from './client-messages.js';
export { type Limits, type MessageBudgetInfo, type SessionInfo, type PaintAllowance, type Welcome, encodeWelcome } from './welcome-codec.js';
export { type MusicInfo, type Tempo, type WirePattern, type WirePatternSwitch, type WireTempoSegment, encodeTempo } from './music-protocol.js';

export interface Snapshot { type: 'snapshot'; cx: number; cy: number; version: number; encoding: number; data: Uint8Array }
export interface Delta { type: 'delta'; cx: number; cy: number; version: number; offsets: Uint16Array; colors: Uint8Array }
export interface PlaceResult { type: 'placeResult'; seq: number; status: number; count: number; retryAfterMs: number }
export interface Cursors { type: 'cursors'; moved: CursorEntry[]; removed: number[] }
/** `level` and `cadence` were appended to the body later (docs/protocol.md, ONLINE): absent from older servers. */
export interface Online { type: 'online'; count: number; level?: number; cadence?: number }
export interface ErrorMessage { type: 'error'; code: number; op: number; message: string }
export interface Pong { type: 'pong'; nonce: number; serverTime: number }

/** A level-of-detail chunk: (cx, cy) in level-`level` chunk coordinates (see docs/protocol.md). */
export interface LodSnapshot { type: 'lodSnapshot'; level: number; cx: number; cy: number; version: number; encoding: number; data: Uint8Array }
export interface LodDelta { type: 'lodDelta'; level: number; cx: number; cy: number; version: number; offsets: Uint16Array; colors: Uint8Array }

export type ServerMessage = Welcome | Snapshot | Delta | PlaceResult | Cursors | Online | ErrorMessage | Pong | LodSnapshot | LodDelta | Tempo;
export type Message = ClientMessage | ServerMessage;

// ---------------------------------------------------------------------------------------------------------
// Encoding

/** Longest text in ERROR messages, in bytes (the rest is cut at a character boundary). */
const MAX_ERROR_TEXT_BYTES = 200;

export function encodeChunkSnapshot(cx: number, cy: number, version: number, encoding: number, data: Uint8Array): Uint8Array {
  const { bytes, view } = frame(Op.SNAPSHOT, 9 + data.length);
  view.setUint16(3, cx, true);
  view.setUint16(5, cy, true);
  view.setUint32(7, version, true);
  view.setUint8(11, encoding);
  bytes.set(data, 12);
  return bytes;
}

/** A chunk's delta: the first `count` entries of offsets/colors. Encoded once per tick, sent to many. */
export function encodeChunkDelta(
  cx: number, cy: number, version: number, offsets: ArrayLike<number>, colors: ArrayLike<number>, count: number,
): Uint8Array {
  const { bytes, view } = frame(Op.DELTA, 10 + 3 * count);
  writeDeltaBody(bytes, view, HEADER_BYTES, cx, cy, version, offsets, colors, count);
  return bytes;
}

/** DELTA's body from `at` (LOD_DELTA's after its level byte): cx, cy, version, count, then offset/colour pairs. */
function writeDeltaBody(
  bytes: Uint8Array, view: DataView, at: number,
  cx: number, cy: number, version: number, offsets: ArrayLike<number>, colors: ArrayLike<number>, count: number,
): void {
  view.setUint16(at, cx, true);
  view.setUint16(at + 2, cy, true);
  view.setUint32(at + 4, version, true);
  view.setUint16(at + 8, count, true);
  let o = at + 10;
  for (let i = 0; i < count; i++) {
    const off = offsets[i]!;
    bytes[o] = off & 0xff;
    bytes[o + 1] = off >>> 8;
    bytes[o + 2] = colors[i]!;
    o += 3;
  }
}

export function encodePlaceResult(seq: number, status: number, count: number, retryAfterMs: number): Uint8Array {
  const { bytes, view } = frame(Op.PLACE_RESULT, 11);
  view.setUint32(3, seq, true);
  view.setUint8(7, status);
  view.setUint16(8, count, true);
  view.setUint32(10, Math.min(0xffffffff, Math.max(0, Math.ceil(retryAfterMs))), true);
  return bytes;
}

/** ONLINE; with `level`, the overload fields appended to the body (the 4-byte form is the original one). */
export function encodeOnline(count: number, level?: number, cadence?: number): Uint8Array {
  const grown = level !== undefined;
  const { bytes, view } = frame(Op.ONLINE, grown ? 6 : 4);
  view.setUint32(3, count, true);
  if (grown) {
    view.setUint8(7, level);
    view.setUint8(8, cadence ?? 1);
  }
  return bytes;
}

export function encodeError(code: number, op: number, message: string): Uint8Array {
  const text = utf8Truncate(message, MAX_ERROR_TEXT_BYTES);
  const { bytes, view } = frame(Op.ERROR, 4 + text.length);
  view.setUint16(3, code, true);
  view.setUint8(5, op);
  view.setUint8(6, text.length);
  bytes.set(text, 7);
  return bytes;
}

export function encodePong(nonce: number, serverTime: number): Uint8Array {
  const { bytes, view } = frame(Op.PONG, 12);
  view.setUint32(3, nonce, true);
  view.setFloat64(7, serverTime, true);
  return bytes;
}

/** SNAPSHOT of a level-of-detail chunk: the same body as SNAPSHOT, after a level byte. */
export function encodeLodSnapshot(level: number, cx: number, cy: number, version: number, encoding: number, data: Uint8Array): Uint8Array {
  const { bytes, view } = frame(Op.LOD_SNAPSHOT, 10 + data.length);
  view.setUint8(3, level);
  view.setUint16(4, cx, true);
  view.setUint16(6, cy, true);
  view.setUint32(8, version, true);
  view.setUint8(12, encoding);
  bytes.set(data, 13);
  return bytes;
}

/** DELTA of a level-of-detail chunk: the same body as DELTA, after a level byte. Encoded once per tick and level. */
export function encodeLodDelta(
  level: number, cx: number, cy: number, version: number, offsets: ArrayLike<number>, colors: ArrayLike<number>, count: number,
): Uint8Array {
  const { bytes, view } = frame(Op.LOD_DELTA, 11 + 3 * count);
  view.setUint8(HEADER_BYTES, level);
  writeDeltaBody(bytes, view, HEADER_BYTES + 1, cx, cy, version, offsets, colors, count);
  return bytes;
}

/** Encode any message; the typed encoders above are what hot paths call. */
export function encodeMessage(m: Message): Uint8Array {
  switch (m.type) {
    case 'hello': return encodeHello(m.version, m.name, m.token);
    case 'viewport': return encodeViewport(m.x, m.y, m.w, m.h);
    case 'place': return encodePlace(m.seq, m.pixels);
    case 'cursor': return encodeCursor(m.x, m.y, m.hidden);
    case 'resume': return encodeResume(m.chunks);
    case 'ping': return encodePing(m.nonce);
    case 'welcome': return encodeWelcome(m);
    case 'snapshot': return encodeChunkSnapshot(m.cx, m.cy, m.version, m.encoding, m.data);
    case 'delta': return encodeChunkDelta(m.cx, m.cy, m.version, m.offsets, m.colors, m.offsets.length);
    case 'placeResult': return encodePlaceResult(m.seq, m.status, m.count, m.retryAfterMs);
    case 'cursors': return encodeCursors(m.moved, m.removed);
    case 'online': return m.level === undefined ? encodeOnline(m.count) : encodeOnline(m.count, m.level, m.cadence);
    case 'error': return encodeError(m.code, m.op, m.message);
    case 'pong': return encodePong(m.nonce, m.serverTime);
    case 'lodViewport': return encodeLodViewport(m.level, m.x, m.y, m.w, m.h);
    case 'lodSnapshot': return encodeLodSnapshot(m.level, m.cx, m.cy, m.version, m.encoding, m.data);
    case 'lodDelta': return encodeLodDelta(m.level, m.cx, m.cy, m.version, m.offsets, m.colors, m.offsets.length);
    case 'tempo': return encodeTempo(m.tempoMap, m.next);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Decoding: every read is preceded by a length check; bad input becomes a ProtocolError, never anything else.

/** DELTA's body (LOD_DELTA's after its level byte); the count is checked against the body before allocating. */
function readDeltaBody(r: BodyReader): { cx: number; cy: number; version: number; offsets: Uint16Array; colors: Uint8Array } {
  const cx = r.u16();
  const cy = r.u16();
  const version = r.u32();
  const count = r.u16();
  r.expectItems(count, 3);
  const offsets = new Uint16Array(count);
  const colors = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    offsets[i] = r.u16();
    colors[i] = r.u8();
  }
  return { cx, cy, version, offsets, colors };
}

function decodeServerBody(op: number, r: BodyReader): ServerMessage {
  switch (op) {
    case Op.WELCOME:
      return readWelcome(r);
    case Op.SNAPSHOT: {
      const cx = r.u16();
      const cy = r.u16();
      const version = r.u32();
      const encoding = r.u8();
      return { type: 'snapshot', cx, cy, version, encoding, data: r.rest() };
    }
    case Op.DELTA:
      return { type: 'delta', ...readDeltaBody(r) };
    case Op.PLACE_RESULT:
      return { type: 'placeResult', seq: r.u32(), status: r.u8(), count: r.u16(), retryAfterMs: r.u32() };
    case Op.CURSORS: {
      const n = r.u16();
      r.expectItems(n, 9);
      const moved: CursorEntry[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const id = r.u32();
        const x = r.u16();
        const y = r.u16();
        const len = r.u8();
        moved[i] = { id, x, y, name: r.utf8(len) };
      }
      const m = r.u16();
      r.expectItems(m, 4);
      const removed: number[] = new Array(m);
      for (let i = 0; i < m; i++) removed[i] = r.u32();
      return { type: 'cursors', moved, removed };
    }
    case Op.ONLINE: {
      const count = r.u32();
      // The overload fields, when the server appended them; bytes beyond what we know are stepped over.
      if (r.left < 2) return { type: 'online', count };
      return { type: 'online', count, level: r.u8(), cadence: r.u8() };
    }
    case Op.ERROR: {
      const code = r.u16();
      const op = r.u8();
      const len = r.u8();
      return { type: 'error', code, op, message: r.utf8(len) };
    }
    case Op.PONG:
      return { type: 'pong', nonce: r.u32(), serverTime: r.f64() };
    case Op.LOD_SNAPSHOT: {
      const level = r.u8();
      const cx = r.u16();
      const cy = r.u16();
      const version = r.u32();
      const encoding = r.u8();
      return { type: 'lodSnapshot', level, cx, cy, version, encoding, data: r.rest() };
    }
    case Op.LOD_DELTA: {
      const level = r.u8();
      return { type: 'lodDelta', level, ...readDeltaBody(r) };
    }
    case Op.TEMPO:
      return readTempo(r);
    default:
      throw protocolError('UNKNOWN_OPCODE', `opcode 0x${op.toString(16).padStart(2, '0')} is not a server message`);
  }
}

/**
 * Decode one WebSocket message from the server: one or more protocol messages back to back. Messages whose
 * opcode is in `skip` are stepped over by their length without being decoded (a bot that draws no cursors
 * need not pay for them).
 */
export function decodeServerMessages(bytes: Uint8Array, skip?: ReadonlySet<number>): ServerMessage[] {
  const view = toView(bytes);
  const out: ServerMessage[] = [];
  let at = 0;
  do {
    const { op, end } = readHeader(bytes, view, at);
    if (skip?.has(op)) {
      at = end;
      continue;
    }
    const r = new BodyReader(bytes, view, at + HEADER_BYTES, end, opName(op));
    // No r.done(): a server message may grow fields at the end of its body in a later version, and a client
    // steps over what it does not know by the body length (docs/protocol.md, "Extending").
    out.push(decodeServerBody(op, r));
    at = end;
  } while (at < bytes.length);
  return out;
}
