/**
 * What moderation remembers between requests: bans, the read-only switch, and the audit log of every admin
 * action. Kept in `<dataDir>/admin.db` (its own SQLite file, so canvas.db's schema is untouched) or, with
 * --in-memory, in memory only.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type BanKind = 'ip' | 'name';

export interface Ban {
  kind: BanKind;
  /** The address or display name banned. */
  value: string;
  reason: string;
  /** ms since the Unix epoch. */
  createdAt: number;
}

export interface AuditEntry {
  id: number;
  /** ms since the Unix epoch. */
  time: number;
  /** e.g. 'rollback', 'undo', 'ban', 'unban', 'read-only', 'auth-failed'. */
  action: string;
  /** Address the request came from. */
  from: string;
  /** The request's parameters and what it did. */
  detail: Record<string, unknown>;
}

export interface AuditPage {
  /** Newest first. */
  entries: AuditEntry[];
  /** Pass as `before` for the next (older) page; null at the oldest entry. */
  next: number | null;
}

export interface AdminState {
  readonly readOnly: boolean;
  setReadOnly(on: boolean): void;
  /** The ban on this address or name, if any. Called on every PLACE: a Map lookup. */
  banOf(ip: string, name: string): Ban | undefined;
  bans(): Ban[];
  /** Adds or replaces. */
  ban(b: Ban): void;
  /** True if there was such a ban. */
  unban(kind: BanKind, value: string): boolean;
  audit(entry: Omit<AuditEntry, 'id'>): AuditEntry;
  auditPage(limit: number, before?: number): AuditPage;
  close(): void;
}

const key = (kind: BanKind, value: string): string => `${kind}\u0000${value}`;

/** Bans and the switch in memory (both implementations keep them so: PLACE checks must not touch the disk). */
class StateBase {
  protected readonly banMap = new Map<string, Ban>();
  protected ro = false;

  get readOnly(): boolean {
    return this.ro;
  }

  banOf(ip: string, name: string): Ban | undefined {
    if (this.banMap.size === 0) return undefined;
    return this.banMap.get(key('ip', ip)) ?? (name === '' ? undefined : this.banMap.get(key('name', name)));
  }

  bans(): Ban[] {
    return [...this.banMap.values()].sort((a, b) => a.createdAt - b.createdAt);
  }
}

export class MemoryAdminState extends StateBase implements AdminState {
  private readonly entries: AuditEntry[] = [];

  setReadOnly(on: boolean): void {
    this.ro = on;
  }

  ban(b: Ban): void {
    this.banMap.set(key(b.kind, b.value), { ...b });
  }

  unban(kind: BanKind, value: string): boolean {
    return this.banMap.delete(key(kind, value));
  }

  audit(entry: Omit<AuditEntry, 'id'>): AuditEntry {
    const e = { id: this.entries.length + 1, ...entry };
    this.entries.push(e);
    return e;
  }

  auditPage(limit: number, before?: number): AuditPage {
    const end = Math.min(this.entries.length, before === undefined ? this.entries.length : before - 1);
    const start = Math.max(0, end - limit);
    const entries = this.entries.slice(start, end).reverse();
    return { entries, next: start > 0 ? start + 1 : null };
  }

  close(): void {}
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ban (kind TEXT NOT NULL, value TEXT NOT NULL, reason TEXT NOT NULL, created_at INTEGER NOT NULL,
  PRIMARY KEY (kind, value)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS setting (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, time INTEGER NOT NULL, action TEXT NOT NULL, source TEXT NOT NULL,
  detail TEXT NOT NULL);
`;

export const ADMIN_DB_FILE = 'admin.db';

/** Durable admin state in `<dataDir>/admin.db`; every change is one committed transaction before it returns. */
export class SqliteAdminState extends StateBase implements AdminState {
  private readonly db: Database.Database;

  constructor(dataDir: string) {
    super();
    fs.mkdirSync(dataDir, { recursive: true });
    this.db = new Database(path.join(dataDir, ADMIN_DB_FILE), { timeout: 0 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(SCHEMA);
    for (const [kind, value, reason, createdAt] of this.db.prepare('SELECT kind, value, reason, created_at FROM ban').raw().all() as [BanKind, string, string, number][]) {
      this.banMap.set(key(kind, value), { kind, value, reason, createdAt });
    }
    this.ro = this.db.prepare("SELECT value FROM setting WHERE key = 'read_only'").pluck().get() === '1';
  }

  setReadOnly(on: boolean): void {
    this.db.prepare("INSERT INTO setting (key, value) VALUES ('read_only', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(on ? '1' : '0');
    this.ro = on;
  }

  ban(b: Ban): void {
    this.db.prepare('INSERT INTO ban (kind, value, reason, created_at) VALUES (?, ?, ?, ?) ' +
      'ON CONFLICT (kind, value) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at').run(b.kind, b.value, b.reason, b.createdAt);
    this.banMap.set(key(b.kind, b.value), { ...b });
  }

  unban(kind: BanKind, value: string): boolean {
    this.db.prepare('DELETE FROM ban WHERE kind = ? AND value = ?').run(kind, value);
    return this.banMap.delete(key(kind, value));
  }

  audit(entry: Omit<AuditEntry, 'id'>): AuditEntry {
    const info = this.db.prepare('INSERT INTO audit (time, action, source, detail) VALUES (?, ?, ?, ?)')
      .run(entry.time, entry.action, entry.from, JSON.stringify(entry.detail));
    return { id: Number(info.lastInsertRowid), ...entry };
  }

  auditPage(limit: number, before?: number): AuditPage {
    const rows = this.db.prepare('SELECT id, time, action, source, detail FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?').raw()
      .all(before ?? Number.MAX_SAFE_INTEGER, limit + 1) as [number, number, string, string, string][];
    const entries = rows.slice(0, limit).map(([id, time, action, from, detail]) => ({ id, time, action, from, detail: JSON.parse(detail) as Record<string, unknown> }));
    return { entries, next: rows.length > limit ? entries[entries.length - 1]!.id : null };
  }

  close(): void {
    this.db.close();
  }
}
