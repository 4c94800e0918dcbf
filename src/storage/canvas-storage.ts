/**
 * What the server needs from durable storage, and the small pure pieces both implementations share
 * (limits, history cursors, query validation, address hashing).
 *
 * The contract the tick relies on: `commit(batch)` returns only once the batch is written (one transaction),
 * and the server applies a batch to the ChunkStore, answers or broadcasts it only after commit returned.
 * So everything anyone saw survives the process dying; `load` rebuilds exactly those pixels.
 *
 * Chunk versions and the epoch: a clean stop (close with the store) and start gives back every chunk's
 * version and the same epoch, so clients resume; after any other end the epoch is new.
 */
import { createHash } from 'node:crypto';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { MAX_CANVAS_SIDE } from '../chunks/geometry.js';
import { STORAGE_DEFAULTS } from '../defaults.js';

/** One accepted placement, as the tick commits it. */
export interface PlacementRecord {
  x: number;
  y: number;
  color: number;
  /** ms since the Unix epoch. */
  time: number;
  clientId: number;
  /** Display name, or '' for an anonymous client. */
  name: string;
  /** The client's address key (src/net/client-address.ts). Never stored as is: only a salted, truncated hash is kept. */
  ip: string;
  /**
   * The painter's identity (./painter-identity.ts: its session token, hashed), what moderation acts on.
   * Absent or '' for moderation entries and for placements from before identities were stored.
   */
  identity?: string;
}

/** The current colour of a pixel and who last painted it. Never painted: placedAt and placedBy are null. */
export interface PixelInfo {
  x: number;
  y: number;
  color: number;
  placedAt: number | null;
  /** The display name given when it was placed ('' for anonymous), or null when never painted. */
  placedBy: string | null;
  /** Present and true when the last change was a moderator's rollback (src/admin), not a painter's placement. */
  moderation?: true;
  /**
   * For moderators only (the admin pixel view; the public /api/pixel leaves both out): the painter's identity
   * ('' when the placement predates identities) and the salted hash of its address key, hex. Absent when never painted.
   */
  identity?: string;
  address?: string;
}

/**
 * Placements inside the rectangle [x0, x1] × [y0, y1] (inclusive bounds), with since <= time < until,
 * after the cursor, oldest first.
 */
export interface HistoryQuery {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  since?: number;
  until?: number;
  limit: number;
  /** Opaque cursor from a previous page's `next`. */
  after?: string;
}

export interface HistoryEntry {
  x: number;
  y: number;
  color: number;
  placedAt: number;
  placedBy: string;
  /** Present and true for a moderation entry (a rollback written by src/admin), absent for a painter's placement. */
  moderation?: true;
}

/**
 * Client id of moderation entries: records a moderator's rollback writes to the log. Sessions get ids
 * 1..0xfffffffe (CanvasRoom.connect), so a placement with this id is never a painter's.
 */
export const MODERATION_CLIENT_ID = 0xffffffff;

/**
 * Whose placements a moderation query selects; every field given must match. `identity`: a painter's
 * identity; `ip`: an address key (the IPv4 address or the IPv6 /64, as stored); `address`: the salted hash
 * of one (hex, what pixel info shows moderators, who never learn the address itself); `name`: a display
 * name, compared by nameKey (./painter-identity.ts) — names are self-chosen, so admin-api only allows that
 * explicitly.
 */
export interface ActorFilter {
  name?: string;
  ip?: string;
  address?: string;
  identity?: string;
}

/** A log row as moderation reads it. */
export interface LogEntry {
  /** Log position (the commit order). */
  id: number;
  x: number;
  y: number;
  color: number;
  time: number;
  /** Whether the row was placed by the query's actor (always false without an actor filter). */
  byActor: boolean;
  /** A moderation entry (MODERATION_CLIENT_ID). */
  moderation: boolean;
}

/** Placements in a rectangle (inclusive bounds) at or after `since`, optionally by one actor, after log id `afterId`. */
export interface PlacementScan {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  since: number;
  actor?: ActorFilter;
  afterId: number;
  limit: number;
}

export interface PlacementScanPage {
  /** Oldest first. */
  entries: LogEntry[];
  /** Log id to continue after, or null at the end of the log. A page may be short with next != null. */
  next: number | null;
}

