/**
 * Schema 3 (painter identities, issue 24 defect 5): a version 2 database opens, keeps its rows, gains
 * actor.identity ('' for old rows) and actor.name_key, and moderation finds old and new rows by the
 * identity or the folded name.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStorage } from '../../src/storage/sqlite-storage.js';
import { newStore, record, tempDir } from './fixtures.js';

const scanAll = { x0: 0, y0: 0, x1: 255, y1: 255, since: 0, afterId: 0, limit: 100 };

describe('schema 2 -> 3', () => {
  it('migrates a version 2 database: old rows keep working, identities are stored from now on', () => {
    const dir = tempDir();
    const first = openSqliteStorage({ dataDir: dir });
    const store = newStore();
    first.load(store);
    first.commit([record(1, 1, 3, 1_700_000_000_000, 'Bob'), record(2, 2, 4, 1_700_000_000_001, 'ann', 2)]);
    first.close();
    // Make it what a version 2 server left: no identity or name_key, the old lookup index.
    const db = new Database(path.join(dir, 'canvas.db'));
    db.exec(`DROP INDEX actor_by_identity; ALTER TABLE actor DROP COLUMN identity; ALTER TABLE actor DROP COLUMN name_key;
      CREATE UNIQUE INDEX actor_identity ON actor (client_id, name, ip_hash);`);
    db.pragma('user_version = 2');
    db.close();

    const storage = openSqliteStorage({ dataDir: dir });
    const again = newStore();
    storage.load(again);
    expect(again.get(1, 1)).toBe(3);
    // The same client id, name and address as an old row, now with an identity: a new actor, not the old one.
    storage.commit([{ ...record(3, 3, 5, 1_700_000_000_002, 'Bob'), identity: 'a'.repeat(24) }]);
    expect(storage.pixelInfo(1, 1, again, true)).toMatchObject({ placedBy: 'Bob', identity: '' });
    expect(storage.pixelInfo(3, 3, again, true)).toMatchObject({ placedBy: 'Bob', identity: 'a'.repeat(24) });
    expect(storage.pixelInfo(3, 3, again)).not.toHaveProperty('identity');
    const byName = storage.scanPlacements({ ...scanAll, actor: { name: 'ＢＯＢ' } });
    expect(byName.entries.map((e) => [e.x, e.byActor])).toEqual([[1, true], [3, true]]);
    const byIdentity = storage.scanPlacements({ ...scanAll, actor: { identity: 'a'.repeat(24) } });
    expect(byIdentity.entries.map((e) => e.x)).toEqual([3]);
    storage.close();

    const after = new Database(path.join(dir, 'canvas.db'), { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(3);
    expect(after.prepare("SELECT name_key FROM actor WHERE name = 'Bob' ORDER BY id").pluck().all()).toEqual(['bob', 'bob']);
    after.close();
  });
});
