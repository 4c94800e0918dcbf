/**
 * The wire vocabulary of pixel-canvas, and nothing else: opcodes, error codes, and pure encode/decode pairs.
 * Imports nothing from ws or the server, so the browser client, bots, tests and benches share it.
 *
 * Framing (see docs/protocol.md): every message is `op u8 | bodyLength u16 LE | body`. All integers are
 * little-endian. A WebSocket message from a client holds exactly one protocol message; a WebSocket message
 * from the server holds one or more, back to back (that is how a tick is one write per client).
 */

import type { TempoSegment } from '../music/tempo-map.js';
import type { MusicPattern } from '../music/patterns.js';
import { encodeCursors } from './cursors-codec.js';

/**
 * 2: HELLO may carry a session token; WELCOME adds the message budget and the session's last committed PLACE
 * seq; server messages may grow fields at the end of their body, which a client must ignore.
 */
export const PROTOCOL_VERSION = 2;

/** Bytes before every message body: opcode and body length. */
export const HEADER_BYTES = 3;
/** A body is at most this long (u16 length field). */
export const MAX_BODY_BYTES = 0xffff;

export const Op = {
  // client → server
  HELLO: 0x01,
  VIEWPORT: 0x02,
  PLACE: 0x03,
  CURSOR: 0x04,
  RESUME: 0x05,
  PING: 0x06,
  LOD_VIEWPORT: 0x07,
  // server → client
  WELCOME: 0x81,
  SNAPSHOT: 0x82,
  DELTA: 0x83,
  PLACE_RESULT: 0x84,
  CURSORS: 0x85,
  ONLINE: 0x86,
  ERROR: 0x87,
  PONG: 0x88,
  LOD_SNAPSHOT: 0x89,
  LOD_DELTA: 0x8a,
  // music mode (0x90 block, see docs/protocol.md "Music")
  TEMPO: 0x90,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

/**
 * Stable error codes. The number goes on the wire (ERROR.code, PLACE_RESULT.status); the name is for humans
 * and logs. `close` is the WebSocket close code the server uses when the error ends the connection.
 */
export const ErrorCode = {
  OK: 0,
  MALFORMED: 1,
  UNKNOWN_OPCODE: 2,
  UNSUPPORTED_VERSION: 3,
  HELLO_REQUIRED: 4,
  BAD_UTF8: 5,
  OUT_OF_BOUNDS: 6,
  BAD_COLOR: 7,
  BAD_VIEWPORT: 8,
  VIEWPORT_TOO_LARGE: 9,
  BATCH_TOO_LARGE: 10,
  RATE_LIMITED: 11,
  TEXT_FRAME: 12,
  DUPLICATE_HELLO: 13,
  TOO_MANY_ERRORS: 14,
  NAME_TOO_LONG: 15,
  INTERNAL: 16,
  TOO_SLOW: 17,
  /** Multi-node only: the shared placement log (Redis) is unreachable; nothing was placed, retry later. */
  PLACEMENTS_UNAVAILABLE: 18,
  /** A moderator banned this address or name: its placements are refused (src/admin). */
  BANNED: 19,
  /** The canvas is read-only for now (a moderator's switch): every placement is refused. */
  READ_ONLY: 20,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;

/** WebSocket close codes used by the server (RFC 6455 §7.4.1 plus private 4xxx codes). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TRY_AGAIN_LATER: 1013,
  /** The client could not keep up: its send buffer stayed above the hard limit (see docs/architecture.md). */
  TOO_SLOW: 4001,
} as const;

/** The close code that fits each error when it ends a connection. */
export const ERROR_CLOSE_CODE: Record<ErrorCodeName, number> = {
  OK: CloseCode.NORMAL,
  MALFORMED: CloseCode.PROTOCOL_ERROR,
  UNKNOWN_OPCODE: CloseCode.UNSUPPORTED_DATA,
  UNSUPPORTED_VERSION: CloseCode.PROTOCOL_ERROR,
  HELLO_REQUIRED: CloseCode.PROTOCOL_ERROR,
  BAD_UTF8: CloseCode.INVALID_PAYLOAD,
  OUT_OF_BOUNDS: CloseCode.POLICY_VIOLATION,
  BAD_COLOR: CloseCode.POLICY_VIOLATION,
  BAD_VIEWPORT: CloseCode.POLICY_VIOLATION,
  VIEWPORT_TOO_LARGE: CloseCode.POLICY_VIOLATION,
  BATCH_TOO_LARGE: CloseCode.MESSAGE_TOO_BIG,
  RATE_LIMITED: CloseCode.POLICY_VIOLATION,
  TEXT_FRAME: CloseCode.UNSUPPORTED_DATA,
  DUPLICATE_HELLO: CloseCode.PROTOCOL_ERROR,
  TOO_MANY_ERRORS: CloseCode.POLICY_VIOLATION,
  NAME_TOO_LONG: CloseCode.POLICY_VIOLATION,
  INTERNAL: CloseCode.INTERNAL_ERROR,
  TOO_SLOW: CloseCode.TOO_SLOW,
  PLACEMENTS_UNAVAILABLE: CloseCode.TRY_AGAIN_LATER,
  BANNED: CloseCode.POLICY_VIOLATION,
  READ_ONLY: CloseCode.TRY_AGAIN_LATER,
};

const ERROR_NAMES: ErrorCodeName[] = [];
for (const [name, code] of Object.entries(ErrorCode)) ERROR_NAMES[code] = name as ErrorCodeName;

/** Name of a wire error code, or undefined for a code this version does not know. */
export function errorName(code: number): ErrorCodeName | undefined {
  return ERROR_NAMES[code];
}

/** The one error type decoders throw. The connection layer decides whether to answer or close. */
export class ProtocolError extends Error {
  readonly code: ErrorCodeName;
  readonly wireCode: number;
  readonly closeCode: number;
  constructor(code: ErrorCodeName, detail: string) {
    super(`${code}: ${detail}`);
    this.name = 'ProtocolError';
    this.code = code;
    this.wireCode = ErrorCode[code];
    this.closeCode = ERROR_CLOSE_CODE[code];
  }
}

/** Factory for every protocol failure, so codes and close codes are set in one place. */
export function protocolError(code: ErrorCodeName, detail: string): ProtocolError {
  return new ProtocolError(code, detail);
}

/** How a chunk snapshot's pixels are encoded (see src/chunks/snapshot-codec.ts). */
export const SnapshotEncoding = {
  /** Every pixel is the background colour; no data. */
  EMPTY: 0,
  /** 4096 bytes, one palette index per pixel, row-major. */
  RAW: 1,
  /** Runs: see docs/protocol.md. */
  RLE: 2,
} as const;

// ---------------------------------------------------------------------------------------------------------
// Message shapes

/** Bytes of the optional session token at the end of HELLO. */
export const SESSION_TOKEN_BYTES = 16;
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

export interface Limits {
  /** Sustained pixels per second per address. */
  paintRate: number;
  /** Pixels that can be placed at once after a pause. */
  paintBurst: number;
  /** Most pixels in one PLACE message. */
  maxPlaceBatch: number;
  /** Largest viewport area in pixels (after clamping to the canvas). */
  maxViewportArea: number;
  /** Cursor messages per second beyond which the server drops them. */
  cursorHz: number;
  /** Viewport messages per second beyond which the server drops them. */
  viewportHz: number;
  /** Longest display name in UTF-8 bytes. */
  maxNameBytes: number;
  /** Largest WebSocket message the server accepts, in bytes. */
  maxMessageBytes: number;
}

/** The per-connection message budget (a token bucket in units) and what each message costs in it. */
export interface MessageBudgetInfo {
  rate: number;
  burst: number;
  costs: { place: number; placePerPixel: number; viewport: number; cursor: number; resume: number; hello: number; ping: number };
}

/** What the server remembers of the HELLO's session token. */
export interface SessionInfo {
  /** False when the token is new to this server (or none was sent): nothing is known of earlier PLACEs. */
  known: boolean;
  /** Highest PLACE seq committed for the token (0 when none); PLACEs with a seq at or below it were applied. */
  lastSeq: number;
}

export interface Welcome {
  type: 'welcome';
  version: number;
  clientId: number;
  /**
   * Names a run of chunk versions: it survives a clean server restart (versions are restored exactly) and
   * changes after a crash. Versions are only comparable within one epoch: a client resumes only when the
   * epoch it held equals the new one, otherwise it starts afresh.
   */
  epoch: number;
  width: number;
  height: number;
  chunkSize: number;
  tickHz: number;
  /** Server clock, ms since the Unix epoch. */
  serverTime: number;
  background: number;
  limits: Limits;
  /** Colours as 0xRRGGBB. */
  palette: number[];
  budget: MessageBudgetInfo;
  session: SessionInfo;
  /** Present when the canvas is a music canvas (mode music); absent for a pixel canvas. */
  music?: MusicInfo;
}
/** WELCOME extension records that may follow the palette: `kind u8 | length u16 | body`. */
export const WelcomeExtension = {
  MUSIC: 1,
} as const;

/** Music mode, announced in WELCOME's MUSIC extension: the pattern palette and the one clock. */
export interface MusicInfo {
  /** Server time (ms since the Unix epoch) of beat 0. */
  musicEpoch: number;
  beatsPerBar: number;
  tempoMap: TempoSegment[];
  /** One per palette entry, same index; entry 0 is silence. */
  patterns: MusicPattern[];
}
export interface Snapshot { type: 'snapshot'; cx: number; cy: number; version: number; encoding: number; data: Uint8Array }
export interface Delta { type: 'delta'; cx: number; cy: number; version: number; offsets: Uint16Array; colors: Uint8Array }
export interface PlaceResult { type: 'placeResult'; seq: number; status: number; count: number; retryAfterMs: number }
export interface CursorEntry { id: number; x: number; y: number; name: string }
export interface Cursors { type: 'cursors'; moved: CursorEntry[]; removed: number[] }
export interface Online { type: 'online'; count: number }
export interface ErrorMessage { type: 'error'; code: number; op: number; message: string }
export interface Pong { type: 'pong'; nonce: number; serverTime: number }
/** Music mode: the tempo map changed (an admin action); the new segment starts on a bar boundary ahead. */
export interface Tempo { type: 'tempo'; tempoMap: TempoSegment[] }

/** A level-of-detail chunk: (cx, cy) in level-`level` chunk coordinates (see docs/protocol.md). */
export interface LodSnapshot { type: 'lodSnapshot'; level: number; cx: number; cy: number; version: number; encoding: number; data: Uint8Array }
export interface LodDelta { type: 'lodDelta'; level: number; cx: number; cy: number; version: number; offsets: Uint16Array; colors: Uint8Array }

export type ServerMessage = Welcome | Snapshot | Delta | PlaceResult | Cursors | Online | ErrorMessage | Pong | LodSnapshot | LodDelta | Tempo;
export type Message = ClientMessage | ServerMessage;

// ---------------------------------------------------------------------------------------------------------
// Encoding

const utf8Encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is part of the text, not a marker to strip.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Longest text in ERROR messages, in bytes (the rest is cut at a character boundary). */
const MAX_ERROR_TEXT_BYTES = 200;

function frame(op: OpCode, bodyLength: number): { bytes: Uint8Array; view: DataView } {
  if (bodyLength > MAX_BODY_BYTES) throw new RangeError(`message body of ${bodyLength} bytes exceeds ${MAX_BODY_BYTES}`);
  const bytes = new Uint8Array(HEADER_BYTES + bodyLength);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, op);
  view.setUint16(1, bodyLength, true);
  return { bytes, view };
}

