/**
 * The commit path's write: one tick's placements appended to `pixel_log` in one transaction, each naming its
 * `actor` row (inserted on first sight of a client's name, address hash and identity).
 */
import type Database from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import { type PlacementRecord, hashIp } from './canvas-storage.js';
import { nameKey } from './painter-identity.js';

/** Actor ids cached by (client id, name, address, identity). A miss costs one indexed lookup. */
export const ACTOR_CACHE_MAX = 10_000;

export class LogWriter {
  /** Highest log id written (rows are appended by this connection only: it holds the lock). */
  lastLogId: number;
  /** Time of the last logged placement; commit never logs an earlier one. */
  private lastTime: number;
  private readonly actors = new LRUCache<string, number>({ max: ACTOR_CACHE_MAX });
  private readonly insertLog: Database.Statement;
  private readonly findActor: Database.Statement;
  private readonly insertActor: Database.Statement;
  private readonly appendTx: (batch: readonly PlacementRecord[], fresh: Map<string, number>) => void;

  constructor(db: Database.Database, private readonly salt: string) {
    this.insertLog = db.prepare('INSERT INTO pixel_log (id, x, y, color, time, actor) VALUES (?, ?, ?, ?, ?, ?)');
    this.findActor = db.prepare('SELECT id FROM actor WHERE client_id = ? AND name = ? AND ip_hash = ? AND identity = ?').pluck();
    this.insertActor = db.prepare('INSERT INTO actor (client_id, name, ip_hash, identity, name_key) VALUES (?, ?, ?, ?, ?)');
    const last = db.prepare('SELECT id, time FROM pixel_log ORDER BY id DESC LIMIT 1').raw().get() as [number, number] | undefined;
    this.lastLogId = last?.[0] ?? 0;
    this.lastTime = last?.[1] ?? Number.MIN_SAFE_INTEGER;
    // Ids are assigned here rather than by SQLite so the commit needs no result object per row.
    this.appendTx = db.transaction((batch: readonly PlacementRecord[], fresh: Map<string, number>): void => {
      let id = this.lastLogId;
      let time = this.lastTime;
      for (let i = 0; i < batch.length; i++) {
        const r = batch[i]!;
        time = Math.max(time, Math.floor(r.time));
        this.insertLog.run(++id, r.x, r.y, r.color, time, this.actorId(r, fresh));
      }
    });
  }

  /**
   * Appends the batch (checked records, in order) in one transaction; throws when it fails, and then nothing
   * was written and nothing here changed. Returns the log id of its first row.
   */
  append(batch: readonly PlacementRecord[]): number {
    const fresh = new Map<string, number>();
    this.appendTx(batch, fresh);
    // Only now that the transaction is committed do its effects reach in-memory state.
    for (const [k, id] of fresh) this.actors.set(k, id);
    const first = this.lastLogId + 1;
    for (let i = 0; i < batch.length; i++) this.lastTime = Math.max(this.lastTime, Math.floor(batch[i]!.time));
    this.lastLogId += batch.length;
    return first;
  }

  /** The actor row for a record's (client, name, address, identity), inserting it inside the running transaction. */
  private actorId(r: PlacementRecord, fresh: Map<string, number>): number {
    const identity = r.identity ?? '';
    const k = `${r.clientId}\u0000${r.name}\u0000${r.ip}\u0000${identity}`;
    const cached = this.actors.get(k) ?? fresh.get(k);
    if (cached !== undefined) return cached;
    const ipHash = hashIp(this.salt, r.ip);
    let id = this.findActor.get(r.clientId, r.name, ipHash, identity) as number | undefined;
    if (id === undefined) id = Number(this.insertActor.run(r.clientId, r.name, ipHash, identity, nameKey(r.name)).lastInsertRowid);
    // Cached only after the commit: a rolled-back transaction must not leave ids of rows that do not exist.
    fresh.set(k, id);
    return id;
  }
}
