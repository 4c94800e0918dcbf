/**
 * Moderation queries (src/admin): a bounded scan of the log by region, time and optionally actor, and one
 * chunk's trail of rows newest first (what a rollback needs to find the colour before an actor's placements).
 */
import type Database from 'better-sqlite3';
import { chunkKey } from '../chunks/geometry.js';
import { type ActorFilter, type ChunkTrail, type LogEntry, type PlacementScan, type PlacementScanPage, MODERATION_CLIENT_ID, actorAddressHash } from './canvas-storage.js';
import { LOG_FILTERS } from './sqlite-history.js';
import { nameKey } from './painter-identity.js';
import type { LogTimeSearch } from './sqlite-log-search.js';
import { CHUNK_KEY_SQL } from './sqlite-schema.js';

/** A moderation query's row: id, x, y, color, time, client id, name key, address hash, identity. */
type ModRow = [number, number, number, number, number, number, string, Buffer, string];

export class SqliteModeration {
  private readonly trailStmt: Database.Statement;
  private readonly scanStmt: Database.Statement;
  private lastIpHash: [ActorFilter, Buffer | null] | null = null;
  private lastNameKey: [string, string] | null = null;

  /** `scanWindow`: log ids one scan looks at most, so one call's work is bounded however long the log. */
  constructor(db: Database.Database, private readonly log: LogTimeSearch, private readonly salt: string, private readonly scanWindow: number) {
    // One chunk's rows newest first (its index walked backwards), and a bounded scan of the log by region,
    // time and optionally actor (name key, address hash and/or identity; NULL = any).
    const modColumns = 'SELECT l.id, l.x, l.y, l.color, l.time, a.client_id, a.name_key, a.ip_hash, a.identity FROM pixel_log';
    this.trailStmt = db.prepare(
      `${modColumns} l INDEXED BY pixel_log_by_chunk JOIN actor a ON a.id = l.actor ` +
      `WHERE ${CHUNK_KEY_SQL} = ? AND l.id < ? ORDER BY l.id DESC LIMIT ?`).raw();
    this.scanStmt = db.prepare(
      `${modColumns} l JOIN actor a ON a.id = l.actor WHERE ${LOG_FILTERS} AND l.time >= ? ` +
      'AND (? IS NULL OR a.name_key = ?) AND (? IS NULL OR a.ip_hash = ?) AND (? IS NULL OR a.identity = ?) ORDER BY l.id LIMIT ?').raw();
  }

  scanPlacements(q: PlacementScan): PlacementScanPage {
    const lastLogId = this.log.lastLogId;
    const from = Math.max(q.afterId, this.log.firstIdAtOrAfter(q.since) - 1);
    if (from >= lastLogId) return { entries: [], next: null };
    const end = Math.min(lastLogId, from + this.scanWindow);
    const name = q.actor?.name === undefined ? null : nameKey(q.actor.name);
    const ip = this.ipHashOf(q.actor);
    const identity = q.actor?.identity ?? null;
    const rows = this.scanStmt.all(from, end, q.x0, q.x1, q.y0, q.y1, q.since, name, name, ip, ip, identity, identity, q.limit + 1) as ModRow[];
    const entries = rows.slice(0, q.limit).map((r) => this.logEntry(r, q.actor)).filter((e) => q.actor === undefined || e.byActor);
    if (rows.length > q.limit) return { entries, next: rows[q.limit - 1]![0] };
    return { entries, next: end < lastLogId ? end : null };
  }

  /** The log keeps every row, so a trail is always complete. */
  chunkTrail(cx: number, cy: number, beforeId: number, limit: number, actor?: ActorFilter): ChunkTrail {
    const rows = this.trailStmt.all(chunkKey(cx, cy), beforeId, limit) as ModRow[];
    return { entries: rows.map((r) => this.logEntry(r, actor)), complete: true };
  }

  private logEntry(r: ModRow, actor: ActorFilter | undefined): LogEntry {
    // A moderation entry is never an actor's (its name is the reserved moderator name: an undo by that name
    // must not revert the moderators' own fixes).
    const byActor = actor !== undefined && r[5] !== MODERATION_CLIENT_ID && (actor.name === undefined || r[6] === this.nameKeyOf(actor.name)) &&
      ((actor.ip === undefined && actor.address === undefined) || this.ipHashOf(actor)!.equals(r[7])) &&
      (actor.identity === undefined || r[8] === actor.identity);
    return { id: r[0], x: r[1], y: r[2], color: r[3], time: r[4], byActor, moderation: r[5] === MODERATION_CLIENT_ID };
  }

  /** nameKey of the filter's name, kept for the next row like the address hash. */
  private nameKeyOf(name: string): string {
    if (this.lastNameKey === null || this.lastNameKey[0] !== name) this.lastNameKey = [name, nameKey(name)];
    return this.lastNameKey[1];
  }

  /** The filter's address hash, kept for the next row (a query asks about one actor). */
  private ipHashOf(actor: ActorFilter | undefined): Buffer | null {
    if (actor === undefined) return null;
    if (this.lastIpHash === null || this.lastIpHash[0] !== actor) this.lastIpHash = [actor, actorAddressHash(this.salt, actor)];
    return this.lastIpHash[1];
  }
}