/** UTF-8 bytes of s, cut at a character boundary so they fit in max bytes. */
export function utf8Truncate(s: string, max: number): Uint8Array {
  const bytes = utf8Encoder.encode(s);
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // back off continuation bytes
  return bytes.subarray(0, end);
}

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

const WELCOME_FIXED = 2 + 4 + 4 + 4 + 4 + 2 + 2 + 8 + 1 + (8 + 4 + 2 + 4 + 2 + 2 + 1 + 4) + 2;
/** After the palette: budget rate and burst (f64), seven costs (u16), session known (u8) and last seq (u32). */
const WELCOME_TAIL = 8 + 8 + 7 * 2 + 1 + 4;

export function encodeWelcome(w: Omit<Welcome, 'type'>): Uint8Array {
  const ext = w.music === undefined ? EMPTY : encodeMusicExtension(w.music, w.palette.length);
  const { bytes, view } = frame(Op.WELCOME, WELCOME_FIXED + 3 * w.palette.length + WELCOME_TAIL + ext.length);
  let o = 3;
  view.setUint16(o, w.version, true); o += 2;
  view.setUint32(o, w.clientId, true); o += 4;
  view.setUint32(o, w.epoch, true); o += 4;
  view.setUint32(o, w.width, true); o += 4;
  view.setUint32(o, w.height, true); o += 4;
  view.setUint16(o, w.chunkSize, true); o += 2;
  view.setUint16(o, w.tickHz, true); o += 2;
  view.setFloat64(o, w.serverTime, true); o += 8;
  view.setUint8(o, w.background); o += 1;
  const l = w.limits;
  view.setFloat64(o, l.paintRate, true); o += 8;
  view.setUint32(o, l.paintBurst, true); o += 4;
  view.setUint16(o, l.maxPlaceBatch, true); o += 2;
  view.setUint32(o, l.maxViewportArea, true); o += 4;
  view.setUint16(o, l.cursorHz, true); o += 2;
  view.setUint16(o, l.viewportHz, true); o += 2;
  view.setUint8(o, l.maxNameBytes); o += 1;
  view.setUint32(o, l.maxMessageBytes, true); o += 4;
  view.setUint16(o, w.palette.length, true); o += 2;
  for (const rgb of w.palette) {
    bytes[o++] = (rgb >>> 16) & 0xff;
    bytes[o++] = (rgb >>> 8) & 0xff;
    bytes[o++] = rgb & 0xff;
  }
  const b = w.budget;
  view.setFloat64(o, b.rate, true); o += 8;
  view.setFloat64(o, b.burst, true); o += 8;
  for (const c of [b.costs.place, b.costs.placePerPixel, b.costs.viewport, b.costs.cursor, b.costs.resume, b.costs.hello, b.costs.ping]) {
    view.setUint16(o, c, true); o += 2;
  }
  view.setUint8(o, w.session.known ? 1 : 0); o += 1;
  view.setUint32(o, w.session.lastSeq, true); o += 4;
  bytes.set(ext, o);
  return bytes;
}

