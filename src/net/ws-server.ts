/**
 * The WebSocket endpoint: the only file that imports ws. It admits or refuses upgrades (path, Origin,
 * connection caps), adapts each socket to the room's Transport, and runs the heartbeat.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config.js';
import type { CanvasRoom } from '../realtime/canvas-room.js';
import type { ClientSession } from '../realtime/client-session.js';
import { type Transport, joinParts } from '../realtime/transport.js';
import type { ServerMetrics } from '../metrics.js';
import { ConnectionCounter } from '../limits/index.js';
import { CloseCode } from './protocol.js';
import { DirectWriter } from './direct-write.js';

/** The heartbeat pings a sixteenth of the peers each sixteenth of its interval (see the timer below). */
const HEARTBEAT_SLICES = 16;

/** How long a peer gets to finish the closing handshake we started before its socket is destroyed. */
const CLOSE_GRACE_MS = 2000;

/** The parts of ws's WebSocket and Sender that pre-framed writes rely on (ws 8; checked before each use). */
interface WsInternals {
  _socket?: Socket | null;
  _sender?: { _state?: number; _queue?: unknown[] } | null;
}

/** Bytes of an unmasked binary frame's header (RFC 6455 §5.2) for a payload of `total` bytes. */
function frameHeadBytes(total: number): number {
  return total < 126 ? 2 : total < 65536 ? 4 : 10;
}

/**
 * Writes one unmasked binary frame (FIN + opcode 2, then the payload length) holding `parts` into `buf` at
 * 0, header and payload together, so the socket gets ONE write and each byte is copied once. `buf` must
 * hold frameHeadBytes(total) + total bytes; returns that length.
 */
function frameInto(buf: Buffer, parts: readonly Uint8Array[], total: number, count: number): number {
  const head = frameHeadBytes(total);
  buf[0] = 0x82;
  if (head === 2) {
    buf[1] = total;
  } else if (head === 4) {
    buf[1] = 126;
    buf.writeUInt16BE(total, 2);
  } else {
    buf[1] = 127;
    buf.writeUInt32BE(Math.floor(total / 2 ** 32), 2);
    buf.writeUInt32BE(total >>> 0, 6);
  }
  let o = head;
  for (let i = 0; i < count; i++) {
    const p = parts[i]!;
    buf.set(p, o);
    o += p.length;
  }
  return head + total;
}

/** One unmasked binary frame holding `parts`, in a new buffer (see frameInto). */
export function frameBinary(parts: readonly Uint8Array[], total: number, count = parts.length): Buffer {
  const buf = Buffer.allocUnsafe(frameHeadBytes(total) + total);
  frameInto(buf, parts, total, count);
  return buf;
}

/**
 * The frame buffer every tick write is built in (the process is single-threaded and DirectWriter copies
 * whatever the kernel does not take, so one buffer serves every client of every tick). Grown to the largest
 * frame seen; one larger than SCRATCH_KEEP is framed in a buffer of its own instead.
 */
let scratch = Buffer.allocUnsafeSlow(64 * 1024);
const SCRATCH_KEEP = 1024 * 1024;

