/**
 * Client → server messages: their shapes, encoders, and the decoder the server runs on every frame a client
 * sends (exactly one message, no trailing bytes).
 */
import { HEADER_BYTES, Op, PROTOCOL_VERSION, SESSION_TOKEN_BYTES, opName, protocolError } from './wire-vocabulary.js';
import { versionKnowsOp } from './protocol-versions.js';
import { BodyReader, frame, readHeader, toView, utf8Truncate } from './wire-io.js';

export interface Hello {
  type: 'hello';
  version: number;
  name: string;
  /**
   * Optional, 16 random bytes the client keeps across reconnects: the server remembers the highest PLACE seq
   * it committed for the token and tells it in WELCOME, so a client knows which unanswered PLACEs were applied.
   */
  token?: Uint8Array | null;
}
export interface Viewport { type: 'viewport'; x: number; y: number; w: number; h: number }
export interface PlacePixel { x: number; y: number; color: number }
export interface Place { type: 'place'; seq: number; pixels: PlacePixel[] }
export interface Cursor { type: 'cursor'; x: number; y: number; hidden: boolean }
export interface ResumeEntry { cx: number; cy: number; version: number }
export interface Resume { type: 'resume'; chunks: ResumeEntry[] }
export interface Ping { type: 'ping'; nonce: number }
/** A viewport (canvas pixels) watched at level of detail `level` (0: full resolution, same as VIEWPORT). */
export interface LodViewport { type: 'lodViewport'; level: number; x: number; y: number; w: number; h: number }

export type ClientMessage = Hello | Viewport | Place | Cursor | Resume | Ping | LodViewport;

export function encodeHello(version: number, name: string, token?: Uint8Array | null): Uint8Array {
  const nameBytes = utf8Truncate(name, 255);
  if (token && token.length !== SESSION_TOKEN_BYTES) throw new RangeError(`session token must be ${SESSION_TOKEN_BYTES} bytes`);
  const { bytes, view } = frame(Op.HELLO, 3 + nameBytes.length + (token ? SESSION_TOKEN_BYTES : 0));
  view.setUint16(3, version, true);
  view.setUint8(5, nameBytes.length);
  bytes.set(nameBytes, 6);
  if (token) bytes.set(token, 6 + nameBytes.length);
  return bytes;
}

export function encodeViewport(x: number, y: number, w: number, h: number): Uint8Array {
  const { bytes, view } = frame(Op.VIEWPORT, 16);
  view.setInt32(3, x, true);
  view.setInt32(7, y, true);
  view.setUint32(11, w, true);
  view.setUint32(15, h, true);
  return bytes;
}

export function encodePlace(seq: number, pixels: readonly PlacePixel[]): Uint8Array {
  const { bytes, view } = frame(Op.PLACE, 6 + 5 * pixels.length);
  view.setUint32(3, seq, true);
  view.setUint16(7, pixels.length, true);
  let o = 9;
  for (const p of pixels) {
    view.setUint16(o, p.x, true);
    view.setUint16(o + 2, p.y, true);
    view.setUint8(o + 4, p.color);
    o += 5;
  }
  return bytes;
}

export function encodeCursor(x: number, y: number, hidden = false): Uint8Array {
  const { bytes, view } = frame(Op.CURSOR, 5);
  view.setUint16(3, x, true);
  view.setUint16(5, y, true);
  view.setUint8(7, hidden ? 1 : 0);
  return bytes;
}

export function encodeResume(chunks: readonly ResumeEntry[]): Uint8Array {
  const { bytes, view } = frame(Op.RESUME, 2 + 8 * chunks.length);
  view.setUint16(3, chunks.length, true);
  let o = 5;
  for (const c of chunks) {
    view.setUint16(o, c.cx, true);
    view.setUint16(o + 2, c.cy, true);
    view.setUint32(o + 4, c.version, true);
    o += 8;
  }
  return bytes;
}

export function encodePing(nonce: number): Uint8Array {
  const { bytes, view } = frame(Op.PING, 4);
  view.setUint32(3, nonce, true);
  return bytes;
}

export function encodeLodViewport(level: number, x: number, y: number, w: number, h: number): Uint8Array {
  const { bytes, view } = frame(Op.LOD_VIEWPORT, 17);
  view.setUint8(3, level);
  view.setInt32(4, x, true);
  view.setInt32(8, y, true);
  view.setUint32(12, w, true);
  view.setUint32(16, h, true);
  return bytes;
}

function decodeClientBody(op: number, r: BodyReader): ClientMessage {
  switch (op) {
    case Op.HELLO: {
      const version = r.u16();
      const n = r.u8();
      const name = r.utf8(n);
      // The token is optional: the body ends after the name, or holds exactly a token more.
      if (r.remaining() === 0) return { type: 'hello', version, name };
      return { type: 'hello', version, name, token: new Uint8Array(r.bytes(SESSION_TOKEN_BYTES)) }; // a copy, also from a pooled Buffer
    }
    case Op.VIEWPORT:
      return { type: 'viewport', x: r.i32(), y: r.i32(), w: r.u32(), h: r.u32() };
    case Op.PLACE: {
      const seq = r.u32();
      const count = r.u16();
      r.expectItems(count, 5);
      const pixels: PlacePixel[] = new Array(count);
      for (let i = 0; i < count; i++) pixels[i] = { x: r.u16(), y: r.u16(), color: r.u8() };
      return { type: 'place', seq, pixels };
    }
    case Op.CURSOR: {
      const x = r.u16();
      const y = r.u16();
      const flags = r.u8();
      return { type: 'cursor', x, y, hidden: (flags & 1) === 1 };
    }
    case Op.RESUME: {
      const count = r.u16();
      r.expectItems(count, 8);
      const chunks: ResumeEntry[] = new Array(count);
      for (let i = 0; i < count; i++) chunks[i] = { cx: r.u16(), cy: r.u16(), version: r.u32() };
      return { type: 'resume', chunks };
    }
    case Op.PING:
      return { type: 'ping', nonce: r.u32() };
    case Op.LOD_VIEWPORT:
      return { type: 'lodViewport', level: r.u8(), x: r.i32(), y: r.i32(), w: r.u32(), h: r.u32() };
    default:
      throw unknownClientOp(op);
  }
}

function unknownClientOp(op: number) {
  return protocolError('UNKNOWN_OPCODE', `opcode 0x${op.toString(16).padStart(2, '0')} is not a client message`);
}

/** The opcode of a client frame, or 0 when the frame is empty; used to label errors. */
export function peekOp(bytes: Uint8Array): number {
  return bytes.length > 0 ? bytes[0]! : 0;
}

/**
 * Decode one WebSocket message from a client: exactly one protocol message, no trailing bytes. `version` is
 * the protocol the connection speaks: an opcode introduced after it is UNKNOWN_OPCODE (the answer the server
 * of that version gave), so a version 1 client cannot reach version 2 behaviour such as levels of detail.
 */
export function decodeClientMessage(bytes: Uint8Array, version: number = PROTOCOL_VERSION): ClientMessage {
  const view = toView(bytes);
  const { op, end } = readHeader(bytes, view, 0);
  if (end !== bytes.length) throw protocolError('MALFORMED', `${bytes.length - end} bytes after the message`);
  if (!versionKnowsOp(version, op)) throw unknownClientOp(op);
  const r = new BodyReader(bytes, view, HEADER_BYTES, end, opName(op));
  const msg = decodeClientBody(op, r);
  r.done();
  return msg;
}

