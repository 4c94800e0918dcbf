/**
 * The `meta` table (key → text) and the two start-up decisions kept in it: the address-hash salt and the epoch.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type Database from 'better-sqlite3';

/** A ChunkStore version, and an epoch, is a u32. */
export const MAX_VERSION = 0xffffffff;

export class MetaTable {
  private readonly getStmt: Database.Statement;
  private readonly setStmt: Database.Statement;

  constructor(db: Database.Database) {
    this.getStmt = db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
    this.setStmt = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  }

  get(key: string): string | undefined {
    return this.getStmt.get(key) as string | undefined;
  }

  set(key: string, value: string): void {
    this.setStmt.run(key, value);
  }
}

/**
 * The salt for address hashes: the one given (e.g. from a secret file outside the data dir, so a stolen
 * canvas.db cannot be brute-forced back to addresses; it is never written to the database), or one made
 * once and kept in meta so hashes stay comparable across restarts.
 */
export function addressSalt(meta: MetaTable, given: string | undefined): string {
  if (given !== undefined) return given;
  let salt = meta.get('ip_salt');
  if (salt === undefined) {
    salt = randomBytes(16).toString('hex');
    meta.set('ip_salt', salt);
  }
  return salt;
}

/**
 * This run's epoch: the previous one if the previous run closed cleanly, else a new one (never the previous
 * one: a client holding it must not resume against versions it cannot trust). Marked unclean at once, in one
 * durable transaction, so a crash from here on (before or after serving) makes the next open draw a new epoch.
 */
export function startEpoch(db: Database.Database, meta: MetaTable): number {
  const previous = meta.get('epoch');
  let epoch = previous !== undefined && meta.get('clean_shutdown') === '1' ? parseEpoch(previous) : null;
  if (epoch === null) {
    do {
      epoch = randomInt(0, MAX_VERSION + 1);
    } while (String(epoch) === previous);
  }
  const chosen = epoch;
  db.transaction(() => {
    meta.set('epoch', String(chosen));
    meta.set('clean_shutdown', '0');
  })();
  return chosen;
}

/** A stored epoch, or null when it is not a u32 (then a new one is drawn). */
function parseEpoch(text: string): number | null {
  const n = Number(text);
  return /^[0-9]+$/.test(text) && n <= MAX_VERSION ? n : null;
}
