/**
 * The cheapest way to hand one buffer to a TCP socket from Node: a `write(2)` on the socket's descriptor,
 * skipping the stream machinery (Writable state, a WriteWrap, an after-write tick) that `socket.write` runs
 * for every call — up to a tenth of a small loopback write's CPU here (bench/write-floor.bench.ts measures
 * the paths side by side). Only when nothing is queued on the socket, so bytes stay in order; whatever the
 * kernel does not take at once (a full send buffer, EAGAIN) goes through `socket.write` as before, which
 * queues it and keeps `writableLength` (ws's bufferedAmount) honest. Any other error is left to
 * `socket.write` to raise through the socket's usual 'error' path. Where the descriptor is not exposed
 * (Windows, a TLS socket, a socket not yet connected) it is just `socket.write`.
 */
import { writeSync } from 'node:fs';
import type { Socket } from 'node:net';

/** The parts of a net.Socket this relies on (Node's TCPWrap exposes `fd` on POSIX systems). */
interface SocketInternals {
  _handle?: { fd?: unknown } | null;
  encrypted?: boolean;
}

/** write(2) of buf[0, length) to fd: the bytes the kernel took (0 when it took none or the peer is gone). */
function tryWrite(fd: number, buf: Uint8Array, length: number): number {
  try {
    return writeSync(fd, buf, 0, length);
  } catch {
    // EAGAIN (send buffer full) or a dead peer (EPIPE, ECONNRESET): socket.write queues the bytes or reports
    // the error through the socket's own 'error' and 'close' events, exactly as without this shortcut.
    return 0;
  }
}

/**
 * Direct writes to one socket, written to again and again (the tick's write to one client). The
 * descriptor is read once (Node's `fd` is a native accessor) and kept while the socket keeps the same
 * handle — Node drops the handle (sets it to null) when the socket is destroyed, so a stale descriptor is
 * never written to — and each write checks only the socket's writable state: a few pointer chases per
 * client show in the tick's profile.
 */
export class DirectWriter {
  private handle: unknown = undefined;
  private fd = -1;

  constructor(private readonly socket: Socket) {}

  /** Writes `buf` now if the kernel takes it, else queues the rest on the socket (`buf` is not reused). */
  write(buf: Uint8Array): void {
    const written = this.tryNow(buf, buf.length);
    if (written < buf.length) this.socket.write(written === 0 ? buf : buf.subarray(written));
  }

  /**
   * Writes `scratch[0, length)` from a buffer the caller reuses (one frame buffer for every client of a
   * tick): whatever the kernel does not take at once is copied before it is queued, so the common case —
   * the kernel takes it all — allocates nothing.
   */
  writeFrom(scratch: Uint8Array, length: number): void {
    const written = this.tryNow(scratch, length);
    if (written < length) this.socket.write(Buffer.from(scratch.subarray(written, length)));
  }

  /** The bytes of buf[0, length) the kernel took now: 0 unless a direct write may go (nothing queued). */
  private tryNow(buf: Uint8Array, length: number): number {
    const socket = this.socket;
    const internals = socket as unknown as SocketInternals;
    if (internals._handle !== this.handle) {
      this.handle = internals._handle;
      const fd = internals._handle?.fd;
      this.fd = typeof fd === 'number' && fd >= 0 && !internals.encrypted && !socket.connecting ? fd : -1;
    }
    const fd = this.handle !== null && socket.writableLength === 0 && socket.writableCorked === 0 && socket.writable ? this.fd : -1;
    return fd < 0 ? 0 : tryWrite(fd, buf, length);
  }
}
