/**
 * The pixel-canvas client: one WebSocket session with reconnect, resume and a replica of the chunks in
 * view. Runs in Node and the browser: it depends on a minimal socket interface and the caller injects the
 * socket constructor (no ws, no node:*, no Buffer here).
 *
 * Session, as the server expects it: HELLO → WELCOME → [RESUME, when the epoch is the one our replica holds]
 * → VIEWPORT; then SNAPSHOTs for chunks entering the view and per-tick DELTAs. The replica mirrors the view
 * the server was last told, not the one asked for most recently: viewport messages are throttled to the
 * server's viewportHz (it drops extra ones, which would leave the two disagreeing), and chunks are dropped
 * when the viewport that excludes them is sent.
 */
import {
  type Cursors,
  type Delta,
  type LodDelta,
  type LodSnapshot,
  type ErrorMessage,
  type PlacePixel,
  type PlaceResult,
  type Pong,
  type ServerMessage,
  type Snapshot,
  type Tempo,
  type Welcome,
  SESSION_TOKEN_BYTES,
  CloseCode,
  MAX_BODY_BYTES,
  Op,
  PROTOCOL_VERSION,
  ProtocolError,
  decodeServerMessages,
  encodeCursor,
  encodeHello,
  encodeLodViewport,
  encodePing,
  encodePlace,
  encodeResume,
  encodeViewport,
  protocolError,
  utf8Truncate,
} from '../net/protocol.js';
import { Emitter } from './emitter.js';
import { type ViewChunkRange, Replica, rangeHas, viewChunkRange } from './replica.js';
import { levelRect, lodSide, topLodLevel } from '../chunks/lod-geometry.js';