/** One chunk's log before log id `beforeId`, newest first. */
export interface ChunkTrail {
  entries: LogEntry[];
  /**
   * False when older rows may exist that this storage no longer holds (the in-memory ring wrapped):
   * colours from before the last row returned are then unknown.
   */
  complete: boolean;
}

export interface HistoryPage {
  /** In log order (the order the tick committed them). */
  placements: HistoryEntry[];
  /** Cursor for the next page, or null when this page reached the end of the log. */
  next: string | null;
}

/** Where a committed batch sits in a shared log (several nodes on one canvas), set by the seam that ordered it. */
export interface LogPosition {
  /** The log seq the node is at once the batch is applied, and the canvas generation (epoch) it belongs to. */
  readonly seq: number;
  readonly epoch: number;
  /** chunk key → the version the next drain gives that chunk, as every node gives it. */
  readonly pins: ReadonlyMap<number, number>;
}

export interface CanvasStorage {
  /** True when commit survives the process being killed. */
  readonly durable: boolean;
  /**
   * The secret painter identities are hashed with (./painter-identity.ts): the address salt, so an identity
   * is stable for as long as the stored hashes are (durable storage keeps it; in memory it lives with the process).
   */
  readonly identitySalt: string;
  /**
   * Names the chunk versions this storage restores (a random u32). The same as the previous run's only when
   * that run ended with close(store) and the versions `load` restores are exactly the ones it served.
   */
  readonly epoch: number;
  /**
   * Restore pixels and versions into an empty store: latest checkpoints, then replay the log tail after them,
   * in order. A chunk the tail changes gets a version above its checkpointed one.
   */
  load(store: ChunkStore): void;
  /**
   * Durably append one tick's placements in one transaction (in order). Throws on failure (nothing written).
   * `position`: where the batch sits in a shared log (several nodes), for storage that records it in the
   * same transaction; single-process storage ignores it.
   */
  commit(batch: readonly PlacementRecord[], position?: LogPosition): void;
  /**
   * Write checkpoints for chunks changed since the last checkpoint if one is due (every N placements or T ms);
   * cheap when not due. Call it only when every committed batch has been applied to the store (after a tick).
   */
  maybeCheckpoint(store: ChunkStore, nowMs: number): void;
  /**
   * Colour from the store, last placement from storage. Throws RangeError for a pixel outside the store.
   * `painter`: also the painter's identity and address hash (moderators only: src/admin).
   */
  pixelInfo(x: number, y: number, store: ChunkStore, painter?: boolean): PixelInfo;
  /** Throws RangeError for a malformed query or cursor. */
  history(q: HistoryQuery): HistoryPage;
  /** For moderation (src/admin): placements matching a scan, oldest first, bounded work per call. */
  scanPlacements(q: PlacementScan): PlacementScanPage;
  /**
   * For moderation: up to `limit` rows of chunk (cx, cy) with id < beforeId, newest first; `byActor` set
   * against `actor`. `complete` is false if rows older than the last one returned may be missing.
   */
  chunkTrail(cx: number, cy: number, beforeId: number, limit: number, actor?: ActorFilter): ChunkTrail;
  /**
   * Final checkpoint if a store is given, then release the data directory. Durable storage first drains the
   * store's undrained changes, so every saved version counts every change: serve nothing from it after.
   */
  close(store?: ChunkStore): void;
}


/** Why the storage could not start. The message is one line an operator can act on. */
export class StorageStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageStartError';
  }
}

/**
 * A storage operation failed after start (disk full, I/O error, a damaged page met at run time…). The
 * message names the database file; `code` is the underlying error's (e.g. SQLITE_FULL) when it had one.
 */
export class StorageError extends Error {
  readonly code: string | undefined;
  constructor(readonly file: string, message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'StorageError';
    const code = (cause as { code?: unknown } | null)?.code;
    this.code = typeof code === 'string' ? code : undefined;
  }
}

/** A pixel's position as one integer, independent of the configured canvas size. */
export function pixelPos(x: number, y: number): number {
  return y * MAX_CANVAS_SIDE + x;
}

