/**
 * Moderation queries (src/admin): a bounded scan of the log by region, time and optionally actor, and one
 * chunk's trail of rows newest first (what a rollback needs to find the colour before an actor's placements).
 */
import type Database from 'better-sqlite3';
import { chunkKey } from '../chunks/geometry.js';
import { type ActorFilter, type ChunkTrail, type LogEntry, type PlacementScan, type PlacementScanPage, MODERATION_CLIENT_ID, hashIp } from './canvas-storage.js';
import { LOG_FILTERS } from './sqlite-history.js';
import type { LogTimeSearch } from './sqlite-log-search.js';
import { CHUNK_KEY_SQL } from './sqlite-schema.js';

/** A moderation query's row: id, x, y, color, time, client id, name, address hash. */
type ModRow = [number, number, number, number, number, number, string, Buffer];

export class SqliteModeration {
  private readonly trailStmt: Database.Statement;
  private readonly scanStmt: Database.Statement;
  private lastIpHash: [string, Buffer] | null = null;

  /** `scanWindow`: log ids one scan looks at most, so one call's work is bounded however long the log. */
  constructor(db: Database.Database, private readonly log: LogTimeSearch, private readonly salt: string, private readonly scanWindow: number) {
    // One chunk's rows newest first (its index walked backwards), and a bounded scan of the log by region,
    // time and optionally actor (name and/or address hash; NULL = any).
    const modColumns = 'SELECT l.id, l.x, l.y, l.color, l.time, a.client_id, a.name, a.ip_hash FROM pixel_log';
    this.trailStmt = db.prepare(
      `${modColumns} l INDEXED BY pixel_log_by_chunk JOIN actor a ON a.id = l.actor ` +
      `WHERE ${CHUNK_KEY_SQL} = ? AND l.id < ? ORDER BY l.id DESC LIMIT ?`).raw();
    this.scanStmt = db.prepare(
      `${modColumns} l JOIN actor a ON a.id = l.actor WHERE ${LOG_FILTERS} AND l.time >= ? ` +
      'AND (? IS NULL OR a.name = ?) AND (? IS NULL OR a.ip_hash = ?) ORDER BY l.id LIMIT ?').raw();
  }

  scanPlacements(q: PlacementScan): PlacementScanPage {
    const lastLogId = this.log.lastLogId;
    const from = Math.max(q.afterId, this.log.firstIdAtOrAfter(q.since) - 1);
    if (from >= lastLogId) return { entries: [], next: null };
    const end = Math.min(lastLogId, from + this.scanWindow);
    const name = q.actor?.name ?? null;
    const ip = q.actor?.ip === undefined ? null : hashIp(this.salt, q.actor.ip);
    const rows = this.scanStmt.all(from, end, q.x0, q.x1, q.y0, q.y1, q.since, name, name, ip, ip, q.limit + 1) as ModRow[];
    const entries = rows.slice(0, q.limit).map((r) => this.logEntry(r, q.actor));
    if (rows.length > q.limit) return { entries, next: entries[entries.length - 1]!.id };
    return { entries, next: end < lastLogId ? end : null };
  }

  /** The log keeps every row, so a trail is always complete. */
  chunkTrail(cx: number, cy: number, beforeId: number, limit: number, actor?: ActorFilter): ChunkTrail {
    const rows = this.trailStmt.all(chunkKey(cx, cy), beforeId, limit) as ModRow[];
    return { entries: rows.map((r) => this.logEntry(r, actor)), complete: true };
  }

  private logEntry(r: ModRow, actor: ActorFilter | undefined): LogEntry {
    const byActor = actor !== undefined && (actor.name === undefined || r[6] === actor.name) &&
      (actor.ip === undefined || this.ipHashOf(actor.ip).equals(r[7]));
    return { id: r[0], x: r[1], y: r[2], color: r[3], time: r[4], byActor, moderation: r[5] === MODERATION_CLIENT_ID };
  }

  /** hashIp for the moderation filter's address, kept for the next row (a query asks about one address). */
  private ipHashOf(ip: string): Buffer {
    if (this.lastIpHash === null || this.lastIpHash[0] !== ip) this.lastIpHash = [ip, hashIp(this.salt, ip)];
    return this.lastIpHash[1];
  }
}