/** A growable little-endian writer for the variable-size music records. */
class ByteWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private room(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf);
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  // room() may replace buf and view: call it before touching them.
  u8(v: number): void { const at = this.room(1); this.view.setUint8(at, v); }
  u16(v: number): void { const at = this.room(2); this.view.setUint16(at, v, true); }
  f64(v: number): void { const at = this.room(8); this.view.setFloat64(at, v, true); }
  bytes(b: Uint8Array): void { const at = this.room(b.length); this.buf.set(b, at); }
  result(): Uint8Array { return this.buf.slice(0, this.length); }
}

function writeTempoMap(wr: ByteWriter, map: readonly TempoSegment[]): void {
  if (map.length < 1 || map.length > 255) throw new RangeError(`a tempo map holds 1..255 segments, got ${map.length}`);
  wr.u8(map.length);
  for (const s of map) {
    wr.f64(s.startBeat);
    wr.f64(s.startTime);
    wr.f64(s.bpm);
  }
}

/** WELCOME's MUSIC extension record: `kind u8 = 1 | length u16 | body` (docs/protocol.md, "Music"). */
function encodeMusicExtension(m: MusicInfo, paletteLength: number): Uint8Array {
  if (m.patterns.length !== paletteLength) throw new RangeError(`music: ${m.patterns.length} patterns for ${paletteLength} palette entries`);
  const wr = new ByteWriter();
  wr.u8(WelcomeExtension.MUSIC);
  wr.u16(0); // length, patched below
  wr.f64(m.musicEpoch);
  wr.u8(m.beatsPerBar);
  writeTempoMap(wr, m.tempoMap);
  wr.u16(m.patterns.length);
  for (const p of m.patterns) {
    wr.u8(p.group);
    wr.u8(p.voice);
    wr.u8(p.stepsPerBeat);
    wr.u8(Math.round(Math.max(0, Math.min(1, p.gain)) * 255));
    wr.u8(p.steps.length);
    for (const s of p.steps) wr.u8(s);
    wr.u8(p.pitches.length);
    for (const n of p.pitches) wr.u8(n);
    const name = utf8Truncate(p.name, 255);
    wr.u8(name.length);
    wr.bytes(name);
  }
  const out = wr.result();
  const bodyLength = out.length - 3;
  if (bodyLength > 0xffff) throw new RangeError(`music extension of ${bodyLength} bytes exceeds 65535`);
  out[1] = bodyLength & 0xff;
  out[2] = bodyLength >>> 8;
  return out;
}

