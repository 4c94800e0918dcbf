/**
 * Storage for --in-memory: nothing survives the process. Keeps what the API needs: the last placement per
 * pixel (pixel info) and a bounded ring of recent placements (history).
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { CHUNK_SHIFT, pixelChunkKey, pixelOffset } from '../chunks/geometry.js';
import { LastPlacements } from './last-placements.js';
import {
  type ActorFilter, type CanvasStorage, type HistoryEntry, type HistoryPage, type HistoryQuery, type LogEntry, type PixelInfo,
  type ChunkTrail, type PlacementRecord, type PlacementScan, type PlacementScanPage, MODERATION_CLIENT_ID,
  actorAddressHash, checkPixelOnCanvas, checkRecord, encodeHistoryCursor, hashIp, resolveHistoryQuery,
} from './canvas-storage.js';
import { nameKey } from './painter-identity.js';
import { STORAGE_DEFAULTS } from '../defaults.js';

export class MemoryStorage implements CanvasStorage {
  readonly durable = false;
  /** New every process: nothing, versions included, survives it. */
  readonly epoch = randomInt(0, 0x100000000);
  /** Identities and address hashes live as long as the process, like everything here. */
  readonly identitySalt = randomBytes(16).toString('hex');

  private readonly capacity: number;
  /** The last placement of each painted pixel (pixel info), sized by what was painted. */
  private readonly last = new LastPlacements();
  // The ring: parallel arrays indexed by log id % capacity. Ids start at 1 and only grow.
  private readonly ringX: Uint16Array;
  private readonly ringY: Uint16Array;
  private readonly ringColor: Uint8Array;
  private readonly ringTime: Float64Array;
  private readonly ringName: string[];
  private readonly ringClient: Float64Array;
  /** The address hash (hex), as pixel info shows it: what an undo by address or its hash compares. */
  private readonly ringAddress: string[];
  private readonly ringIdentity: string[];
  private lastId = 0;
  /** As in SqliteStorage, logged times never decrease: a clock stepping back is clamped. */
  private lastTime = Number.MIN_SAFE_INTEGER;

  constructor(opts: { historyCapacity?: number } = {}) {
    const capacity = opts.historyCapacity ?? STORAGE_DEFAULTS.memoryHistoryCapacity;
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`historyCapacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.ringX = new Uint16Array(capacity);
    this.ringY = new Uint16Array(capacity);
    this.ringColor = new Uint8Array(capacity);
    this.ringTime = new Float64Array(capacity);
    this.ringName = new Array<string>(capacity).fill('');
    this.ringClient = new Float64Array(capacity);
    this.ringAddress = new Array<string>(capacity).fill('');
    this.ringIdentity = new Array<string>(capacity).fill('');
  }

  load(_store: ChunkStore): void {
    // Nothing was kept.
  }

  commit(batch: readonly PlacementRecord[]): void {
    for (let i = 0; i < batch.length; i++) checkRecord(batch[i]!);
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      const time = (this.lastTime = Math.max(this.lastTime, Math.floor(r.time)));
      const moderation = r.clientId === MODERATION_CLIENT_ID;
      const address = moderation ? '' : this.addressHash(r.ip);
      this.last.set(pixelChunkKey(r.x, r.y), pixelOffset(r.x, r.y), time, r.name, moderation, r.identity ?? '', address);
      const slot = ++this.lastId % this.capacity;
      this.ringX[slot] = r.x;
      this.ringY[slot] = r.y;
      this.ringColor[slot] = r.color;
      this.ringTime[slot] = time;
      this.ringName[slot] = r.name;
      this.ringClient[slot] = r.clientId;
      this.ringAddress[slot] = address;
      this.ringIdentity[slot] = r.identity ?? '';
    }
  }

  maybeCheckpoint(_store: ChunkStore, _nowMs: number): void {
    // Nothing to make durable.
  }

  pixelInfo(x: number, y: number, store: ChunkStore, painter = false): PixelInfo {
    checkPixelOnCanvas(x, y, store);
    const last = this.last.get(pixelChunkKey(x, y), pixelOffset(x, y));
    const info: PixelInfo = { x, y, color: store.get(x, y), placedAt: last?.time ?? null, placedBy: last?.name ?? null };
    if (last?.moderation) info.moderation = true;
    if (last !== null && painter) {
      info.identity = last.identity ?? '';
      info.address = last.address ?? '';
    }
    return info;
  }

  /** Like SqliteStorage.history, over the last `historyCapacity` placements only. */
  history(q: HistoryQuery): HistoryPage {
    const b = resolveHistoryQuery(q);
    const placements: HistoryEntry[] = [];
    const first = Math.max(b.afterId + 1, this.lastId - this.capacity + 1, 1);
    for (let id = first; id <= this.lastId; id++) {
      const s = id % this.capacity;
      const x = this.ringX[s]!, y = this.ringY[s]!, t = this.ringTime[s]!;
      if (x < b.x0 || x > b.x1 || y < b.y0 || y > b.y1 || t < b.since || t >= b.until) continue;
      if (placements.length === b.limit) return { placements, next: encodeHistoryCursor(id - 1) };
      const e: HistoryEntry = { x, y, color: this.ringColor[s]!, placedAt: t, placedBy: this.ringName[s]! };
      if (this.ringClient[s] === MODERATION_CLIENT_ID) e.moderation = true;
      placements.push(e);
    }
    return { placements, next: null };
  }

  scanPlacements(q: PlacementScan): PlacementScanPage {
    const entries: LogEntry[] = [];
    const first = Math.max(q.afterId + 1, this.lastId - this.capacity + 1, 1);
    for (let id = first; id <= this.lastId; id++) {
      const s = id % this.capacity;
      const x = this.ringX[s]!, y = this.ringY[s]!;
      if (x < q.x0 || x > q.x1 || y < q.y0 || y > q.y1 || this.ringTime[s]! < q.since) continue;
      const byActor = this.matches(s, q.actor);
      if (q.actor !== undefined && !byActor) continue;
      if (entries.length === q.limit) return { entries, next: id - 1 };
      entries.push(this.entry(id, s, byActor));
    }
    return { entries, next: null };
  }

  chunkTrail(cx: number, cy: number, beforeId: number, limit: number, actor?: ActorFilter): ChunkTrail {
    const entries: LogEntry[] = [];
    const oldest = Math.max(1, this.lastId - this.capacity + 1);
    for (let id = Math.min(beforeId - 1, this.lastId); id >= oldest; id--) {
      const s = id % this.capacity;
      if (this.ringX[s]! >>> CHUNK_SHIFT !== cx || this.ringY[s]! >>> CHUNK_SHIFT !== cy) continue;
      if (entries.length === limit) return { entries, complete: true };
      entries.push(this.entry(id, s, this.matches(s, actor)));
    }
    // Rows before the ring's oldest were overwritten: earlier colours are unknown.
    return { entries, complete: oldest === 1 };
  }

  /** As in SqliteStorage: names by nameKey, and a moderation entry is never an actor's. */
  private matches(s: number, actor: ActorFilter | undefined): boolean {
    if (actor === undefined || this.ringClient[s] === MODERATION_CLIENT_ID) return false;
    return (actor.name === undefined || nameKey(this.ringName[s]!) === this.nameKeyOf(actor.name)) &&
      (this.addressOf(actor) === null || this.ringAddress[s] === this.addressOf(actor)) &&
      (actor.identity === undefined || this.ringIdentity[s] === actor.identity);
  }

  /** The filter's address hash (hex) or null, kept for the next row (a query asks about one actor). */
  private lastActor: [ActorFilter, string | null] | null = null;
  private addressOf(actor: ActorFilter): string | null {
    if (this.lastActor === null || this.lastActor[0] !== actor) this.lastActor = [actor, actorAddressHash(this.identitySalt, actor)?.toString('hex') ?? null];
    return this.lastActor[1];
  }

  private lastNameKey: [string, string] = ['', ''];
  private nameKeyOf(name: string): string {
    if (this.lastNameKey[0] !== name) this.lastNameKey = [name, nameKey(name)];
    return this.lastNameKey[1];
  }

  /** The address hash pixel info shows moderators, made once per address seen (the last one kept). */
  private lastAddress: [string, string] = ['', ''];
  private addressHash(ip: string): string {
    if (this.lastAddress[0] !== ip || this.lastAddress[1] === '') this.lastAddress = [ip, hashIp(this.identitySalt, ip).toString('hex')];
    return this.lastAddress[1];
  }

  private entry(id: number, s: number, byActor: boolean): LogEntry {
    return {
      id, x: this.ringX[s]!, y: this.ringY[s]!, color: this.ringColor[s]!, time: this.ringTime[s]!, byActor,
      moderation: this.ringClient[s] === MODERATION_CLIENT_ID,
    };
  }

  close(_store?: ChunkStore): void {
    // Nothing to release.
  }
}
