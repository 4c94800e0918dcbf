/**
 * The socket side of a connection: what the client holds per phase (Link), making and dropping a socket
 * without letting it reach the client again, and the reconnect schedule. Pure helpers: the client decides
 * when to use them.
 */
import { type Welcome, utf8Truncate } from '../net/protocol.js';
import type { WebSocketFactory, WebSocketLike } from './client-types.js';

/**
 * Where the session is. Fields that exist only while a socket exists live only in those variants.
 * `waiting` (a reconnect is scheduled) reads as 'connecting' from outside.
 */
export type Link =
  | { kind: 'idle' }
  | { kind: 'waiting'; timer: ReturnType<typeof setTimeout> }
  | { kind: 'connecting'; socket: WebSocketLike }
  | { kind: 'open'; socket: WebSocketLike; welcome: Welcome }
  | { kind: 'closed' };

/** Close code for a connection that ended without a close frame (RFC 6455 §7.4.1); used when the socket could not even be made. */
export const ABNORMAL_CLOSURE = 1006;

/** For a dropped socket's onerror (see detach). */
export function noop(): void {}

/** The server's close reason must fit 123 bytes of UTF-8. */
function closeReason(text: string): string {
  return new TextDecoder().decode(utf8Truncate(text, 123));
}

/** Closes without throwing: browsers refuse codes other than 1000 and 3000–4999 (e.g. 1002), so fall back to a bare close. */
export function closeQuietly(socket: WebSocketLike, code: number, reason: string): void {
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
export function detach(socket: WebSocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = noop;
}

/** In Node, ws hands over Buffers without a copy ('nodebuffer'); browsers hand over ArrayBuffers. */
export const IN_NODE = typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node === 'string';

/** A binary message's bytes (ArrayBuffer in browsers, a Buffer view in Node); null for text. */
export function toBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

/** The global WebSocket (browsers, Node ≥ 22) when no factory was passed. */
export function defaultFactory(): WebSocketFactory {
  const WS = (globalThis as unknown as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
  if (WS === undefined) {
    throw new Error('CanvasClient: no global WebSocket; pass socketFactory (in Node: (u) => new WebSocket(u) from the ws package)');
  }
  return (url) => new WS(url);
}

/**
 * Delay before reconnect attempt number `attempt` (0 first): exponential backoff with "equal jitter" (half
 * fixed, half random), so a crowd of reconnecting clients spreads out.
 */
export function backoffMs(attempt: number, minBackoffMs: number, maxBackoffMs: number): number {
  const base = Math.min(maxBackoffMs, minBackoffMs * 2 ** Math.min(attempt, 30));
  return base / 2 + Math.random() * (base / 2);
}
