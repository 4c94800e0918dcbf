/**
 * The state the parts of the Redis seam share (writer, stream reader, sync, snapshot writer, the tick's
 * take): where this node is in the stream, what waits for the tick, and the link's health. One object, handed
 * to each part's constructor, so which part reads and writes what is visible in their code.
 */
import type { Logger } from 'pino';
import { ErrorCode } from '../net/protocol.js';
import type { PlacementRecord } from '../storage/canvas-storage.js';
import type { PlaceAck } from '../realtime/placement-seam.js';
import type { CanvasGeneration } from './cluster-storage.js';
import type { CanvasSnapshot } from './canvas-snapshot.js';
import type { RedisState } from './redis-link.js';
import { REDIS_DEFAULTS } from '../defaults.js';

/** One stream entry as read: its seq and its placements. */
export interface Entry {
  seq: number;
  records: PlacementRecord[];
}

export class SeamState {
  closed = false;
  /** Set when this node can never join as configured (checked by start). */
  fatal: Error | null = null;
  /** Sync must run before the next read / write (start, reconnect, epoch mismatch). */
  needSync = true;
  /** Everything up to here is in the store (or in the take being committed). */
  appliedSeq: number;
  /** Everything up to here has been read from Redis (queued or applied). */
  readSeq: number;
  /** Entries read and not yet taken: queue[queueHead..]. */
  queue: Entry[] = [];
  queueHead = 0;
  queuedRecords = 0;
  /** A snapshot the next take turns the store into (as placements), before the queue. */
  resync: CanvasSnapshot | null = null;
  /** The pending resync moves this node to another generation (its clients' versions stop meaning anything). */
  resyncNewGeneration = false;
  /** Acks of accepted groups, by the seq of their entry, until that entry is applied here. */
  readonly waiting = new Map<number, PlaceAck[]>();
  /** Acks the next take hands out. */
  readyAcks: PlaceAck[] = [];
  /** Chunks changed since this node last wrote the snapshot. */
  changedSinceSnapshot = new Set<number>();
  private stateValue: RedisState = 'connecting';
  lastError: string | null = null;
  private wakeTick: () => void = () => {};
  private readonly readerWaiters: Array<() => void> = [];

  constructor(private readonly generation: CanvasGeneration, readonly log: Logger, startSeq: number, startEpoch: number | null) {
    this.appliedSeq = startSeq;
    this.readSeq = startSeq;
    this.generation.epoch = startEpoch ?? 0;
  }

  /** The canvas generation this node is in (shared with ClusterStorage, whose epoch clients see). */
  get epoch(): number {
    return this.generation.epoch;
  }

  set epoch(e: number) {
    this.generation.epoch = e;
  }

  get state(): RedisState {
    return this.stateValue;
  }

  setState(s: RedisState): void {
    if (s === this.stateValue) return;
    const was = this.stateValue;
    this.stateValue = s;
    if (s === 'ok') this.lastError = null;
    this.log[s === 'down' ? 'warn' : 'info']({ redis: s, was }, `redis ${s}`);
  }

  noteError(err: Error): void {
    const msg = err.message;
    if (msg !== this.lastError) this.log.warn({ err: msg }, 'redis error');
    this.lastError = msg;
  }

  setWakeup(wake: () => void): void {
    this.wakeTick = wake;
  }

  /** Wake the tick (a function value: also handed to timers). */
  readonly wake = (): void => this.wakeTick();

  /** True while the tick has something to take. */
  get hasWork(): boolean {
    return this.queueHead < this.queue.length || this.resync !== null || this.readyAcks.length > 0;
  }

  /** Answer an ack at the next take with this outcome. */
  refuse(ack: PlaceAck, status: number, retryAfterMs: number): void {
    ack.status = status;
    ack.retryAfterMs = retryAfterMs;
    this.readyAcks.push(ack);
    this.wake();
  }

  /** Refused as "not placed, retry": the shared log could not be reached, or the outcome is unknown. */
  unavailable(ack: PlaceAck): void {
    this.refuse(ack, ErrorCode.PLACEMENTS_UNAVAILABLE, REDIS_DEFAULTS.unavailableRetryMs);
  }

  /** Every placement waiting for its entry: its fate is unknown (another generation, or a re-seed). */
  refuseWaiting(): void {
    for (const acks of this.waiting.values()) for (const ack of acks) this.unavailable(ack);
    this.waiting.clear();
  }

  /** The reader waits here (at most `ms`) for the tick to take, a reconnect, or a sync request. */
  waitForKick(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.readerWaiters.push(done);
    });
  }

  kickReaders(): void {
    const w = this.readerWaiters.splice(0);
    for (const f of w) f();
  }
}
