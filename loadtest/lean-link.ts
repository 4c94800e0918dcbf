/**
 * A simulated user's session over LeanSocket: HELLO → WELCOME → VIEWPORT, then the server's messages walked by
 * their headers (`op u8 | length u16 | body`, docs/protocol.md). Only what a user acts on is read: WELCOME
 * (decoded once), PLACE_RESULT, SNAPSHOT and DELTA headers, and a DELTA's pairs only when the fleet asks for
 * them (it has a placement pending in that chunk). CURSORS, ONLINE, PONG, level-of-detail chunks and the rest
 * are stepped over by length and counted.
 *
 * It sends what the project's client sends for the same calls (CanvasClient: the view fitted to the canvas
 * and the area limit, viewports throttled to viewportHz and cursors to cursorHz, the latest one winning), so
 * lean and ws runs of one seed produce the same traffic.
 */
import {
  Op, PROTOCOL_VERSION, SESSION_TOKEN_BYTES, decodeServerMessages, encodeCursor, encodeHello, encodeLodViewport, encodePlace,
  encodeViewport, errorName, type Welcome,
} from '../src/net/protocol.js';
import { randomBytes } from 'node:crypto';
import { LeanSocket } from './lean-socket.js';
import type { DeltaPairs, LinkHandler, LinkOptions, SimLink } from './sim-link.js';
import { topLodLevel } from '../src/chunks/lod-geometry.js';
import type { Rect } from '../src/client/client-types.js';
import { fitViewport } from '../src/client/view-subscription.js';
import { WS_PROTOCOL_ERROR } from './ws-frame.js';

/** Throttle intervals are stretched a little, as the project's client does, so jitter never lands just over the server's rate. */
const THROTTLE_SLACK = 1.05;
/** Fixed bytes of bodies read here: SNAPSHOT cx cy version encoding; DELTA cx cy version count; PLACE_RESULT. */
const SNAPSHOT_FIXED = 9;
const DELTA_FIXED = 10;
const PLACE_RESULT_FIXED = 11;

/** A DELTA's pairs in the message bytes: offset u16 LE and colour u8, three bytes each. */
class WirePairs implements DeltaPairs {
  bytes: Uint8Array = new Uint8Array(0);
  at = 0;
  count = 0;
  offset(i: number): number {
    const p = this.at + 3 * i;
    return this.bytes[p]! | (this.bytes[p + 1]! << 8);
  }
  color(i: number): number {
    return this.bytes[this.at + 3 * i + 2]!;
  }
}

/** CURSOR x y flags (5-byte body), shown visible: the bytes encodeCursor(x, y, false) makes. */
const CURSOR_SCRATCH = encodeCursor(0, 0, false);

/** Opcodes this client steps over without reading (their bytes are still counted). */
const STEPPED_OVER = new Set<number>([Op.CURSORS, Op.ONLINE, Op.PONG, Op.LOD_SNAPSHOT, Op.LOD_DELTA, Op.TEMPO]);

export class LeanLink<U> implements SimLink {
  state: SimLink['state'] = 'idle';
  viewport: Readonly<Rect> | null = null;
  level = 0;
  framesReceived = 0;
  bytesReceived = 0;
  readonly bytesByOp = new Float64Array(256);
  readonly messagesByOp = new Float64Array(256);

