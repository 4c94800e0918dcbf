/**
 * A client's address, derived in one place: every per-address limit (connection slots, paint buckets,
 * admin failure counts, timelapse and PNG limits), every ban and every log keys on the *address key* this
 * returns, so two spellings of one address — or two addresses of one IPv6 /64 — are never two clients.
 *
 * The key: an IPv4 address in dotted decimal (an IPv4-mapped IPv6 address is its IPv4 address), or the
 * IPv6 network of the configured prefix (`--ipv6-prefix`, default 64) as `network/prefix` in RFC 5952 form
 * (lower case, zeros compressed). Whoever holds one IPv6 address usually holds its whole /64 — 2^64
 * addresses — so keying on the address would hand them 2^64 paint buckets (pixelplanet groups by /64 too).
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** The IPv6 prefix length clients are grouped by unless configured (--ipv6-prefix). */
export const DEFAULT_IPV6_PREFIX = 64;

/**
 * The canonical form of one address, or null when `raw` is not exactly an IP address: IPv4 in four-part
 * dotted decimal (a mapped IPv6 address becomes its IPv4), IPv6 in RFC 5952 form. No trimming, no zone ids,
 * no short IPv4 forms ("127.1", "0x7f.0.0.1"): what is not plainly an address is not one.
 */
export function canonicalAddress(raw: string): string | null {
  const parsed = parseStrict(raw);
  return parsed === null ? null : parsed.toString();
}

function parseStrict(raw: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (raw.length === 0 || raw.length > 64 || raw.includes('%')) return null;
  const family = isIP(raw);
  if (family === 4) return ipaddr.IPv4.isValidFourPartDecimal(raw) ? ipaddr.IPv4.parse(raw) : null;
  if (family !== 6) return null;
  const v6 = ipaddr.IPv6.parse(raw);
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
}

/** The limit key of a canonical (or any strictly valid) address; an unparsable one is its own key. */
export function addressKey(address: string, ipv6Prefix: number = DEFAULT_IPV6_PREFIX): string {
  const parsed = parseStrict(address);
  if (parsed === null) return address; // 'unknown' (a socket with no peer): one shared key
  if (parsed.kind() === 'ipv4') return parsed.toString();
  return ipv6Prefix >= 128 ? parsed.toString() : `${network(parsed, ipv6Prefix)}/${ipv6Prefix}`;
}

/** The address of `addr` with every bit after the first `bits` cleared. */
function network(addr: ipaddr.IPv4 | ipaddr.IPv6, bits: number): string {
  const bytes = addr.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    bytes[i] = bytes[i]! & (0xff << (8 - keep)) & 0xff;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

/** A parsed address target: one address key, or a prefix (CIDR) naming many. */
export interface AddressTarget {
  /** Canonical text: an address key, or `network/prefix` (network bits only, RFC 5952 / dotted decimal). */
  readonly value: string;
  readonly prefix: boolean;
}

/**
 * A moderator's address or CIDR, validated and canonicalised, or null when it is neither. A single IPv6
 * address (or a prefix longer than the key's) widens to its key's /ipv6Prefix: that is the unit every limit
 * and ban acts on, so a narrower ban would never match a client. An IPv4-mapped IPv6 CIDR becomes IPv4.
 */
export function parseAddressTarget(raw: string, ipv6Prefix: number = DEFAULT_IPV6_PREFIX): AddressTarget | null {
  const slash = raw.indexOf('/');
  if (slash < 0) {
    const addr = canonicalAddress(raw);
    return addr === null ? null : { value: addressKey(addr, ipv6Prefix), prefix: addr.includes(':') && ipv6Prefix < 128 };
  }
  const bitsText = raw.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bitsText)) return null;
  let bits = Number(bitsText);
  let addr = parseRawStrict(raw.slice(0, slash));
  if (addr === null) return null;
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    if (bits < 96 || bits > 128) return null;
    addr = (addr as ipaddr.IPv6).toIPv4Address();
    bits -= 96;
  }
  if (addr.kind() === 'ipv4') {
    if (bits > 32) return null;
    return bits === 32 ? { value: addr.toString(), prefix: false } : { value: `${network(addr, bits)}/${bits}`, prefix: true };
  }
  if (bits > 128) return null;
  const width = Math.min(bits, ipv6Prefix);
  return width >= 128 ? { value: addr.toString(), prefix: false } : { value: `${network(addr, width)}/${width}`, prefix: true };
}

/** Like parseStrict, but keeps an IPv4-mapped IPv6 address as IPv6 (a CIDR's prefix counts its bits). */
function parseRawStrict(raw: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (raw.length === 0 || raw.length > 64 || raw.includes('%')) return null;
  const family = isIP(raw);
  if (family === 4) return ipaddr.IPv4.isValidFourPartDecimal(raw) ? ipaddr.IPv4.parse(raw) : null;
  return family === 6 ? ipaddr.IPv6.parse(raw) : null;
}

/** A compiled CIDR, to test keys against (bans by prefix). */
export interface PrefixMatcher {
  readonly value: string;
  matches(key: string): boolean;
}

/**
 * Matches address keys inside the prefix `value` (a canonical AddressTarget value with a '/'). A key is
 * inside when its address (an IPv6 key's network) lies in the prefix and the key is no wider than it.
 */
export function prefixMatcher(value: string): PrefixMatcher {
  const [net, bits] = ipaddr.parseCIDR(value);
  return {
    value,
    matches(key: string): boolean {
      const slash = key.indexOf('/');
      const addr = parseStrict(slash < 0 ? key : key.slice(0, slash));
      if (addr === null || addr.kind() !== net.kind()) return false;
      if (slash >= 0 && Number(key.slice(slash + 1)) < bits) return false;
      return addr.match(net, bits);
    },
  };
}

/**
 * The client's canonical address: the socket's peer, or with trustProxy (and only then) the last hop of
 * X-Forwarded-For — the one our own proxy appended, which a client cannot forge.
 */
export function clientAddress(req: IncomingMessage, trustProxy: boolean, onInvalid?: () => void): string {
  if (trustProxy) {
    const xff = req.headers['x-forwarded-for'];
    const raw = Array.isArray(xff) ? xff.join(',') : xff;
    if (raw) {
      const comma = raw.lastIndexOf(',');
      // Only an address is an address: anything else (8,000 characters of junk, a hostname) would become a
      // fresh paint bucket and connection slot per request. Fall back to the socket's peer, and count it.
      const last = canonicalAddress(raw.slice(comma + 1).trim());
      if (last !== null) return last;
      onInvalid?.();
    }
  }
  const peer = req.socket.remoteAddress ?? 'unknown';
  return canonicalAddress(peer) ?? peer;
}

/** The limit key of a request's client (clientAddress, then addressKey): what every per-address limit uses. */
export function clientKey(req: IncomingMessage, trustProxy: boolean, ipv6Prefix: number, onInvalid?: () => void): string {
  return addressKey(clientAddress(req, trustProxy, onInvalid), ipv6Prefix);
}
