/**
 * What moderation remembers between requests: bans, the read-only switch, and the audit log of every admin
 * action. Kept in `<dataDir>/admin.db` (its own SQLite file, so canvas.db's schema is untouched) or, with
 * --in-memory, in memory only.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { type PrefixMatcher, parseAddressTarget, prefixMatcher } from '../net/client-address.js';
import { nameKey } from '../storage/painter-identity.js';

/**
 * What a ban names: a painter identity (src/storage/painter-identity.ts), an address key or prefix
 * (src/net/client-address.ts: canonical, a CIDR when it has a '/'), the salted hash of an address key (what
 * pixel info shows moderators, who never see the address), or — only when asked for explicitly, names being
 * self-chosen — a display name, matched by nameKey (case, width, accents, look-alikes).
 */
export type BanKind = 'identity' | 'ip' | 'address' | 'name';

export interface Ban {
  kind: BanKind;
  /** The identity, the canonical address key or prefix, the address hash (hex), or the display name banned (as given). */
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
  /**
   * The ban on this painter (identity, address key, name), if any. Called on every PLACE and cursor move: Map
   * lookups, plus one test per prefix ban, while name bans exist one nameKey, and while address-hash bans
   * exist one `addressHash(ip)` (the caller's, cached: the salt is the storage's).
   */
  banOf(ip: string, name: string, identity?: string, addressHash?: (ip: string) => string): Ban | undefined;
  bans(): Ban[];
  /** Adds or replaces. */
  ban(b: Ban): void;
  /** True if there was such a ban. */
  unban(kind: BanKind, value: string): boolean;
  audit(entry: Omit<AuditEntry, 'id'>): AuditEntry;
  auditPage(limit: number, before?: number): AuditPage;
  close(): void;
}

/** Names whose ban-map key is kept (a server's connected names, about); past it the cache starts over. */
const NAME_KEY_CACHE = 10_000;

/** The map key of a ban: names by nameKey, so "Bob", "ｂｏｂ" and a Cyrillic "Воb" are one ban. */
const key = (kind: BanKind, value: string): string => `${kind}\u0000${kind === 'name' ? nameKey(value) : value}`;

/** Bans and the switch in memory (both implementations keep them so: PLACE checks must not touch the disk). */
class StateBase {
  protected readonly banMap = new Map<string, Ban>();
  protected ro = false;
  /** The prefix (CIDR) bans, compiled; rebuilt on every ban change (rare). */
  private prefixes: { matcher: PrefixMatcher; ban: Ban }[] = [];
  private nameBans = 0;
  private addressBans = 0;
  private readonly nameKeys = new Map<string, string>();

  get readOnly(): boolean {
    return this.ro;
  }

  banOf(ip: string, name: string, identity = '', addressHash?: (ip: string) => string): Ban | undefined {
    if (this.banMap.size === 0) return undefined;
    const direct = (identity === '' ? undefined : this.banMap.get(key('identity', identity))) ?? this.banMap.get(key('ip', ip));
    if (direct !== undefined) return direct;
    for (const p of this.prefixes) if (p.matcher.matches(ip)) return p.ban;
    if (this.addressBans > 0 && addressHash !== undefined && ip !== '') {
      const byHash = this.banMap.get(key('address', addressHash(ip)));
      if (byHash !== undefined) return byHash;
    }
    if (this.nameBans === 0 || name === '') return undefined;
    // Asked on every cursor move too: a connected name's key is made once, not three normalizations a move.
    let k = this.nameKeys.get(name);
    if (k === undefined) {
      if (this.nameKeys.size >= NAME_KEY_CACHE) this.nameKeys.clear();
      k = key('name', name);
      this.nameKeys.set(name, k);
    }
    return this.banMap.get(k);
  }

  bans(): Ban[] {
    return [...this.banMap.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  protected put(b: Ban): void {
    this.banMap.set(key(b.kind, b.value), { ...b });
    this.reindex();
  }

  protected drop(kind: BanKind, value: string): boolean {
    const removed = this.banMap.delete(key(kind, value));
    this.reindex();
    return removed;
  }

  private reindex(): void {
    this.prefixes = [];
    this.nameBans = 0;
    this.addressBans = 0;
    for (const b of this.banMap.values()) {
      if (b.kind === 'name') this.nameBans++;
      if (b.kind === 'address') this.addressBans++;
      // Only canonical prefixes compile; a value that is not one (a row from before validation) matches nothing.
      if (b.kind === 'ip' && b.value.includes('/') && parseAddressTarget(b.value)?.value === b.value) {
        this.prefixes.push({ matcher: prefixMatcher(b.value), ban: b });
      }
    }
  }
}

export class MemoryAdminState extends StateBase implements AdminState {
  private readonly entries: AuditEntry[] = [];

  setReadOnly(on: boolean): void {
    this.ro = on;
  }

  ban(b: Ban): void {
    this.put(b);
  }

  unban(kind: BanKind, value: string): boolean {
    return this.drop(kind, value);
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

  /** `ipv6Prefix`: address bans stored before they were validated are canonicalised at load with it. */
  constructor(dataDir: string, ipv6Prefix?: number) {
    super();
    fs.mkdirSync(dataDir, { recursive: true });
    this.db = new Database(path.join(dataDir, ADMIN_DB_FILE), { timeout: 0 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(SCHEMA);
    for (const [kind, stored, reason, createdAt] of this.db.prepare('SELECT kind, value, reason, created_at FROM ban').raw().all() as [BanKind, string, string, number][]) {
      // An address ban from before bans were validated ('::ffff:1.2.3.4', '1.2.3.4 ') matches by its
      // canonical key from now on; one that is no address at all stays listed (and can be unbanned) as stored.
      const value = kind === 'ip' ? parseAddressTarget(stored, ipv6Prefix)?.value ?? stored : stored;
      this.put({ kind, value, reason, createdAt });
      if (value !== stored) {
        this.db.prepare('DELETE FROM ban WHERE kind = ? AND value = ?').run(kind, stored);
        this.db.prepare('INSERT OR REPLACE INTO ban (kind, value, reason, created_at) VALUES (?, ?, ?, ?)').run(kind, value, reason, createdAt);
      }
    }
    this.ro = this.db.prepare("SELECT value FROM setting WHERE key = 'read_only'").pluck().get() === '1';
  }

  setReadOnly(on: boolean): void {
    this.db.prepare("INSERT INTO setting (key, value) VALUES ('read_only', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(on ? '1' : '0');
    this.ro = on;
  }

  ban(b: Ban): void {
    const held = this.banMap.get(key(b.kind, b.value));
    this.db.transaction(() => {
      // One ban per key: a name banned again in another spelling replaces the row of the first spelling.
      if (held !== undefined && held.value !== b.value) this.db.prepare('DELETE FROM ban WHERE kind = ? AND value = ?').run(held.kind, held.value);
      this.db.prepare('INSERT INTO ban (kind, value, reason, created_at) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (kind, value) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at').run(b.kind, b.value, b.reason, b.createdAt);
    })();
    this.put(b);
  }

  unban(kind: BanKind, value: string): boolean {
    const held = this.banMap.get(key(kind, value));
    // The row holds the value as first given (a name's spelling, an old ban's address); delete that one.
    this.db.prepare('DELETE FROM ban WHERE kind = ? AND value IN (?, ?)').run(kind, value, held?.value ?? value);
    return this.drop(kind, value);
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
