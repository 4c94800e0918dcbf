/**
 * The ws adapter: one ws socket as the room's Transport. The tick's write goes out pre-framed (ws-frame.ts)
 * straight to the TCP socket when ws has nothing queued; everything else goes through ws. Typed against the
 * few members of ws's WebSocket it uses, so only ws-server.ts imports ws.
 */
import type { Socket } from 'node:net';
import { type Transport, joinParts } from './transport.js';
import { DirectWriter } from './direct-write.js';
import { frameBinary, frameHeadBytes, frameInto } from './ws-frame.js';

/** How long a peer gets to finish the closing handshake we started before its socket is destroyed. */
const CLOSE_GRACE_MS = 2000;

/** WebSocket readyState values (the WHATWG API's numbers, which ws uses too). */
const OPEN = 1;
const CLOSED = 3;

/** The members of ws's WebSocket this adapter uses. */
export interface WsSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array, options: { binary: boolean }): void;
  close(code: number, reason: string): void;
  terminate(): void;
}

/** The parts of ws's WebSocket and Sender that pre-framed writes rely on (ws 8; checked before each use). */
interface WsInternals {
  _socket?: Socket | null;
  _sender?: { _state?: number; _queue?: unknown[] } | null;
}

/**
 * The frame buffer every tick write is built in (the process is single-threaded and DirectWriter copies
 * whatever the kernel does not take, so one buffer serves every client of every tick). Grown to the largest
 * frame seen; one larger than SCRATCH_KEEP is framed in a buffer of its own instead.
 */
let scratch = Buffer.allocUnsafeSlow(64 * 1024);
const SCRATCH_KEEP = 1024 * 1024;

export class WsTransport implements Transport {
  /** The socket's direct writer, made on the first pre-framed write (ws has its socket by then). */
  private writer: DirectWriter | null = null;
  constructor(private readonly ws: WsSocket) {}
  send(bytes: Uint8Array): void {
    if (this.ws.readyState === OPEN) this.ws.send(bytes, { binary: true });
  }
  /**
   * The tick's write, as ws itself would write an uncompressed frame (permessage-deflate is off) minus ws's
   * separate header buffer, cork and second write, and Node's stream bookkeeping: framed in the shared
   * scratch buffer and written straight to the socket (`DirectWriter`: one write(2) when nothing is queued;
   * only what the kernel does not take is copied, and queued). Only while ws's sender is idle with nothing
   * queued, so frames stay in order; otherwise, and should ws's internals ever differ, through ws.send.
   * bufferedAmount still counts queued bytes (ws reads it from the socket's writable state).
   */
  sendParts(parts: readonly Uint8Array[], total: number, count = parts.length): void {
    const ws = this.ws;
    if (ws.readyState !== OPEN) return;
    const internals = ws as unknown as WsInternals;
    const socket = internals._socket;
    const sender = internals._sender;
    if (socket && !socket.destroyed && sender && sender._state === 0 && Array.isArray(sender._queue) && sender._queue.length === 0) {
      const writer = this.writer ??= new DirectWriter(socket);
      const length = frameHeadBytes(total) + total;
      if (length > scratch.length) {
        if (length > SCRATCH_KEEP) {
          writer.write(frameBinary(parts, total, count)); // its own buffer: a remainder needs no copy
          return;
        }
        scratch = Buffer.allocUnsafeSlow(Math.min(SCRATCH_KEEP, Math.max(length, scratch.length * 2)));
      }
      writer.writeFrom(scratch, frameInto(scratch, parts, total, count));
      return;
    }
    ws.send(joinParts(parts, total, count), { binary: true });
  }
  close(code: number, reason: string): void {
    if (this.ws.readyState === CLOSED) return;
    this.ws.close(code, reason);
    // A stalled peer never reads our close frame; don't keep its buffers for ws's 30 s default.
    const ws = this.ws;
    setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
  }
  terminate(): void {
    this.ws.terminate();
  }
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
}