/** Truncated salted SHA-256 of an address. */
export function hashIp(salt: string, ip: string): Buffer {
  return createHash('sha256').update(salt).update('\0').update(ip).digest().subarray(0, STORAGE_DEFAULTS.ipHashBytes);
}

/** An address hash as moderators give it back (hashIp in lower-case hex, as pixel info shows it). */
export const ADDRESS_HASH_PATTERN = new RegExp(`^[0-9a-f]{${STORAGE_DEFAULTS.ipHashBytes * 2}}$`);

/**
 * The address hash an actor filter selects, as stored: from `address` as given, else hashed from `ip`; null
 * when it names no address. (admin-api never sends both.)
 */
export function actorAddressHash(salt: string, actor: ActorFilter | undefined): Buffer | null {
  if (actor?.address !== undefined) return Buffer.from(actor.address, 'hex');
  return actor?.ip === undefined ? null : hashIp(salt, actor.ip);
}

// ---------------------------------------------------------------------------------------------------------
// History cursors: a log position, opaque to clients so the encoding can change without breaking them.

const CURSOR_PREFIX = 'h';

export function encodeHistoryCursor(logId: number): string {
  return CURSOR_PREFIX + logId.toString(36);
}

/** The log position a cursor stands for; 0 (start of the log) when absent. Throws RangeError when malformed. */
export function decodeHistoryCursor(cursor: string | undefined): number {
  if (cursor === undefined || cursor === '') return 0;
  if (cursor.length > 14 || !cursor.startsWith(CURSOR_PREFIX) || !/^[0-9a-z]+$/.test(cursor.slice(1))) {
    throw new RangeError('malformed history cursor');
  }
  const id = parseInt(cursor.slice(1), 36);
  if (!Number.isSafeInteger(id)) throw new RangeError('malformed history cursor');
  return id;
}

/** Resolved form of a HistoryQuery: bounds checked, defaults filled, cursor decoded. */
export interface HistoryBounds {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  since: number;
  until: number;
  limit: number;
  afterId: number;
}

function isCoord(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n < MAX_CANVAS_SIDE;
}

/** Checks a history query (throws RangeError naming the bad field) and fills its defaults. */
export function resolveHistoryQuery(q: HistoryQuery): HistoryBounds {
  for (const k of ['x0', 'y0', 'x1', 'y1'] as const) {
    if (!isCoord(q[k])) throw new RangeError(`${k} must be an integer in [0, ${MAX_CANVAS_SIDE})`);
  }
  if (q.x1 < q.x0 || q.y1 < q.y0) throw new RangeError('the region is empty: need x0 <= x1 and y0 <= y1');
  const since = q.since ?? Number.MIN_SAFE_INTEGER;
  const until = q.until ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(since) || !Number.isSafeInteger(until)) throw new RangeError('since and until must be integers (ms)');
  if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > STORAGE_DEFAULTS.maxHistoryLimit) {
    throw new RangeError(`limit must be an integer in [1, ${STORAGE_DEFAULTS.maxHistoryLimit}]`);
  }
  return { x0: q.x0, y0: q.y0, x1: q.x1, y1: q.y1, since, until, limit: q.limit, afterId: decodeHistoryCursor(q.after) };
}

/** Throws RangeError unless (x, y) is on the store's canvas. */
export function checkPixelOnCanvas(x: number, y: number, store: ChunkStore): void {
  if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x >= store.width || y >= store.height) {
    throw new RangeError(`pixel (${x}, ${y}) is outside the ${store.width}x${store.height} canvas`);
  }
}

/**
 * Throws RangeError unless a record can be stored (the tick validated it; this guards the log itself).
 * A fractional time is fine: it is stored floored to the millisecond.
 */
export function checkRecord(r: PlacementRecord): void {
  if (!isCoord(r.x) || !isCoord(r.y) || !Number.isInteger(r.color) || r.color < 0 || r.color > 255 ||
      !Number.isFinite(r.time) || typeof r.name !== 'string' || typeof r.ip !== 'string' || !Number.isInteger(r.clientId) ||
      (r.identity !== undefined && typeof r.identity !== 'string')) {
    throw new RangeError(`unstorable placement record (${r.x}, ${r.y}) color ${r.color} time ${r.time}`);
  }
}
