/** The admin API's request fields: each parsed and checked once, a BAD_REQUEST naming the field otherwise. */
import type { ChunkStore } from '../chunks/chunk-store.js';
import { type ActorFilter, ADDRESS_HASH_PATTERN } from '../storage/canvas-storage.js';
import type { BanKind } from './admin-state.js';
import { HttpError } from '../http/http-error.js';
import { parseAddressTarget } from '../net/client-address.js';
import { ADMIN_DEFAULTS } from '../defaults.js';
import { IDENTITY_PATTERN } from '../storage/painter-identity.js';

export type Body = Record<string, unknown>;
const bad = (message: string): HttpError => new HttpError('BAD_REQUEST', message);

export interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export function rectParams(r: Rect): { x: number; y: number; w: number; h: number } {
  return { x: r.x0, y: r.y0, w: r.x1 - r.x0 + 1, h: r.y1 - r.y0 + 1 };
}

export function intField(body: Body, name: string, min: number, max: number): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(`"${name}" must be an integer in [${min}, ${max}]`);
  return v;
}

/** x, y, w, h (all required when `required`; all absent = the whole canvas), clamped to nothing: must fit. */
export function rectOf(body: Body, store: ChunkStore, required: boolean): Rect {
  const x = intField(body, 'x', 0, store.width - 1);
  const y = intField(body, 'y', 0, store.height - 1);
  const w = intField(body, 'w', 1, store.width);
  const h = intField(body, 'h', 1, store.height);
  const given = [x, y, w, h].filter((v) => v !== undefined).length;
  if (given === 0 && !required) return { x0: 0, y0: 0, x1: store.width - 1, y1: store.height - 1 };
  if (given !== 4) throw bad('give the rectangle as "x", "y", "w" and "h"');
  if (x! + w! > store.width || y! + h! > store.height) throw bad(`the rectangle must lie inside the ${store.width}x${store.height} canvas`);
  return { x0: x!, y0: y!, x1: x! + w! - 1, y1: y! + h! - 1 };
}

/** A time as ms since the epoch (integer) or an ISO 8601 string. */
export function timeOf(body: Body, name: string, required: boolean): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) {
    if (required) throw bad(`"${name}" is required (ms since the Unix epoch, or an ISO 8601 date)`);
    return undefined;
  }
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && v.length <= 40 && /^\d{4}-\d\d-\d\d/.test(v)) {
    const t = Date.parse(v);
    if (Number.isFinite(t)) return t;
  }
  throw bad(`"${name}" must be ms since the Unix epoch or an ISO 8601 date`);
}

export function dryRunOf(body: Body): boolean {
  const v = body.dryRun;
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw bad('"dryRun" must be true or false');
  return v;
}

export function textOf(body: Body, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > ADMIN_DEFAULTS.maxText) throw bad(`"${name}" must be a string of at most ${ADMIN_DEFAULTS.maxText} characters`);
  return v;
}

/** `matchName` true in the body: the moderator chose to act on a self-chosen name (every painter using it). */
export function nameChosen(body: Body, what: string): void {
  const v = body.matchName;
  if (v === undefined || v === null || v === false) {
    throw bad(`a name is chosen by the painter, and any painter may take it: ${what} "identity" or "address" (from /api/admin/pixel) or "ip", ` +
      'or add "matchName": true to act on every painter with a name like it (preview an undo with "dryRun": true)');
  }
  if (v !== true) throw bad('"matchName" must be true or false');
}

export function identityOf(body: Body): string | undefined {
  const identity = textOf(body, 'identity');
  if (identity !== undefined && !IDENTITY_PATTERN.test(identity)) throw bad('"identity" must be the 24 hex characters /api/admin/pixel shows');
  return identity;
}

/** An address hash as /api/admin/pixel shows it (the address itself is never stored). */
export function addressHashOf(body: Body): string | undefined {
  const address = textOf(body, 'address');
  if (address !== undefined && !ADDRESS_HASH_PATTERN.test(address)) throw bad('"address" must be the address hash /api/admin/pixel shows (16 hex characters)');
  return address;
}

/** An address or CIDR, canonical; 400 naming what is wrong otherwise. */
export function addressOf(text: string, ipv6Prefix: number): { value: string; prefix: boolean } {
  const t = parseAddressTarget(text, ipv6Prefix);
  if (t === null) throw bad(`"ip" must be an IPv4 or IPv6 address, or a prefix such as 203.0.113.0/24 or 2001:db8::/48, got ${JSON.stringify(text.slice(0, 64))}`);
  return t;
}

/**
 * Exactly one of identity, address (hash), ip (address or prefix) or name (with matchName when
 * `requireMatchName`). `removing`: an address that is not one is taken as stored, so a ban kept from before
 * bans were validated can still be lifted.
 */
export function target(body: Body, ipv6Prefix: number, requireMatchName: boolean, removing = false): [BanKind, string] {
  const identity = identityOf(body);
  const address = addressHashOf(body);
  const ip = textOf(body, 'ip');
  const name = textOf(body, 'name');
  if ([identity, address, ip, name].filter((v) => v !== undefined).length !== 1) throw bad('give exactly one of "identity", "address", "ip" or "name"');
  if (identity !== undefined) return ['identity', identity];
  if (address !== undefined) return ['address', address];
  if (ip !== undefined) {
    if (ip === '') throw bad('"ip" must not be empty');
    return ['ip', removing ? parseAddressTarget(ip, ipv6Prefix)?.value ?? ip : addressOf(ip, ipv6Prefix).value];
  }
  if (name === '') throw bad('"name" must not be empty (anonymous painters are banned by identity or address)');
  if (requireMatchName) nameChosen(body, 'ban by');
  return ['name', name!];
}

/**
 * Whose placements an undo selects: an identity, an address key (stored addresses are salted hashes of the
 * key, so a wider prefix cannot be matched) or that hash itself, a name only with matchName; several given
 * must all match.
 */
export function undoActor(body: Body, ipv6Prefix: number): ActorFilter {
  const actor: ActorFilter = {};
  const identity = identityOf(body);
  const address = addressHashOf(body);
  const ip = textOf(body, 'ip');
  const name = textOf(body, 'name');
  if (address !== undefined && ip !== undefined) throw bad('give "ip" or "address" (its hash), not both');
  if (identity !== undefined) actor.identity = identity;
  if (address !== undefined) actor.address = address;
  if (ip !== undefined) {
    const t = addressOf(ip, ipv6Prefix);
    const isKey = t.value.includes(':') ? t.value.endsWith(`/${ipv6Prefix}`) || (ipv6Prefix >= 128 && !t.prefix) : !t.prefix;
    if (!isKey) throw bad(`undo by "ip" takes one address (an IPv6 one stands for its /${ipv6Prefix}): placements keep only a hash of that key`);
    actor.ip = t.value;
  }
  if (name !== undefined) {
    if (!dryRunOf(body)) nameChosen(body, 'undo by');
    actor.name = name;
  }
  if (identity === undefined && address === undefined && ip === undefined && name === undefined) {
    throw bad('give "identity", "address", "ip" or "name": whose placements to undo');
  }
  return actor;
}

export function intQuery(q: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const s = q.get(name);
  if (s === null || s === '') return undefined;
  if (!/^\d{1,16}$/.test(s)) throw bad(`${name} must be an integer`);
  const n = Number(s);
  if (n < min || n > max) throw bad(`${name} must be in [${min}, ${max}]`);
  return n;
}
