/**
 * WELCOME, the server's first message: the canvas, its limits, palette, message budget and session, then
 * extension records (music mode's is in music-protocol.ts; the paint allowance's is here).
 */
import { Op, WelcomeExtension } from './wire-vocabulary.js';
import { type BodyReader, EMPTY, frame } from './wire-io.js';
import {
  type MusicInfo, type WirePatternSwitch, decodeMusicExtension, decodePatternSwitchRecord, encodeMusicExtension, encodePatternSwitchRecord,
} from './music-protocol.js';

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

/**
 * The address's paint bucket when the WELCOME was sent: a new tab must not claim a full burst that another
 * tab of the same address already spent (the bucket is per address, not per connection).
 */
export interface PaintAllowance {
  /** Whole pixels the address may place now (0..paintBurst). */
  tokens: number;
  /** Milliseconds until one more whole pixel (0 when the bucket is full). */
  nextMs: number;
}

/** Body of the ALLOWANCE record: tokens u32, nextMs u32. */
const ALLOWANCE_BODY = 8;

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
  /** The address's paint allowance (a server that sends no ALLOWANCE record: unknown, assume a full burst). */
  allowance?: PaintAllowance;
}

/** The ALLOWANCE extension record, header included. */
function encodeAllowanceExtension(a: PaintAllowance): Uint8Array {
  const bytes = new Uint8Array(3 + ALLOWANCE_BODY);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, WelcomeExtension.ALLOWANCE);
  view.setUint16(1, ALLOWANCE_BODY, true);
  // Clamped to u32: a bucket never holds more than paintBurst (u32 in WELCOME) nor waits more than its refill.
  view.setUint32(3, Math.min(0xffffffff, Math.max(0, Math.floor(a.tokens))), true);
  view.setUint32(7, Math.min(0xffffffff, Math.max(0, Math.ceil(a.nextMs))), true);
  return bytes;
}

function decodeAllowanceExtension(body: Uint8Array): PaintAllowance | undefined {
  // A shorter body is not this version's record; a longer one may carry fields a later version appends.
  if (body.length < ALLOWANCE_BODY) return undefined;
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  return { tokens: view.getUint32(0, true), nextMs: view.getUint32(4, true) };
}

const WELCOME_FIXED = 2 + 4 + 4 + 4 + 4 + 2 + 2 + 8 + 1 + (8 + 4 + 2 + 4 + 2 + 2 + 1 + 4) + 2;
/** After the palette: budget rate and burst (f64), seven costs (u16), session known (u8) and last seq (u32). */
const WELCOME_TAIL = 8 + 8 + 7 * 2 + 1 + 4;

/**
 * The message budget a version 1 WELCOME implies: v1 did not announce it, so its decoder reports the
 * defaults the version 1 document listed (a server may run others; a v1 client cannot learn them).
 */
export const V1_IMPLIED_BUDGET: Readonly<MessageBudgetInfo> = Object.freeze({
  rate: 200, burst: 400, costs: Object.freeze({ place: 1, placePerPixel: 1, viewport: 2, cursor: 1, resume: 20, hello: 20, ping: 1 }),
});

/**
 * WELCOME in the layout of `w.version`. Version 1 ends after the palette (60 + 3n bytes): v1 decoders
 * refuse trailing bytes, so a v1 client gets no budget, session or extension record.
 */
export function encodeWelcome(w: Omit<Welcome, 'type'>): Uint8Array {
  const v1 = w.version === 1;
  const music = v1 || w.music === undefined ? EMPTY : encodeMusicExtension(w.music, w.palette.length);
  const allowance = v1 || w.allowance === undefined ? EMPTY : encodeAllowanceExtension(w.allowance);
  const next = v1 || w.music?.next === undefined ? EMPTY : encodePatternSwitchRecord(w.music.next);
  const ext = new Uint8Array(music.length + allowance.length + next.length);
  ext.set(music, 0);
  ext.set(allowance, music.length);
  ext.set(next, music.length + allowance.length);
  const tail = v1 ? 0 : WELCOME_TAIL;
  const { bytes, view } = frame(Op.WELCOME, WELCOME_FIXED + 3 * w.palette.length + tail + ext.length);
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
  if (v1) return bytes;
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

/** WELCOME's body, then its extension records (kinds this version does not know are stepped over). */
export function readWelcome(r: BodyReader): Welcome {
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
  if (version === 1) {
    // Version 1 ends after the palette (bytes after it are stepped over, as after any known fields).
    const budget = { ...V1_IMPLIED_BUDGET, costs: { ...V1_IMPLIED_BUDGET.costs } };
    return { type: 'welcome', version, clientId, epoch, width, height, chunkSize, tickHz, serverTime, background, limits, palette, budget, session: { known: false, lastSeq: 0 } };
  }
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
  let next: WirePatternSwitch | undefined;
  while (r.left >= 3) {
    const kind = r.u8();
    const len = r.u16();
    if (len > r.left) break;
    const body = r.bytes(len);
    if (kind === WelcomeExtension.MUSIC) {
      welcome.music = decodeMusicExtension(body, n);
      welcome.music.patterns.forEach((p, i) => { p.colour = palette[i]!; });
    } else if (kind === WelcomeExtension.ALLOWANCE) {
      const a = decodeAllowanceExtension(body);
      if (a) welcome.allowance = a;
    } else if (kind === WelcomeExtension.PATTERN_SWITCH) {
      next = decodePatternSwitchRecord(body, n);
    }
  }
  // A switch means something only with the palette it replaces.
  if (next !== undefined && welcome.music !== undefined) welcome.music.next = next;
  return welcome;
}