  private socket: LeanSocket | null = null;
  private welcome: Welcome | null = null;
  private seq = 0;
  private readonly token = randomBytes(SESSION_TOKEN_BYTES);
  private readonly pairs = new WirePairs();
  private desired: { x: number; y: number; w: number; h: number; level: number } | null = null;
  private viewportDue = false;
  private lastViewportAt = Number.NEGATIVE_INFINITY;
  private cursor: { x: number; y: number } | null = null;
  private lastCursorAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: LinkOptions, private readonly user: U, private readonly h: LinkHandler<U>) {}

  connect(): void {
    if (this.state === 'connecting' || this.state === 'open') return;
    this.state = 'connecting';
    const socket = new LeanSocket({ url: this.opts.url, ...(this.opts.localAddress ? { localAddress: this.opts.localAddress } : {}) }, {
      open: () => socket.send(encodeHello(PROTOCOL_VERSION, this.opts.name, this.token)),
      message: (b, s, e) => this.onMessage(socket, b, s, e),
      close: (code, _reason, refusedStatus) => this.onClose(socket, code, refusedStatus),
    });
    this.socket = socket;
  }

  close(): void {
    this.socket?.close(1000, 'client closed');
  }

  /** Messages sent until uncork() leave in one write (see LeanSocket.cork). */
  cork(): void {
    this.socket?.cork();
  }

  uncork(): void {
    this.socket?.uncork();
  }

  setViewport(x: number, y: number, w: number, h: number, level: number): void {
    this.desired = { x, y, w, h, level };
    this.viewportDue = true;
    this.poll(performance.now());
  }

  moveCursor(x: number, y: number): void {
    const w = this.welcome;
    if (this.state !== 'open' || w === null) return;
    this.cursor = {
      x: Math.min(Math.max(Math.floor(x), 0), w.width - 1) || 0,
      y: Math.min(Math.max(Math.floor(y), 0), w.height - 1) || 0,
    };
    this.poll(performance.now());
  }

  placeMany(pixels: ReadonlyArray<{ x: number; y: number; color: number }>): number {
    if (this.state !== 'open') return 0;
    this.seq = this.seq >= 0xffffffff ? 1 : this.seq + 1;
    this.socket!.send(encodePlace(this.seq, pixels));
    return this.seq;
  }

  poll(now: number): void {
    if (!this.viewportDue && this.cursor === null) return; // the usual case: nothing held back
    const w = this.welcome;
    if (this.state !== 'open' || w === null) return;
    if (this.viewportDue && now >= this.lastViewportAt + interval(w.limits.viewportHz)) this.flushViewport(w, now);
    if (this.cursor !== null && now >= this.lastCursorAt + interval(w.limits.cursorHz)) {
      // The most frequent message a user sends: written into one scratch message (send copies it into the frame).
      const m = CURSOR_SCRATCH;
      m[3] = this.cursor.x & 0xff; m[4] = this.cursor.x >>> 8;
      m[5] = this.cursor.y & 0xff; m[6] = this.cursor.y >>> 8;
      this.socket!.send(m);
      this.cursor = null;
      this.lastCursorAt = now;
    }
  }

  private flushViewport(w: Welcome, now: number): void {
    this.viewportDue = false;
    const d = this.desired;
    if (d === null) return;
    const level = Math.min(d.level, topLodLevel(w.width, w.height));
    const v = fitViewport(d, w.width, w.height, w.limits.maxViewportArea, level);
    const s = this.viewport;
    if (s !== null && s.x === v.x && s.y === v.y && s.w === v.w && s.h === v.h && level === this.level) return;
    this.socket!.send(level === 0 ? encodeViewport(v.x, v.y, v.w, v.h) : encodeLodViewport(level, v.x, v.y, v.w, v.h));
    this.viewport = v;
    this.level = level;
    this.lastViewportAt = now;
  }

  private onClose(socket: LeanSocket, code: number, refusedStatus: number): void {
    if (socket !== this.socket) return;
    this.socket = null;
    this.state = 'closed';
    this.welcome = null;
    this.viewport = null;
    this.level = 0;
    this.viewportDue = this.desired !== null;
    this.cursor = null;
    this.lastViewportAt = this.lastCursorAt = Number.NEGATIVE_INFINITY;
    this.h.closed(this.user, code, refusedStatus);
  }

  private protocolError(socket: LeanSocket, code: string): void {
    this.h.error(this.user, `protocol:${code}`);
    socket.close(WS_PROTOCOL_ERROR, code);
  }

  /** One WebSocket message: one or more protocol messages back to back. */
  private onMessage(socket: LeanSocket, b: Uint8Array, start: number, end: number): void {
    this.framesReceived++;
    this.bytesReceived += end - start;
    const byOp = this.bytesByOp;
    const countOp = this.messagesByOp;
    let at = start;
    while (at < end) {
      if (socket !== this.socket) return; // closed by a handler
      if (end - at < 3) return this.protocolError(socket, 'MALFORMED');
      const op = b[at]!;
      const len = b[at + 1]! | (b[at + 2]! << 8);
      const next = at + 3 + len;
      if (next > end) return this.protocolError(socket, 'MALFORMED');
      byOp[op] += 3 + len;
      countOp[op]++;
      const body = at + 3;
      if (this.state !== 'open') {
        if (op === Op.WELCOME) this.onWelcome(b.subarray(at, next));
        else if (op === Op.ERROR) this.serverError(b, body, len);
        else return this.protocolError(socket, 'MALFORMED');
      } else if (op === Op.DELTA) {
        if (len < DELTA_FIXED) return this.protocolError(socket, 'MALFORMED');
        const count = b[body + 8]! | (b[body + 9]! << 8);
        if (DELTA_FIXED + 3 * count > len) return this.protocolError(socket, 'MALFORMED');
        const p = this.pairs;
        p.bytes = b;
        p.at = body + DELTA_FIXED;
        p.count = count;
        this.h.delta(this.user, b[body]! | (b[body + 1]! << 8), b[body + 2]! | (b[body + 3]! << 8), p);
      } else if (op === Op.SNAPSHOT) {
        if (len < SNAPSHOT_FIXED) return this.protocolError(socket, 'MALFORMED');
        this.h.snapshot(this.user, b[body]! | (b[body + 1]! << 8), b[body + 2]! | (b[body + 3]! << 8), b[body + 8]!, b, body + SNAPSHOT_FIXED, next);
      } else if (op === Op.PLACE_RESULT) {
        if (len < PLACE_RESULT_FIXED) return this.protocolError(socket, 'MALFORMED');
        const seq = (b[body]! | (b[body + 1]! << 8) | (b[body + 2]! << 16) | (b[body + 3]! << 24)) >>> 0;
        this.h.placeResult(this.user, seq, b[body + 4]!, b[body + 5]! | (b[body + 6]! << 8));
      } else if (op === Op.ERROR) {
        this.serverError(b, body, len);
      } else if (op === Op.WELCOME) {
        return this.protocolError(socket, 'MALFORMED'); // a second WELCOME on one connection
      } else if (!STEPPED_OVER.has(op)) {
        return this.protocolError(socket, 'UNKNOWN_OPCODE');
      }
      at = next;
    }
  }

  private serverError(b: Uint8Array, body: number, len: number): void {
    const code = len >= 2 ? b[body]! | (b[body + 1]! << 8) : -1;
    this.h.error(this.user, `server:${errorName(code) ?? code}`);
  }

  private onWelcome(message: Uint8Array): void {
    let w: Welcome;
    try {
      w = decodeServerMessages(message)[0] as Welcome;
    } catch (err) {
      return this.protocolError(this.socket!, (err as { code?: string }).code ?? 'MALFORMED');
    }
    this.welcome = w;
    this.state = 'open';
    this.h.open(this.user, { width: w.width, height: w.height, paletteSize: w.palette.length, background: w.background, maxPlaceBatch: w.limits.maxPlaceBatch });
    // A view asked for before WELCOME goes now.
    if (this.viewportDue && this.state === 'open') this.flushViewport(w, performance.now());
  }
}

function interval(hz: number): number {
  return hz > 0 ? (1000 / hz) * THROTTLE_SLACK : 0;
}