export function encodeTempo(map: readonly TempoSegment[]): Uint8Array {
  const wr = new ByteWriter();
  writeTempoMap(wr, map);
  const body = wr.result();
  const { bytes } = frame(Op.TEMPO, body.length);
  bytes.set(body, HEADER_BYTES);
  return bytes;
}

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

// CURSORS: one encoder, in ./cursors-codec.ts (the cursor flush sends it in shared parts).
export { encodeCursors } from './cursors-codec.js';

const EMPTY = new Uint8Array(0);

export function encodeOnline(count: number): Uint8Array {
  const { bytes, view } = frame(Op.ONLINE, 4);
  view.setUint32(3, count, true);
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

export function encodeLodViewport(level: number, x: number, y: number, w: number, h: number): Uint8Array {
  const { bytes, view } = frame(Op.LOD_VIEWPORT, 17);
  view.setUint8(3, level);
  view.setInt32(4, x, true);
  view.setInt32(8, y, true);
  view.setUint32(12, w, true);
  view.setUint32(16, h, true);
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
    case 'online': return encodeOnline(m.count);
    case 'error': return encodeError(m.code, m.op, m.message);
    case 'pong': return encodePong(m.nonce, m.serverTime);
    case 'lodViewport': return encodeLodViewport(m.level, m.x, m.y, m.w, m.h);
    case 'lodSnapshot': return encodeLodSnapshot(m.level, m.cx, m.cy, m.version, m.encoding, m.data);
    case 'lodDelta': return encodeLodDelta(m.level, m.cx, m.cy, m.version, m.offsets, m.colors, m.offsets.length);
    case 'tempo': return encodeTempo(m.tempoMap);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Decoding: every read is preceded by a length check; bad input becomes a ProtocolError, never anything else.

/** A bounds-checked cursor over one message body. */
class BodyReader {
  private o: number;
  constructor(private readonly buf: Uint8Array, private readonly view: DataView, start: number, private readonly end: number, private readonly what: string) {
    this.o = start;
  }
  private need(n: number): number {
    const at = this.o;
    if (at + n > this.end) throw protocolError('MALFORMED', `${this.what}: truncated at byte ${at - 3}`);
    this.o = at + n;
    return at;
  }
  u8(): number { return this.view.getUint8(this.need(1)); }
  u16(): number { return this.view.getUint16(this.need(2), true); }
  u32(): number { return this.view.getUint32(this.need(4), true); }
  i32(): number { return this.view.getInt32(this.need(4), true); }
  f64(): number { return this.view.getFloat64(this.need(8), true); }
  bytes(n: number): Uint8Array { const at = this.need(n); return this.buf.subarray(at, at + n); }
  utf8(n: number): string {
    if (n === 0) return ''; // the common case for cursor records: skip the decoder call
    const b = this.bytes(n);
    try {
      return utf8Decoder.decode(b);
    } catch {
      throw protocolError('BAD_UTF8', `${this.what}: text is not valid UTF-8`);
    }
  }
  /** Bytes left in the body. */
  get left(): number { return this.end - this.o; }
  /** Everything left in the body. */
  rest(): Uint8Array { return this.bytes(this.end - this.o); }
  remaining(): number { return this.end - this.o; }
  /** Items of `size` bytes each must fit in what is left; checked before allocating for them. */
  expectItems(count: number, size: number): void {
    if (this.o + count * size > this.end) throw protocolError('MALFORMED', `${this.what}: ${count} items do not fit in the body`);
  }
  done(): void {
    if (this.o !== this.end) throw protocolError('MALFORMED', `${this.what}: ${this.end - this.o} unexpected trailing bytes`);
  }
}

function toView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Reads the header at `at`; returns the op and the body's end. */
function readHeader(bytes: Uint8Array, view: DataView, at: number): { op: number; end: number } {
  if (at + HEADER_BYTES > bytes.length) throw protocolError('MALFORMED', `message header truncated (${bytes.length - at} bytes)`);
  const op = view.getUint8(at);
  const end = at + HEADER_BYTES + view.getUint16(at + 1, true);
  if (end > bytes.length) throw protocolError('MALFORMED', `body length ${end - at - HEADER_BYTES} exceeds the ${bytes.length - at - HEADER_BYTES} bytes present`);
  return { op, end };
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
      throw protocolError('UNKNOWN_OPCODE', `opcode 0x${op.toString(16).padStart(2, '0')} is not a client message`);
  }
}

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
    case Op.WELCOME: {
      const version = r.u16();
      const clientId = r.u32();
      const epoch = r.u32();
      const width = r.u32();
      const height = r.u32();
      const chunkSize = r.u16();
      const tickHz = r.u16();
      const serverTime = r.f64();
      const background = r.u8();
      const limits: Limits = {
        paintRate: r.f64(),
        paintBurst: r.u32(),
        maxPlaceBatch: r.u16(),
        maxViewportArea: r.u32(),
        cursorHz: r.u16(),
        viewportHz: r.u16(),
        maxNameBytes: r.u8(),
        maxMessageBytes: r.u32(),
      };
      const n = r.u16();
      r.expectItems(n, 3);
      const palette: number[] = new Array(n);
      for (let i = 0; i < n; i++) palette[i] = (r.u8() << 16) | (r.u8() << 8) | r.u8();
      const budget: MessageBudgetInfo = {
        rate: r.f64(),
        burst: r.f64(),
        costs: { place: r.u16(), placePerPixel: r.u16(), viewport: r.u16(), cursor: r.u16(), resume: r.u16(), hello: r.u16(), ping: r.u16() },
      };
      const session: SessionInfo = { known: r.u8() === 1, lastSeq: r.u32() };
      const welcome: Welcome = { type: 'welcome', version, clientId, epoch, width, height, chunkSize, tickHz, serverTime, background, limits, palette, budget, session };
      // Extension records after the fixed fields; kinds this version does not know are stepped over.
      // A record that does not fit what is left is not a record this version can read: stop there (a later
      // version may append other fields), like the bytes after any server message's known fields.
      while (r.left >= 3) {
        const kind = r.u8();
        const len = r.u16();
        if (len > r.left) break;
        const body = r.bytes(len);
        if (kind === WelcomeExtension.MUSIC) {
          welcome.music = decodeMusicExtension(body, n);
          welcome.music.patterns.forEach((p, i) => { p.colour = palette[i]!; });
        }
      }
      return welcome;
    }
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
    case Op.ONLINE:
      return { type: 'online', count: r.u32() };
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
      return { type: 'tempo', tempoMap: readTempoMap(r) };
    default:
      throw protocolError('UNKNOWN_OPCODE', `opcode 0x${op.toString(16).padStart(2, '0')} is not a server message`);
  }
}

