/**
 * The WebSocket endpoint: the only file that imports ws. It admits or refuses upgrades (path, Origin,
 * connection caps), hands each socket to the room as a Transport (ws-transport.ts), and runs the heartbeat.
 * The room arrives as a RoomEndpoint (src/net/transport.ts), so src/net does not import src/realtime.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { ServerMetrics } from '../metrics.js';
import { ConnectionCounter } from '../limits/index.js';
import { OVERLOAD_DEFAULTS } from '../defaults.js';
import { CloseCode, type CloseCodeValue } from './protocol.js';
import type { RoomEndpoint } from './transport.js';
import { WsTransport } from './ws-transport.js';
import { clientKey } from './client-address.js';

/** The heartbeat pings a sixteenth of the peers each sixteenth of its interval (see the timer below). */
const HEARTBEAT_SLICES = 16;

function refuse(socket: Duplex, status: number, text: string, body = text, retryAfterS = 0): void {
  const retry = retryAfterS > 0 ? `Retry-After: ${retryAfterS}\r\n` : '';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n${retry}Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  socket.destroy();
}

/**
 * The Origin rule (docs/protocol.md): a handshake without Origin is not from a browser (a bot) and is let in;
 * a browser's Origin must name the host it connected to (the Host header, so a TLS proxy in front changes
 * nothing as long as it keeps Host), or be on --allowed-origins ("*": any). Without this, any website could
 * open /ws from its visitors' browsers and paint with their allowance. The scheme is not compared: behind a
 * TLS proxy the page is https: while this server sees plain HTTP.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (origin === undefined) return true;
  if (allowed.has('*')) return true;
  const u = parseOrigin(origin);
  if (u === null) return false; // "null" (a sandboxed frame, a file: page) and anything unparseable
  if (allowed.has(u.origin)) return true;
  // URL's host drops the scheme's default port, as browsers do in Host.
  return host !== undefined && host !== '' && u.host === host.toLowerCase().replace(/:(80|443)$/, '');
}

function parseOrigin(text: string): URL | null {
  try {
    const u = new URL(text);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u : null;
  } catch {
    return null;
  }
}

/** --allowed-origins as origins: "HTTPS://Canvas.example:443/" and "https://canvas.example" are one. */
function allowedOrigins(list: readonly string[]): Set<string> {
  return new Set(list.map((o) => (o === '*' ? o : parseOrigin(o.trim())?.origin ?? o)));
}

interface Peer<S> {
  session: S;
  /** Which of the heartbeat's slices pings this peer (peers are spread over them round-robin). */
  slice: number;
  missedPongs: number;
  /** Payload of the last ping: only a pong echoing it counts (RFC 6455 allows unsolicited pongs). */
  nonce: Buffer;
}

export interface WsEndpoint {
  /** Close every socket with a code (GOING_AWAY on shutdown) and stop the heartbeat. */
  close(code?: CloseCodeValue, reason?: string): Promise<void>;
  /** Close every client socket (they reconnect) while the endpoint keeps serving. */
  closeClients(code: CloseCodeValue, reason: string): void;
  readonly peers: number;
}

/**
 * A second, shared per-address cap (multi-node: src/cluster counts connections across nodes in Redis).
 * Resolves to a release function when admitted, or null when the address is at its cap elsewhere.
 */
export interface ConnectionGate {
  admit(ip: string): Promise<(() => void) | null>;
}

/** The settings the WebSocket endpoint reads (a ServerConfig has them; src/net does not import the config). */
export interface WsServerLimits {
  maxMessageBytes: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  allowedOrigins: readonly string[];
  trustProxy: boolean;
  /** Limits key IPv6 clients by this prefix (client-address.ts). */
  ipv6Prefix: number;
  hardLimitBytes: number;
  heartbeatMs: number;
}

export function attachWebSocket<S extends { readonly id: number }>(
  server: Server,
  deps: {
    config: WsServerLimits; room: RoomEndpoint<S>; metrics: ServerMetrics; log: Logger; gate?: ConnectionGate;
    /**
     * The room's admission under load: 0 admits, n > 0 refuses with 503 and `Retry-After: n` — a clean
     * answer at the handshake rather than a connection the node cannot serve (a time-out, a 1006 later).
     */
    admit?: () => number;
  },
): WsEndpoint {
  const { config, room, metrics, log } = deps;
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: config.maxMessageBytes,
    clientTracking: false,
  });
  const perIp = new ConnectionCounter({ maxPerIp: config.maxConnectionsPerIp });
  const peers = new Map<WebSocket, Peer<S>>();
  /** The heartbeat slice the next peer joins (round-robin). */
  let nextSlice = 0;
  const allowed = allowedOrigins(config.allowedOrigins);

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
    if (!originAllowed(req.headers.origin, req.headers.host, allowed)) {
      metrics.handshakesRefused.inc({ reason: 'origin' });
      return refuse(socket, 403, 'Forbidden', 'Forbidden: this Origin may not open /ws (see --allowed-origins)');
    }
    if (perIp.total >= config.maxConnections) {
      metrics.handshakesRefused.inc({ reason: 'full' });
      return refuse(socket, 503, 'Service Unavailable', undefined, OVERLOAD_DEFAULTS.retryAfterS);
    }
    const retryAfter = deps.admit?.() ?? 0;
    if (retryAfter > 0) {
      metrics.handshakesRefused.inc({ reason: 'overloaded' });
      return refuse(socket, 503, 'Service Unavailable', undefined, retryAfter);
    }
    // The limit key, not the address: one IPv6 /64 is one client for the cap, the buckets and bans.
    const ip = clientKey(req, config.trustProxy, config.ipv6Prefix, () => metrics.forwardedForInvalid.inc());
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
      const peer: Peer<S> = { session, slice: nextSlice, missedPongs: 0, nonce: Buffer.alloc(0) };
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
  // pings do not all go out at once: pinging every peer in one go stalls the event loop once per interval,
  // for a time that grows with the number of peers.
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
    closeClients(code: CloseCodeValue, reason: string) {
      for (const ws of peers.keys()) ws.close(code, reason);
    },
    async close(code: CloseCodeValue = CloseCode.GOING_AWAY, reason = 'server shutting down') {
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
