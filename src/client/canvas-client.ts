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
 *
 * This file is the connection and the dispatch of what arrives; the parts live beside it: the socket and the
 * reconnect schedule in socket-link.ts, the view, its level of detail and RESUME in view-subscription.ts,
 * cursors in cursor-sync.ts, the public shapes in client-types.ts.
 */
import {
  type PlacePixel,
  type ServerMessage,
  type Welcome,
  SESSION_TOKEN_BYTES,
  CloseCode,
  MAX_BODY_BYTES,
  Op,
  PROTOCOL_VERSION,
  ProtocolError,
  decodeServerMessages,
  encodeHello,
  encodePing,
  encodePlace,
  protocolError,
} from '../net/protocol.js';
import { Emitter } from './emitter.js';
import { Replica } from './replica.js';
import type {
  CanvasClientEvents, CanvasClientOptions, ClientState, CursorState, Rect, WebSocketFactory, WebSocketLike,
} from './client-types.js';
import { ABNORMAL_CLOSURE, IN_NODE, type Link, backoffMs, closeQuietly, defaultFactory, detach, noop, toBytes } from './socket-link.js';
import { ViewSubscription } from './view-subscription.js';
import { CursorSync } from './cursor-sync.js';
import { now } from './throttle.js';

export type {
  CanvasClientEvents, CanvasClientOptions, ClientState, CloseInfo, CursorState, PongWithRtt, WebSocketFactory, WebSocketLike,
} from './client-types.js';
export { effectiveViewport } from './view-subscription.js';

/** Pings awaiting a pong; beyond this the oldest is forgotten (a server that never answers must not grow it). */
const MAX_PENDING_PINGS = 64;
/** Pixels that fit one PLACE body: u32 seq + u16 count + 5 bytes each. */
const MAX_PLACE_PIXELS = Math.floor((MAX_BODY_BYTES - 6) / 5);

export class CanvasClient {
  /** The latest WELCOME (kept after a disconnect). */
  welcome: Welcome | null = null;
  readonly replica = new Replica();
  /** Others' cursors in and near the view (whole 64-px cells); cleared when the connection drops. */
  readonly cursors: Map<number, CursorState>;
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

  private readonly subscription: ViewSubscription;
  private readonly cursorSync: CursorSync;

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
    const openLink = () => (this.link.kind === 'open' ? this.link : null);
    this.subscription = new ViewSubscription({
      replica: this.replica, keepReplica: this.opts.keepReplica, openLink,
      levelChanged: (level) => this.events.emit('levelChange', level),
    });
    this.cursorSync = new CursorSync(openLink);
    this.cursors = this.cursorSync.cursors;
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
    return this.subscription.view;
  }

  /** Level of detail of the view last sent (0: full resolution). */
  get level(): number {
    return this.subscription.level;
  }

  /**
   * While the view is subscribed at a level of detail L > 0: level L's chunks in view (in level-L pixel and
   * chunk coordinates, one value per 2^L × 2^L canvas block); null at full resolution. `replica` holds
   * nothing meanwhile (the server sends it no deltas).
   */
  get lod(): Replica | null {
    return this.subscription.lod;
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
    this.subscription.request({ x, y, w, h }, level);
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
    this.cursorSync.move(x, y, hidden);
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

  /** The next reconnect delay (socket-link.ts's backoff); each call counts one more failed attempt. */
  private backoffMs(): number {
    return backoffMs(this.attempt++, this.opts.minBackoffMs, this.opts.maxBackoffMs);
  }

  /** Forgets everything that belongs to one connection. The replica stays, to be resumed. */
  private endSession(): void {
    this.subscription.reset();
    this.cursorSync.reset();
    this.pendingPings.clear();
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
        if (this.opts.keepReplica && this.subscription.holdsChunk(m.cx, m.cy)) {
          this.replica.applySnapshot(m);
        }
        this.events.emit('snapshot', m);
        return;
      case 'cursors':
        this.cursorSync.apply(m, this.link.welcome.clientId);
        this.events.emit('cursors', m);
        return;
      case 'lodSnapshot':
        // Like SNAPSHOT: only chunks of the level and view last sent.
        if (this.opts.keepReplica && this.subscription.holdsLodChunk(m.level, m.cx, m.cy)) {
          this.lod!.applySnapshot({ type: 'snapshot', cx: m.cx, cy: m.cy, version: m.version, encoding: m.encoding, data: m.data });
        }
        this.events.emit('lodSnapshot', m);
        return;
      case 'lodDelta':
        if (this.opts.keepReplica && this.lod !== null && m.level === this.subscription.level) {
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

    this.subscription.start(socket, w, resumable);
    this.events.emit('open', w);
  }
}

// Re-exported so callers need only this module.
export { Replica } from './replica.js';
export type { PlacePixel, Welcome, Snapshot, Delta, PlaceResult, Cursors, ErrorMessage, Pong, Tempo, MusicInfo, WirePattern, WirePatternSwitch } from '../net/protocol.js';
