/**
 * The leanest correct WebSocket client for the load test: a plain TCP socket, the opening handshake checked
 * (status 101, Sec-WebSocket-Accept of our key), masked client frames, server frames parsed by header
 * (ws-frame.ts), pings answered, close frames echoed.
 *
 * Reads land in one buffer shared by every socket of the thread (net's `onread`), so a read allocates
 * nothing; the parser copies only a frame split across reads. Sends are framed into one Buffer each (client
 * messages are few and small next to what the server sends).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  FrameParser, WS_ABNORMAL, WS_PROTOCOL_ERROR, WsOpcode, checkHandshake, clientFrameLength, handshakeKey, handshakeRequest,
  writeClientFrame,
} from './ws-frame.js';

export interface LeanSocketHandler {
  open(): void;
  /** A complete binary message: bytes[start, end), valid only during the call. */
  message(bytes: Uint8Array, start: number, end: number): void;
  /**
   * Once per socket: the close code received (1005 without one), or 1006 when the connection just ended.
   * `refusedStatus`: the HTTP status when the server answered the handshake with something other than 101
   * (503 with Retry-After is an overloaded server's clean refusal), else 0.
   */
  close(code: number, reason: string, refusedStatus: number): void;
}

export interface LeanSocketOptions {
  /** ws://host:port/path (no TLS: the load test is loopback only). */
  url: string;
  localAddress?: string;
  handshakeTimeoutMs?: number;
  maxMessageBytes?: number;
}

/**
 * Frames sent and write calls made by this thread's lean sockets (the report's generatorWritesPerSecond): the
 * ratio shows how much coalescing saves.
 */
export const sendStats = { frames: 0, writes: 0 };

/** One read buffer per thread: each socket's bytes are parsed before the next read lands. */
const READ_BUFFER = new Uint8Array(256 * 1024);
/** Longest response head we wait for before giving up on the handshake. */
const MAX_HEAD_BYTES = 8192;

type Phase = 'connecting' | 'handshake' | 'open' | 'closing' | 'closed';

export class LeanSocket {
  private readonly socket: Socket;
  private phase: Phase = 'connecting';
  private head = '';
  private readonly key = handshakeKey();
  /** One random key per connection, reused for every frame it sends. */
  private readonly mask: Uint8Array = randomBytes(4);
  private readonly parser: FrameParser;
  private closeCode = WS_ABNORMAL;
  private closeReason = '';
  private refusedStatus = 0;
  /** Frames sent while corked, written together by uncork(). */
  private corked = false;
  private held: Buffer[] = [];

