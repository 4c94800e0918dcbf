/**
 * A client's address, derived in one place: every per-address limit (connection slots, paint buckets,
 * admin failure counts, bans) keys on what this returns, so two spellings of one address must not become
 * two clients.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

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
