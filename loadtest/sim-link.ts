/**
 * What a simulated user needs from its connection, so one fleet drives either client: `lean` (LeanLink, plain
 * sockets, messages walked by header) or `ws` (WsLink: the project's CanvasClient over the ws package, as the
 * load test ran before). Both send the same messages for the same calls, so their byte and frame counts
 * measure the same server.
 */
import WebSocket from 'ws';
import { CanvasClient, type WebSocketLike } from '../src/client/canvas-client.js';
import { errorName } from '../src/net/protocol.js';
import type { Rect } from '../src/client/client-types.js';

export type { ClientKind } from './cli.js';

/** What WELCOME told that the users need. */
export interface WelcomeInfo {
  width: number;
  height: number;
  paletteSize: number;
  background: number;
  maxPlaceBatch: number;
}

/** A DELTA's (offset, colour) pairs, read only when the user looks (no arrays made for it). */
export interface DeltaPairs {
  readonly count: number;
  offset(i: number): number;
  color(i: number): number;
}

/** The events of one link, with the user they belong to (one handler object serves a whole fleet). */
export interface LinkHandler<U> {
  open(u: U, w: WelcomeInfo): void;
  /**
   * The connection ended with `code` (1006: it just ended). `refusedStatus` is the HTTP status when the
   * server answered the handshake with a refusal (503: overloaded, come back later), else 0.
   */
  closed(u: U, code: number, refusedStatus: number): void;
  /** A full-resolution SNAPSHOT: its pixels, in `encoding`, are data[at, end), valid only during the call. */
  snapshot(u: U, cx: number, cy: number, encoding: number, data: Uint8Array, at: number, end: number): void;
  delta(u: U, cx: number, cy: number, pairs: DeltaPairs): void;
  placeResult(u: U, seq: number, status: number, count: number): void;
  /** An error worth counting: `server:NAME` (an ERROR message), `protocol:CODE`. */
  error(u: U, kind: string): void;
}

export interface LinkOptions {
  url: string;
  name: string;
  localAddress?: string;
}

export interface SimLink {
  readonly state: 'idle' | 'connecting' | 'open' | 'closed';
  /** The view last sent on this connection (fitted to the canvas and limits), or null; a new object per send. */
  readonly viewport: Readonly<Rect> | null;
  /** Level of detail of the view last sent. */
  readonly level: number;
  readonly framesReceived: number;
  readonly bytesReceived: number;
  /** Protocol bytes and messages received per opcode (header included). */
  readonly bytesByOp: Float64Array;
  readonly messagesByOp: Float64Array;
  connect(): void;
  close(): void;
  setViewport(x: number, y: number, w: number, h: number, level: number): void;
  moveCursor(x: number, y: number): void;
  /** Sends one PLACE; returns its seq, or 0 when not open. */
  placeMany(pixels: ReadonlyArray<{ x: number; y: number; color: number }>): number;
  /** Sends what throttling held back, when due (the fleet calls it every step). */
  poll(now: number): void;
  /**
   * Messages sent between cork() and uncork() leave in one write (lean client; ws writes each at once).
   * The same messages in the same order, microseconds apart: the server sees the same traffic.
   */
  cork(): void;
  uncork(): void;
}

/** Reads a decoded Delta's arrays. */
class DecodedPairs implements DeltaPairs {
  offsets: Uint16Array = new Uint16Array(0);
  colors: Uint8Array = new Uint8Array(0);
  get count(): number { return this.offsets.length; }
  offset(i: number): number { return this.offsets[i]!; }
  color(i: number): number { return this.colors[i]!; }
}

/** The project's client library over ws: the reference the lean client is compared with. */
export class WsLink<U> implements SimLink {
  private readonly client: CanvasClient;
  private readonly pairs = new DecodedPairs();

  /** HTTP status of a refused handshake (ws reports it as an error before the close event), else 0. */
  private refusedStatus = 0;

  constructor(opts: LinkOptions, user: U, h: LinkHandler<U>) {
    const localAddress = opts.localAddress;
    this.client = new CanvasClient({
      url: opts.url,
      name: opts.name,
      reconnect: false,
      keepReplica: false,
      ignoreCursors: true, // a bot draws no cursors: step over them undecoded (their bytes are still counted)
      countBytesByOp: true,
      socketFactory: (url) => {
        const ws = new WebSocket(url, {
          perMessageDeflate: false,
          handshakeTimeout: 15_000,
          ...(localAddress ? { localAddress } : {}),
        });
        this.refusedStatus = 0;
        // ws words a refused upgrade as "Unexpected server response: 503"; the close event that follows says 1006.
        ws.on('error', (err) => {
          const m = /Unexpected server response: (\d{3})/.exec(err.message);
          if (m) this.refusedStatus = Number(m[1]);
        });
        return ws as unknown as WebSocketLike;
      },
    });
    const c = this.client;
    c.on('open', (w) => h.open(user, {
      width: w.width, height: w.height, paletteSize: w.palette.length, background: w.background, maxPlaceBatch: w.limits.maxPlaceBatch,
    }));
    c.on('close', (e) => h.closed(user, e.code, this.refusedStatus));
    c.on('snapshot', (m) => h.snapshot(user, m.cx, m.cy, m.encoding, m.data, 0, m.data.length));
    c.on('delta', (m) => {
      this.pairs.offsets = m.offsets;
      this.pairs.colors = m.colors;
      h.delta(user, m.cx, m.cy, this.pairs);
    });
    c.on('placeResult', (m) => h.placeResult(user, m.seq, m.status, m.count));
    c.on('error', (m) => h.error(user, `server:${errorName(m.code) ?? m.code}`));
    c.on('protocolError', (e) => h.error(user, `protocol:${e.code}`));
  }

  get state(): SimLink['state'] { return this.client.state; }
  get viewport(): Readonly<Rect> | null { return this.client.viewport; }
  get level(): number { return this.client.level; }
  get framesReceived(): number { return this.client.framesReceived; }
  get bytesReceived(): number { return this.client.bytesReceived; }
  get bytesByOp(): Float64Array { return this.client.bytesByOp!; }
  get messagesByOp(): Float64Array { return this.client.messagesByOp!; }
  connect(): void { this.client.connect(); }
  close(): void { this.client.close(); }
  setViewport(x: number, y: number, w: number, h: number, level: number): void { this.client.setViewport(x, y, w, h, level); }
  moveCursor(x: number, y: number): void { this.client.moveCursor(x, y); }
  placeMany(pixels: ReadonlyArray<{ x: number; y: number; color: number }>): number { return this.client.placeMany(pixels as { x: number; y: number; color: number }[]); }
  poll(): void {} // CanvasClient throttles with timers of its own
  cork(): void {}
  uncork(): void {}
}