function readTempoMap(r: BodyReader): TempoSegment[] {
  const n = r.u8();
  if (n === 0) throw protocolError('MALFORMED', 'tempo map without segments');
  r.expectItems(n, 24);
  const map: TempoSegment[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const s = { startBeat: r.f64(), startTime: r.f64(), bpm: r.f64() };
    if (![s.startBeat, s.startTime, s.bpm].every(Number.isFinite) || !(s.bpm > 0)) throw protocolError('MALFORMED', `tempo segment ${i} is not finite and positive`);
    if (i > 0 && !(s.startBeat > map[i - 1]!.startBeat && s.startTime > map[i - 1]!.startTime)) throw protocolError('MALFORMED', `tempo segment ${i} does not follow segment ${i - 1}`);
    map[i] = s;
  }
  return map;
}

function decodeMusicExtension(body: Uint8Array, paletteLength: number): MusicInfo {
  const r = new BodyReader(body, toView(body), 0, body.length, 'WELCOME music');
  const musicEpoch = r.f64();
  const beatsPerBar = r.u8();
  const tempoMap = readTempoMap(r);
  const count = r.u16();
  if (count !== paletteLength) throw protocolError('MALFORMED', `WELCOME music: ${count} patterns for ${paletteLength} palette entries`);
  const patterns: MusicPattern[] = [];
  for (let i = 0; i < count; i++) {
    const group = r.u8();
    const voice = r.u8();
    const stepsPerBeat = r.u8();
    const gain = r.u8() / 255;
    const ns = r.u8();
    const steps: number[] = Array.from(r.bytes(ns));
    const np = r.u8();
    const pitches: number[] = Array.from(r.bytes(np));
    const name = r.utf8(r.u8());
    if (stepsPerBeat === 0 || (ns > 0 && np === 0)) throw protocolError('MALFORMED', `WELCOME music: pattern ${i} has no pitch or no subdivision`);
    patterns.push({ group, name, voice, stepsPerBeat, steps, pitches, gain, colour: 0 });
  }
  r.done();
  return { musicEpoch, beatsPerBar, tempoMap, patterns };
}

/** The opcode of a client frame, or 0 when the frame is empty; used to label errors. */
export function peekOp(bytes: Uint8Array): number {
  return bytes.length > 0 ? bytes[0]! : 0;
}

/** Decode one WebSocket message from a client: exactly one protocol message, no trailing bytes. */
export function decodeClientMessage(bytes: Uint8Array): ClientMessage {
  const view = toView(bytes);
  const { op, end } = readHeader(bytes, view, 0);
  if (end !== bytes.length) throw protocolError('MALFORMED', `${bytes.length - end} bytes after the message`);
  const r = new BodyReader(bytes, view, HEADER_BYTES, end, opName(op));
  const msg = decodeClientBody(op, r);
  r.done();
  return msg;
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

const OP_NAMES = new Map<number, string>(Object.entries(Op).map(([k, v]) => [v, k]));

/** The opcode's name (HELLO, DELTA, …) or its hex value. */
export function opName(op: number): string {
  return OP_NAMES.get(op) ?? `0x${op.toString(16).padStart(2, '0')}`;
}