  constructor(opts: LeanSocketOptions, private readonly handler: LeanSocketHandler) {
    const u = new URL(opts.url);
    if (u.protocol !== 'ws:') throw new Error(`lean client: only ws:// URLs, got ${u.protocol}`);
    const port = Number(u.port || 80);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    this.parser = new FrameParser({
      message: (b, s, e, binary) => {
        if (this.phase !== 'open') return; // closed by an earlier message of the same read
        if (!binary) return this.protocolFailure(WS_PROTOCOL_ERROR, 'text frame');
        this.handler.message(b, s, e);
      },
      ping: (payload) => this.sendFrame(WsOpcode.PONG, payload),
      close: (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason;
        // Echo the close (§5.5.1) and let the server end the TCP connection.
        if (this.phase === 'open') this.sendFrame(WsOpcode.CLOSE, closePayload(code === 1005 ? 1000 : code));
        this.phase = 'closing';
        this.socket.end();
        this.report();
      },
      fail: (code, why) => this.protocolFailure(code, why),
    }, opts.maxMessageBytes);
    this.socket = netConnect({
      host, port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => { this.onRead(buf, n); return true; } },
    });
    this.socket.setNoDelay(true);
    this.socket.setTimeout(opts.handshakeTimeoutMs ?? 15_000, () => {
      if (this.phase === 'connecting' || this.phase === 'handshake') this.socket.destroy();
    });
    this.socket.on('connect', () => {
      this.phase = 'handshake';
      this.socket.write(handshakeRequest(`${u.hostname}:${port}`, u.pathname + u.search, this.key));
    });
    this.socket.on('error', () => {}); // 'close' follows and reports
    this.socket.on('close', () => this.report());
  }

  get isOpen(): boolean {
    return this.phase === 'open';
  }

  /** Sends one binary message; ignored unless open. */
  send(payload: Uint8Array): void {
    if (this.phase === 'open') this.sendFrame(WsOpcode.BINARY, payload);
  }

  /** Starts the closing handshake with `code`; the handler's close fires now, once. */
  close(code = 1000, reason = ''): void {
    if (this.phase === 'closed') return;
    if (this.phase === 'open') this.sendFrame(WsOpcode.CLOSE, closePayload(code));
    if (this.phase === 'open' || this.phase === 'closing') this.socket.end();
    else this.socket.destroy();
    this.closeCode = code;
    this.closeReason = reason;
    this.report();
  }

  /**
   * Holds the frames sent until uncork() and writes them as one: a user whose cursor move, pan and paint fall
   * due in the same step costs one write system call, not three. On loopback a write also pays for the
   * server's side of TCP receive, so writes are most of what the generator spends in the kernel.
   */
  cork(): void {
    this.corked = true;
  }

  uncork(): void {
    this.corked = false;
    const held = this.held;
    if (held.length === 0) return;
    this.held = [];
    if (this.phase === 'closed') return;
    sendStats.writes++;
    this.socket.write(held.length === 1 ? held[0]! : Buffer.concat(held));
  }

  private sendFrame(opcode: number, payload: Uint8Array): void {
    const out = Buffer.allocUnsafe(clientFrameLength(payload.length));
    writeClientFrame(out, 0, opcode, payload, 0, payload.length, this.mask);
    sendStats.frames++;
    // Control frames (pong, close) never wait: a close must follow what was held, so flush that first.
    if (this.corked && opcode === WsOpcode.BINARY) {
      this.held.push(out);
      return;
    }
    if (this.held.length > 0) this.uncork();
    sendStats.writes++;
    this.socket.write(out);
  }

  private protocolFailure(code: number, why: string): void {
    if (this.phase === 'closed') return;
    if (this.phase === 'open') this.sendFrame(WsOpcode.CLOSE, closePayload(code));
    this.socket.end();
    this.closeCode = code;
    this.closeReason = why;
    this.report();
  }

  private report(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.socket.setTimeout(0);
    this.handler.close(this.closeCode, this.closeReason, this.refusedStatus);
  }

  private onRead(buf: Uint8Array, n: number): void {
    if (this.phase === 'open') {
      this.parser.feed(buf, 0, n);
      return;
    }
    if (this.phase !== 'handshake') return;
    // The response head is ASCII; latin1 maps bytes to characters one to one, so lengths match the bytes.
    this.head += Buffer.from(buf.buffer, buf.byteOffset, n).toString('latin1');
    const endOfHead = this.head.indexOf('\r\n\r\n');
    if (endOfHead < 0) {
      if (this.head.length > MAX_HEAD_BYTES) this.socket.destroy();
      return;
    }
    const why = checkHandshake(this.head.slice(0, endOfHead), this.key);
    if (why !== null) {
      this.closeReason = `handshake: ${why}`;
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(this.head);
      if (status && status[1] !== '101') this.refusedStatus = Number(status[1]);
      this.socket.destroy();
      return;
    }
    const restFrom = n - (this.head.length - endOfHead - 4);
    this.head = '';
    this.phase = 'open';
    this.socket.setTimeout(0);
    this.handler.open();
    if (restFrom < n && this.phase === 'open') this.parser.feed(buf, restFrom, n);
  }
}

function closePayload(code: number): Uint8Array {
  return Uint8Array.of(code >>> 8, code & 0xff);
}