/** The part of a WebSocket the client uses; browser WebSocket and ws's WebSocket both fit. */
export interface WebSocketLike {
  binaryType: string;
  readyState: number;
  send(data: Uint8Array | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
  onmessage: ((ev: { data: any }) => void) | null;
  bufferedAmount?: number;
}

/** Browser: (u) => new WebSocket(u); Node: (u) => new WebSocket(u) with ws's WebSocket. */
export type WebSocketFactory = (url: string) => WebSocketLike;

export interface CanvasClientOptions {
  /** ws://host:port/ws */
  url: string;
  /** Display name sent in HELLO. */
  name?: string;
  /** Default: globalThis.WebSocket (browsers, Node ≥ 22). */
  socketFactory?: WebSocketFactory;
  /** Reconnect after the connection drops. Default true. */
  reconnect?: boolean;
  /** First reconnect delay, before jitter. Default 250 ms. */
  minBackoffMs?: number;
  /** Longest reconnect delay. Default 10000 ms. */
  maxBackoffMs?: number;
  /** Keep a replica of the chunks in view (and resume it after a reconnect). Default true; a lean load-test bot turns it off. */
  keepReplica?: boolean;
  /** Skip CURSORS messages without decoding them (no 'cursors' events, `cursors` stays empty). Default false. */
  ignoreCursors?: boolean;
  /** Count the bytes received per opcode in `bytesByOp` (load tests report cursor and LOD shares). Default false. */
  countBytesByOp?: boolean;
}

export type ClientState = 'idle' | 'connecting' | 'open' | 'closed';

export interface CloseInfo {
  code: number;
  reason: string;
  /** True when a reconnect is scheduled. */
  willReconnect: boolean;
}

export interface CursorState {
  x: number;
  y: number;
  name: string;
}

export type PongWithRtt = Pong & { rttMs: number };

/**
 * Events. Message events carry the decoded server message and fire after the client has applied it (so
 * the replica is already updated); they fire for every message received, including snapshots and deltas
 * the replica ignored. Renderers should use `replica.onChange` instead.
 */
export interface CanvasClientEvents {
  /** A WELCOME arrived: the session is open (after a reconnect too). */
  open: Welcome;
  close: CloseInfo;
  snapshot: Snapshot;
  delta: Delta;
  placeResult: PlaceResult;
  cursors: Cursors;
  /** A level-of-detail chunk snapshot / delta (applied to `lod` when it is of the level subscribed). */
  lodSnapshot: LodSnapshot;
  lodDelta: LodDelta;
  /** The level of detail of the view sent changed: renderers switch between `replica` (0) and `lod`. */
  levelChange: number;
  online: number;
  /** An ERROR message from the server. */
  error: ErrorMessage;
  /** The server sent something this client cannot decode or apply; the socket is closed with 1002 right after. */
  protocolError: ProtocolError;
  pong: PongWithRtt;
  /** Music mode: the tempo map changed (see MusicClock, which follows it). */
  tempo: Tempo;
  /** Byte length of each WebSocket message received. */
  frame: number;
  stateChange: ClientState;
}

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * Where the session is. Fields that exist only while a socket exists live only in those variants.
 * `waiting` (a reconnect is scheduled) reads as 'connecting' from outside.
 */
type Link =
  | { kind: 'idle' }
  | { kind: 'waiting'; timer: ReturnType<typeof setTimeout> }
  | { kind: 'connecting'; socket: WebSocketLike }
  | { kind: 'open'; socket: WebSocketLike; welcome: Welcome }
  | { kind: 'closed' };

/** Close code for a connection that ended without a close frame (RFC 6455 §7.4.1); used when the socket could not even be made. */
const ABNORMAL_CLOSURE = 1006;
/** Pings awaiting a pong; beyond this the oldest is forgotten (a server that never answers must not grow it). */
const MAX_PENDING_PINGS = 64;
/** RESUME entries that fit one message body: u16 count + 8 bytes each. */
const MAX_RESUME_ENTRIES = Math.floor((MAX_BODY_BYTES - 2) / 8);
/** Pixels that fit one PLACE body: u32 seq + u16 count + 5 bytes each. */
const MAX_PLACE_PIXELS = Math.floor((MAX_BODY_BYTES - 6) / 5);
/** Throttle intervals are stretched a little so timer jitter never lands a message just over the server's rate. */
const THROTTLE_SLACK = 1.05;

function now(): number {
  return performance.now();
}

function noop(): void {}

/** The server's close reason must fit 123 bytes of UTF-8. */
function closeReason(text: string): string {
  return new TextDecoder().decode(utf8Truncate(text, 123));
}

/** Closes without throwing: browsers refuse codes other than 1000 and 3000–4999 (e.g. 1002), so fall back to a bare close. */
function closeQuietly(socket: WebSocketLike, code: number, reason: string): void {
  try {
    socket.close(code, closeReason(reason));
  } catch {
    try {
      socket.close();
    } catch {
      // already closed, or closing: nothing left to do
    }
  }
}

/** Stops a dropped socket from reaching us; onerror stays a no-op because ws throws on an 'error' nobody listens to. */
function detach(socket: WebSocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = noop;
}

const IN_NODE = typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node === 'string';

function toBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

function defaultFactory(): WebSocketFactory {
  const WS = (globalThis as unknown as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
  if (WS === undefined) {
    throw new Error('CanvasClient: no global WebSocket; pass socketFactory (in Node: (u) => new WebSocket(u) from the ws package)');
  }
  return (url) => new WS(url);
}

/**
 * The rectangle actually sent for a requested one: whole pixels covering it, clamped to the canvas (as the
 * server clamps), and shrunk about its centre when its area exceeds the server's limit, which would
 * otherwise reject it and leave the server's view and ours disagreeing.
 */
export function effectiveViewport(r: Rect, width: number, height: number, maxArea: number): Rect {
  const x0 = Math.max(Math.floor(r.x), 0);
  const y0 = Math.max(Math.floor(r.y), 0);
  const x1 = Math.min(Math.ceil(r.x + r.w), width);
  const y1 = Math.min(Math.ceil(r.y + r.h), height);
  let w = Math.max(0, x1 - x0);
  let h = Math.max(0, y1 - y0);
  if (w === 0 || h === 0) return { x: Math.min(x0, width), y: Math.min(y0, height), w: 0, h: 0 };
  if (w * h <= maxArea) return { x: x0, y: y0, w, h };
  const k = Math.sqrt(maxArea / (w * h));
  let nw = Math.max(1, Math.floor(w * k));
  let nh = Math.max(1, Math.floor(h * k));
  while (nw * nh > maxArea) {
    if (nw >= nh) nw--;
    else nh--;
  }
  return { x: x0 + ((w - nw) >> 1), y: y0 + ((h - nh) >> 1), w: nw, h: nh };
}

function sameRect(a: Rect | null, b: Rect): boolean {
  return a !== null && a.x === b.x && a.y === b.y && a.w === b.w && a.h === b.h;
}

export class CanvasClient {
  /** The latest WELCOME (kept after a disconnect). */
  welcome: Welcome | null = null;
  readonly replica = new Replica();
  /**
   * While the view is subscribed at a level of detail L > 0: level L's chunks in view (in level-L pixel and
   * chunk coordinates, one value per 2^L × 2^L canvas block); null at full resolution. `replica` holds
   * nothing meanwhile (the server sends it no deltas).
   */
  lod: Replica | null = null;
  /** Others' cursors in and near the view (whole 64-px cells); cleared when the connection drops. */
  readonly cursors = new Map<number, CursorState>();
  /** Latest ONLINE count. */
  online = 0;
  /** From ONLINE: the server writes to this client every `cadence`-th tick (> 1: busy, updates slowed). */
  cadence = 1;
  /** While waiting to reconnect: when (Date.now() ms) the next attempt starts; null otherwise. */
  nextAttemptAt: number | null = null;
  /** Totals over the client's life, for load tests. */
  framesReceived = 0;
  bytesReceived = 0;
  /** With countBytesByOp: protocol bytes received (header included) per opcode, over the client's life. */
  readonly bytesByOp: Float64Array | null;
  /** With countBytesByOp: protocol messages received per opcode (decoded or stepped over). */
  readonly messagesByOp: Float64Array | null;

  private readonly opts: Required<Omit<CanvasClientOptions, 'socketFactory' | 'countBytesByOp'>> & { socketFactory: WebSocketFactory | undefined };
  private readonly events = new Emitter<CanvasClientEvents>();
  private link: Link = { kind: 'idle' };
  private lastState: ClientState = 'idle';
  /** Consecutive failed attempts since the last WELCOME; drives the backoff. */
  private attempt = 0;

  private seq = 0;
  /**
   * Sent in every HELLO of this client, so the server tells in WELCOME (`welcome.session.lastSeq`) the highest
   * PLACE seq it committed for it: after a reconnect, an unanswered PLACE with a seq at or below it was applied,
   * one above it was not (seqs only grow within one CanvasClient). `known: false` means the server cannot say.
   */
  readonly sessionToken: Uint8Array = globalThis.crypto.getRandomValues(new Uint8Array(SESSION_TOKEN_BYTES));
  private pingNonce = 0;
  private readonly pendingPings = new Map<number, number>();

  /** The viewport asked for by setViewport, as given. */
  private desiredView: Rect | null = null;
  private desiredLevel = 0;
  /** Level of the view last sent on this connection. */
  private sentLevel = 0;
  /** What this connection last sent, and the chunks it covers (null: none); reset per connection. */
  private sentView: Rect | null = null;
  private sentRange: ViewChunkRange | null = null;
  private lastViewportAt = Number.NEGATIVE_INFINITY;
  private viewportTimer: ReturnType<typeof setTimeout> | null = null;

  private pendingCursor: { x: number; y: number; hidden: boolean } | null = null;
  private lastCursorAt = Number.NEGATIVE_INFINITY;
  private cursorTimer: ReturnType<typeof setTimeout> | null = null;

  /** Opcodes stepped over undecoded. */
  private readonly skipOps: ReadonlySet<number> | undefined;

  constructor(opts: CanvasClientOptions) {
    this.opts = {
      url: opts.url,
      name: opts.name ?? '',
      socketFactory: opts.socketFactory,
      reconnect: opts.reconnect ?? true,
      minBackoffMs: opts.minBackoffMs ?? 250,
      maxBackoffMs: opts.maxBackoffMs ?? 10_000,
      keepReplica: opts.keepReplica ?? true,
      ignoreCursors: opts.ignoreCursors ?? false,
    };
    this.skipOps = this.opts.ignoreCursors ? new Set([Op.CURSORS]) : undefined;
    this.bytesByOp = opts.countBytesByOp ? new Float64Array(256) : null;
    this.messagesByOp = opts.countBytesByOp ? new Float64Array(256) : null;
    if (!(this.opts.minBackoffMs >= 0 && this.opts.maxBackoffMs >= this.opts.minBackoffMs)) {
      throw new RangeError(`CanvasClient: need 0 <= minBackoffMs <= maxBackoffMs, got ${this.opts.minBackoffMs} and ${this.opts.maxBackoffMs}`);
    }
  }

  get state(): ClientState {
    switch (this.link.kind) {
      case 'idle': return 'idle';
      case 'waiting':
      case 'connecting': return 'connecting';
      case 'open': return 'open';
      case 'closed': return 'closed';
    }
  }

  /** Bytes queued in the socket, 0 without one. */
  get bufferedAmount(): number {
    const l = this.link;
    return l.kind === 'open' || l.kind === 'connecting' ? l.socket.bufferedAmount ?? 0 : 0;
  }

  /** The viewport last sent on this connection (clamped and fitted to the limits), or null. */
  get viewport(): Readonly<Rect> | null {
    return this.sentView;
  }

  /** Level of detail of the view last sent (0: full resolution). */
  get level(): number {
    return this.sentLevel;
  }

  on<K extends keyof CanvasClientEvents>(event: K, handler: (value: CanvasClientEvents[K]) => void): () => void {
    return this.events.on(event, handler);
  }

  /** Starts connecting; a no-op while connecting or open. Throws if the socket cannot be created at all (bad URL, no WebSocket). */
  connect(): void {
    if (this.link.kind !== 'idle' && this.link.kind !== 'closed') return;
    this.attempt = 0;
    this.openSocket(this.makeSocket());
  }

  /** Closes the connection (code 1000) and stops reconnecting. `connect()` starts again. */
  close(): void {
    const l = this.link;
    if (l.kind === 'idle' || l.kind === 'closed') return;
    if (l.kind === 'waiting') {
      clearTimeout(l.timer);
      this.endSession();
      this.setLink({ kind: 'closed' });
      this.events.emit('close', { code: CloseCode.NORMAL, reason: 'client closed', willReconnect: false });
      return;
    }
    this.dropSocket(l.socket, CloseCode.NORMAL, 'client closed', false);
  }

  /** While waiting to reconnect: try at once instead of at the end of the backoff (a "retry now" button). */
  retryNow(): void {
    const l = this.link;
    if (l.kind !== 'waiting') return;
    clearTimeout(l.timer);
    this.reconnectNow();
  }

  /**
   * Sets the view in canvas pixels. Remembered, and re-sent after every reconnect. While open it is sent
   * now, or at the server's viewportHz if views change faster (only the latest is sent).
   */
  setViewport(x: number, y: number, w: number, h: number, level = 0): void {
    if (![x, y, w, h].every(Number.isFinite) || w < 0 || h < 0) {
      throw new RangeError(`CanvasClient.setViewport: need finite x, y and w, h >= 0, got ${x},${y} ${w}x${h}`);
    }
    if (!Number.isInteger(level) || level < 0 || level > 255) {
      throw new RangeError(`CanvasClient.setViewport: level must be an integer 0..255, got ${level}`);
    }
    this.desiredView = { x, y, w, h };
    this.desiredLevel = level;
    if (this.link.kind === 'open') this.scheduleViewport();
  }

  /** Places one pixel; returns the PLACE seq that its PLACE_RESULT will carry, or 0 when not open (nothing sent). */
  place(x: number, y: number, color: number): number {
    return this.placeMany([{ x, y, color }]);
  }

  /** Places several pixels in one PLACE; returns its seq, or 0 when not open (nothing sent). */
  placeMany(pixels: PlacePixel[]): number {
    if (pixels.length > MAX_PLACE_PIXELS) throw new RangeError(`CanvasClient.placeMany: ${pixels.length} pixels do not fit one message (max ${MAX_PLACE_PIXELS})`);
    const l = this.link;
    if (l.kind !== 'open') return 0;
    this.seq = this.seq >= 0xffffffff ? 1 : this.seq + 1;
    l.socket.send(encodePlace(this.seq, pixels));
    return this.seq;
  }

  /**
   * Moves this client's cursor (clamped to the canvas); throttled to the server's cursorHz, the latest
   * position winning. Ignored when not open.
   */
  moveCursor(x: number, y: number, hidden = false): void {
    if (this.link.kind !== 'open') return;
    const { width, height } = this.link.welcome;
    x = Math.min(Math.max(Math.floor(x), 0), width - 1) || 0; // `|| 0`: NaN becomes 0
    y = Math.min(Math.max(Math.floor(y), 0), height - 1) || 0;
    this.pendingCursor = { x, y, hidden };
    if (this.cursorTimer !== null) return;
    const wait = this.lastCursorAt + this.interval(this.link.welcome.limits.cursorHz) - now();
    if (wait <= 0) this.flushCursor();
    else this.cursorTimer = setTimeout(() => { this.cursorTimer = null; this.flushCursor(); }, wait);
  }

  /** Sends a PING; the 'pong' event carries the round trip. Ignored when not open. */
  ping(): void {
    const l = this.link;
    if (l.kind !== 'open') return;
    this.pingNonce = (this.pingNonce + 1) >>> 0;
    if (this.pendingPings.size >= MAX_PENDING_PINGS) {
      this.pendingPings.delete(this.pendingPings.keys().next().value!);
    }
    this.pendingPings.set(this.pingNonce, now());
    l.socket.send(encodePing(this.pingNonce));
  }

  // ---------------------------------------------------------------------------------------------------
  // Connection lifecycle

  private makeSocket(): WebSocketLike {
    const factory = this.opts.socketFactory ?? defaultFactory();
    return factory(this.opts.url);
  }

  private openSocket(socket: WebSocketLike): void {
    // Browsers hand binary messages over as ArrayBuffers; in Node, ws would copy every message into a fresh
    // ArrayBuffer for that, so there it hands over its Buffer (a view, no copy).
    socket.binaryType = IN_NODE ? 'nodebuffer' : 'arraybuffer';
    socket.onopen = () => {
      socket.send(encodeHello(PROTOCOL_VERSION, this.opts.name, this.sessionToken));
    };
    socket.onmessage = (ev) => this.onFrame(socket, ev.data);
    socket.onclose = (ev) => this.dropSocket(socket, ev.code, ev.reason, this.opts.reconnect, false);
    socket.onerror = noop; // a close event follows; its code says what happened
    this.setLink({ kind: 'connecting', socket });
  }

  /** Ends the socket's part in the session (whoever closed it) and schedules a reconnect if asked. */
  private dropSocket(socket: WebSocketLike, code: number, reason: string, reconnect: boolean, closeIt = true): void {
    const l = this.link;
    if ((l.kind !== 'connecting' && l.kind !== 'open') || l.socket !== socket) return;
    detach(socket);
    if (closeIt) closeQuietly(socket, code, reason);
    this.endSession();
    if (reconnect) {
      const delay = this.backoffMs();
      this.nextAttemptAt = Date.now() + delay;
      this.setLink({ kind: 'waiting', timer: setTimeout(() => this.reconnectNow(), delay) });
    } else {
      this.setLink({ kind: 'closed' });
    }
    this.events.emit('close', { code, reason, willReconnect: reconnect });
  }

  private reconnectNow(): void {
    if (this.link.kind !== 'waiting') return;
    this.nextAttemptAt = null;
    let socket: WebSocketLike;
    try {
      socket = this.makeSocket();
    } catch (err) {
      // Rare (the URL was accepted once); keep trying on the same schedule rather than throw from a timer.
      const delay = this.backoffMs();
      this.nextAttemptAt = Date.now() + delay;
      this.setLink({ kind: 'waiting', timer: setTimeout(() => this.reconnectNow(), delay) });
      this.events.emit('close', { code: ABNORMAL_CLOSURE, reason: String(err), willReconnect: true });
      return;
    }
    this.openSocket(socket);
  }

  /** Exponential backoff with "equal jitter" (half fixed, half random), so a crowd of reconnecting clients spreads out. */
  private backoffMs(): number {
    const { minBackoffMs, maxBackoffMs } = this.opts;
    const base = Math.min(maxBackoffMs, minBackoffMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return base / 2 + Math.random() * (base / 2);
  }

  /** Forgets everything that belongs to one connection. The replica stays, to be resumed. */
  private endSession(): void {
    if (this.viewportTimer !== null) clearTimeout(this.viewportTimer);
    if (this.cursorTimer !== null) clearTimeout(this.cursorTimer);
    this.viewportTimer = null;
    this.cursorTimer = null;
    this.pendingCursor = null;
    this.sentView = null;
    this.sentRange = null;
    this.setLevel(0);
    this.lastViewportAt = Number.NEGATIVE_INFINITY;
    this.lastCursorAt = Number.NEGATIVE_INFINITY;
    this.pendingPings.clear();
    this.cursors.clear();
  }

  private setLink(link: Link): void {
    this.link = link;
    const state = this.state;
    if (state !== this.lastState) {
      this.lastState = state;
      this.events.emit('stateChange', state);
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Receiving

  /** One WebSocket message: decode once, apply each message in order. Never throws (it runs in a socket callback). */
  private onFrame(socket: WebSocketLike, data: unknown): void {
    const bytes = toBytes(data);
    const length = bytes === null ? (typeof data === 'string' ? data.length : 0) : bytes.byteLength;
    this.framesReceived++;
    this.bytesReceived += length;
    this.events.emit('frame', length);
    try {
      if (bytes === null) throw protocolError('TEXT_FRAME', 'the server sent a non-binary message');
      const byOp = this.bytesByOp;
      if (byOp !== null) {
        // Header walk only (op u8, length u16): the decoder below checks everything.
        for (let at = 0; at + 3 <= bytes.length;) {
          const n = 3 + (bytes[at + 1]! | (bytes[at + 2]! << 8));
          byOp[bytes[at]!]! += n;
          this.messagesByOp![bytes[at]!]!++;
          at += n;
        }
      }
      const messages = decodeServerMessages(bytes, this.skipOps);
      for (let i = 0; i < messages.length; i++) {
        this.apply(socket, messages[i]!);
        // A handler may have closed the client (or a reconnect may have replaced the socket).
        if (this.socketOf() !== socket) return;
      }
    } catch (err) {
      if (this.socketOf() !== socket) return;
      const pe = err instanceof ProtocolError ? err : protocolError('MALFORMED', String(err));
      this.events.emit('protocolError', pe);
      this.dropSocket(socket, CloseCode.PROTOCOL_ERROR, pe.message, this.opts.reconnect);
    }
  }

  private socketOf(): WebSocketLike | null {
    const l = this.link;
    return l.kind === 'open' || l.kind === 'connecting' ? l.socket : null;
  }

  private apply(socket: WebSocketLike, m: ServerMessage): void {
    if (this.link.kind !== 'open') {
      if (m.type === 'welcome') return this.onWelcome(socket, m);
      if (m.type === 'error') return this.events.emit('error', m);
      throw protocolError('MALFORMED', `${m.type} before WELCOME`);
    }
    switch (m.type) {
      case 'delta':
        if (this.opts.keepReplica) this.replica.applyDelta(m);
        this.events.emit('delta', m);
        return;
      case 'snapshot':
        // Only chunks in the view the server was last told: one that left it may still be in flight, and
        // holding it would leave it stale (the server sends it no deltas).
        // (At a level of detail, full-resolution snapshots still in flight from before the switch are dropped.)
        if (this.opts.keepReplica && this.sentLevel === 0 && this.sentRange !== null && rangeHas(this.sentRange, m.cx, m.cy)) {
          this.replica.applySnapshot(m);
        }
        this.events.emit('snapshot', m);
        return;
      case 'cursors':
        this.applyCursors(m);
        this.events.emit('cursors', m);
        return;
      case 'lodSnapshot':
        // Like SNAPSHOT: only chunks of the level and view last sent.
        if (this.opts.keepReplica && this.lod !== null && m.level === this.sentLevel && this.sentRange !== null && rangeHas(this.sentRange, m.cx, m.cy)) {
          this.lod.applySnapshot({ type: 'snapshot', cx: m.cx, cy: m.cy, version: m.version, encoding: m.encoding, data: m.data });
        }
        this.events.emit('lodSnapshot', m);
        return;
      case 'lodDelta':
        if (this.opts.keepReplica && this.lod !== null && m.level === this.sentLevel) {
          this.lod.applyDelta({ type: 'delta', cx: m.cx, cy: m.cy, version: m.version, offsets: m.offsets, colors: m.colors });
        }
        this.events.emit('lodDelta', m);
        return;
      case 'placeResult':
        this.events.emit('placeResult', m);
        return;
      case 'online':
        this.online = m.count;
        this.cadence = m.cadence ?? 1; // the server's overload cadence (1: every tick; absent from older servers)
        this.events.emit('online', m.count);
        return;
      case 'error':
        this.events.emit('error', m);
        return;
      case 'pong': {
        if (!this.events.has('pong')) {
          this.pendingPings.delete(m.nonce);
          return;
        }
        const sentAt = this.pendingPings.get(m.nonce);
        this.pendingPings.delete(m.nonce);
        this.events.emit('pong', { ...m, rttMs: sentAt === undefined ? Number.NaN : now() - sentAt });
        return;
      }
      case 'tempo':
        this.events.emit('tempo', m);
        return;
      case 'welcome':
        throw protocolError('MALFORMED', 'second WELCOME on one connection');
    }
  }

  private onWelcome(socket: WebSocketLike, w: Welcome): void {
    const r = this.replica;
    // Versions are comparable only within one epoch (the same canvas history, across clean restarts too),
    // but check the rest anyway rather than resume onto a different canvas.
    const resumable =
      this.opts.keepReplica && r.epoch === w.epoch && r.width === w.width && r.height === w.height && r.background === w.background;
    if (!resumable) r.reset(w.width, w.height, w.background, w.epoch);
    this.welcome = w;
    this.attempt = 0;
    this.setLink({ kind: 'open', socket, welcome: w });

    const level = this.levelFor(w);
    const view = this.desiredView === null ? null : this.fit(this.desiredView, w, level);
    if (view === null || level > 0) {
      r.clear(); // no full-resolution view: nothing held would be kept fresh
    } else if (resumable) {
      // Resume only what the coming view keeps; RESUME must precede the VIEWPORT that makes the server send snapshots.
      r.retainOnly(view.x, view.y, view.w, view.h);
      if (r.size > 0) socket.send(encodeResume(r.heldVersions().slice(0, MAX_RESUME_ENTRIES)));
    }
    if (view !== null) this.sendViewport(socket, view, level);
    this.events.emit('open', w);
  }

  /**
   * Removed first (id 0 means "forget every cursor"), then moved. Entries may lie a little outside the view
   * (the server sends whole 64-px cursor cells); renderers show the ones inside it.
   */
  private applyCursors(m: Cursors): void {
    const self = this.link.kind === 'open' ? this.link.welcome.clientId : -1;
    for (let i = 0; i < m.removed.length; i++) {
      const id = m.removed[i]!;
      if (id === 0) this.cursors.clear();
      else this.cursors.delete(id);
    }
    for (let i = 0; i < m.moved.length; i++) {
      const c = m.moved[i]!;
      if (c.id === self) continue;
      const known = this.cursors.get(c.id);
      if (known === undefined) {
        this.cursors.set(c.id, { x: c.x, y: c.y, name: c.name });
      } else {
        known.x = c.x;
        known.y = c.y;
        if (c.name !== '') known.name = c.name; // '' means "unchanged"
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Sending, throttled

  private interval(hz: number): number {
    return hz > 0 ? (1000 / hz) * THROTTLE_SLACK : 0;
  }

  /** The level asked for, capped at the canvas's top level (the whole canvas in one level chunk). */
  private levelFor(w: Welcome): number {
    return Math.min(this.desiredLevel, topLodLevel(w.width, w.height));
  }

  /** The rect to send for a requested one at `level`: its area limit counts level pixels. */
  private fit(r: Rect, w: Welcome, level = 0): Rect {
    const max = w.limits.maxViewportArea;
    if (level === 0) return effectiveViewport(r, w.width, w.height, max);
    let area = max * 4 ** level;
    for (;;) {
      const v = effectiveViewport(r, w.width, w.height, area);
      const l = levelRect(v, level);
      if (l.w * l.h <= max || area <= 1) return v;
      area = Math.floor(area * 0.97); // the level's rounding outward made it a little too big
    }
  }

  /** Switches the replica that receives chunks (emits levelChange when it changes). */
  private setLevel(level: number): void {
    if (level === this.sentLevel) return;
    this.sentLevel = level;
    if (level === 0) {
      this.lod = null;
    } else {
      const r = this.replica;
      const lod = new Replica();
      lod.reset(lodSide(r.width, level), lodSide(r.height, level), r.background, r.epoch ?? 0);
      this.lod = lod;
    }
    this.events.emit('levelChange', level);
  }

  private scheduleViewport(): void {
    if (this.viewportTimer !== null) return; // the pending send will take the latest view
    const l = this.link;
    if (l.kind !== 'open') return;
    const wait = this.lastViewportAt + this.interval(l.welcome.limits.viewportHz) - now();
    if (wait <= 0) {
      this.flushViewport();
    } else {
      this.viewportTimer = setTimeout(() => {
        this.viewportTimer = null;
        this.flushViewport();
      }, wait);
    }
  }

  private flushViewport(): void {
    const l = this.link;
    if (l.kind !== 'open' || this.desiredView === null) return;
    const level = this.levelFor(l.welcome);
    const view = this.fit(this.desiredView, l.welcome, level);
    if (sameRect(this.sentView, view) && level === this.sentLevel) return;
    this.sendViewport(l.socket, view, level);
  }

  /**
   * Sends a view and makes the replicas match it: from now on the server sends nothing for chunks outside
   * it, nor for any other level (a level change starts the new level's replica empty).
   */
  private sendViewport(socket: WebSocketLike, view: Rect, level = 0): void {
    socket.send(level === 0 ? encodeViewport(view.x, view.y, view.w, view.h) : encodeLodViewport(level, view.x, view.y, view.w, view.h));
    this.sentView = view;
    this.setLevel(level);
    this.lastViewportAt = now();
    if (level === 0) {
      this.sentRange = viewChunkRange(view.x, view.y, view.w, view.h, this.replica.width, this.replica.height);
      if (this.opts.keepReplica) this.replica.retainOnly(view.x, view.y, view.w, view.h);
    } else {
      const c = viewChunkRange(view.x, view.y, view.w, view.h, this.replica.width, this.replica.height);
      const lr = c === null ? null : levelRect(view, level);
      const lod = this.lod!;
      this.sentRange = lr === null ? null : viewChunkRange(lr.x, lr.y, lr.w, lr.h, lod.width, lod.height);
      if (this.opts.keepReplica) {
        this.replica.clear();
        if (lr === null) lod.clear();
        else lod.retainOnly(lr.x, lr.y, lr.w, lr.h);
      }
    }
  }

  private flushCursor(): void {
    const l = this.link;
    const c = this.pendingCursor;
    if (l.kind !== 'open' || c === null) return;
    this.pendingCursor = null;
    l.socket.send(encodeCursor(c.x, c.y, c.hidden));
    this.lastCursorAt = now();
  }
}

// Re-exported so callers need only this module.
export { Replica } from './replica.js';
export type { PlacePixel, Welcome, Snapshot, Delta, PlaceResult, Cursors, ErrorMessage, Pong, Tempo, MusicInfo } from '../net/protocol.js';