class WsTransport implements Transport {
  /** The socket's direct writer, made on the first pre-framed write (ws has its socket by then). */
  private writer: DirectWriter | null = null;
  constructor(private readonly ws: WebSocket) {}
  send(bytes: Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes, { binary: true });
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
    if (ws.readyState !== WebSocket.OPEN) return;
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
    if (this.ws.readyState === WebSocket.CLOSED) return;
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

/**
 * The client's address: the socket's peer, or with trustProxy (and only then) the last hop of
 * X-Forwarded-For — the one our own proxy appended, which a client cannot forge.
 */
export function clientAddress(req: IncomingMessage, trustProxy: boolean, onInvalid?: () => void): string {
  if (trustProxy) {
    const xff = req.headers['x-forwarded-for'];
    const raw = Array.isArray(xff) ? xff.join(',') : xff;
    if (raw) {
      const comma = raw.lastIndexOf(',');
      const last = normalizeAddress(raw.slice(comma + 1).trim());
      // Only an address is an address: anything else (8,000 characters of junk, a hostname) would become a
      // fresh paint bucket and connection slot per request. Fall back to the socket's peer, and count it.
      if (isIP(last) !== 0) return last;
      onInvalid?.();
    }
  }
  return normalizeAddress(req.socket.remoteAddress ?? 'unknown');
}

/** IPv4-mapped IPv6 addresses are their IPv4 address, so both spellings share one bucket. */
function normalizeAddress(addr: string): string {
  return addr.startsWith('::ffff:') && isIP(addr.slice(7)) === 4 ? addr.slice(7) : addr;
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
  socket.destroy();
}

interface Peer {
  session: ClientSession;
  /** Which of the heartbeat's slices pings this peer (peers are spread over them round-robin). */
  slice: number;
  missedPongs: number;
  /** Payload of the last ping: only a pong echoing it counts (RFC 6455 allows unsolicited pongs). */
  nonce: Buffer;
}

export interface WsEndpoint {
  /** Close every socket with a code (1001 on shutdown) and stop the heartbeat. */
  close(code?: number, reason?: string): Promise<void>;
  /** Close every client socket (they reconnect) while the endpoint keeps serving. */
  closeClients(code: number, reason: string): void;
  readonly peers: number;
}

/**
 * A second, shared per-address cap (multi-node: src/cluster counts connections across nodes in Redis).
 * Resolves to a release function when admitted, or null when the address is at its cap elsewhere.
 */
export interface ConnectionGate {
  admit(ip: string): Promise<(() => void) | null>;
}

export function attachWebSocket(
  server: Server,
  deps: { config: ServerConfig; room: CanvasRoom; metrics: ServerMetrics; log: Logger; gate?: ConnectionGate },
): WsEndpoint {
  const { config, room, metrics, log } = deps;
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: config.maxMessageBytes,
    clientTracking: false,
  });
  const perIp = new ConnectionCounter({ maxPerIp: config.maxConnectionsPerIp });
  const peers = new Map<WebSocket, Peer>();
  /** The heartbeat slice the next peer joins (round-robin). */
  let nextSlice = 0;
  const allowed = new Set(config.allowedOrigins);

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    // The catch-all for upgrades: nothing a handshake carries may end the process.
    try {
      admitUpgrade(req, socket, head);
    } catch (err) {
      log.error({ err, url: String(req.url).slice(0, 256) }, 'upgrade failed');
      refuse(socket, 500, 'Internal Server Error');
    }
  });

  /** Completes an admitted upgrade under the same catch-all (it may run later, after the shared gate). */
  const complete = (req: IncomingMessage, socket: Duplex, head: Buffer, ip: string): void => {
    try {
      completeUpgrade(req, socket, head, ip);
    } catch (err) {
      log.error({ err, url: String(req.url).slice(0, 256) }, 'upgrade failed');
      refuse(socket, 500, 'Internal Server Error');
    }
  };

  let shuttingDown = false;
  const admitUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (shuttingDown) {
      metrics.handshakesRefused.inc({ reason: 'shutdown' });
      return refuse(socket, 503, 'Service Unavailable');
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/ws') {
      metrics.handshakesRefused.inc({ reason: 'path' });
      return refuse(socket, 404, 'Not Found');
    }
    if (allowed.size > 0 && !allowed.has(String(req.headers.origin ?? ''))) {
      metrics.handshakesRefused.inc({ reason: 'origin' });
      return refuse(socket, 403, 'Forbidden');
    }
    if (perIp.total >= config.maxConnections) {
      metrics.handshakesRefused.inc({ reason: 'full' });
      return refuse(socket, 503, 'Service Unavailable');
    }
    const ip = clientAddress(req, config.trustProxy, () => metrics.forwardedForInvalid.inc());
    if (!perIp.tryAcquire(ip)) {
      metrics.handshakesRefused.inc({ reason: 'per_ip' });
      return refuse(socket, 429, 'Too Many Requests');
    }
    // Released when the raw socket closes, whichever way the handshake or the connection ends.
    socket.once('close', () => perIp.release(ip));
    if (deps.gate) {
      deps.gate.admit(ip).then((release) => {
        if (release === null) {
          metrics.handshakesRefused.inc({ reason: 'per_ip' });
          return refuse(socket, 429, 'Too Many Requests');
        }
        if (socket.destroyed) return release();
        socket.once('close', release);
        complete(req, socket, head, ip);
      }, (err: unknown) => {
        log.error({ err }, 'connection gate failed; admitting');
        if (!socket.destroyed) complete(req, socket, head, ip);
      });
      return;
    }
    complete(req, socket, head, ip);
  };

  function completeUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ip: string): void {
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session = room.connect(new WsTransport(ws), ip);
      const peer: Peer = { session, slice: nextSlice, missedPongs: 0, nonce: Buffer.alloc(0) };
      nextSlice = (nextSlice + 1) % HEARTBEAT_SLICES;
      peers.set(ws, peer);
      ws.on('pong', (data: Buffer) => {
        if (data.equals(peer.nonce)) peer.missedPongs = 0;
      });
      ws.on('message', (data, isBinary) => {
        room.handleMessage(session, data as Buffer, isBinary);
      });
      ws.on('error', (err) => log.debug({ err, client: session.id }, 'socket error'));
      ws.on('close', () => {
        peers.delete(ws);
        room.disconnect(session);
      });
    });
  };

  // One timer for every peer: a peer that missed two pings in a row is terminated. The peers are spread
  // over HEARTBEAT_SLICES slices, one slice a turn, so each is pinged once per heartbeat interval but the
  // pings do not all go out at once (1000 pings in one go held the event loop ~15–20 ms, a stall every
  // interval that 10,000 peers would make ten times longer).
  let turn = 0;
  const heartbeat = setInterval(() => {
    const slice = turn;
    turn = (turn + 1) % HEARTBEAT_SLICES;
    for (const [ws, peer] of peers) {
      if (peer.slice !== slice) continue;
      // Also the backstop of the backpressure ceiling, for a peer the tick has nothing to send.
      if (peer.missedPongs >= 2 || ws.bufferedAmount > config.hardLimitBytes) {
        metrics.clientsDropped.inc({ reason: peer.missedPongs >= 2 ? 'HEARTBEAT' : 'TOO_SLOW' });
        ws.terminate();
        continue;
      }
      peer.missedPongs++;
      peer.nonce = randomBytes(8);
      try {
        ws.ping(peer.nonce);
      } catch {
        ws.terminate();
      }
    }
  }, config.heartbeatMs / HEARTBEAT_SLICES);
  heartbeat.unref();

  return {
    get peers() {
      return peers.size;
    },
    closeClients(code: number, reason: string) {
      for (const ws of peers.keys()) ws.close(code, reason);
    },
    async close(code = CloseCode.GOING_AWAY, reason = 'server shutting down') {
      shuttingDown = true;
      clearInterval(heartbeat);
      const closing: Promise<void>[] = [];
      for (const ws of peers.keys()) {
        closing.push(new Promise((resolve) => {
          ws.once('close', () => resolve());
          ws.close(code, reason);
          // Don't wait on a peer that will not answer the closing handshake.
          setTimeout(() => { ws.terminate(); resolve(); }, 1000).unref();
        }));
      }
      await Promise.all(closing);
      wss.close();
    },
  };
}
