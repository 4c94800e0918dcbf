/**
 * The placement seam of a node that shares its canvas with other nodes through one Redis Stream.
 *
 * submit → buffered for this event-loop turn → one PLACE script call per flush (shared paint buckets,
 * INCR seq, XADD `<seq>-1` MAXLEN ~), pipelined on the command connection.
 * A dedicated connection blocks in XREAD from the last seq read and queues entries; it wakes the tick.
 * take → the queued entries in stream order (every node applies the same sequence), each changed chunk
 * pinned to the version its entry's seq gives it, plus the acks now due. A submitter's ack waits until its
 * own entry comes back through the stream and is applied here, so OK means: in the stream and visible.
 *
 * Sync (start, every reconnect, and whenever the place script reports another epoch): the node compares
 * its epoch and seq with Redis. Same epoch: read on from its seq (a gap = trimmed → the snapshot).
 * Another epoch: take the snapshot Redis holds (the canvas as of some seq) as a diff against the local
 * store, then the stream after it. No canvas in Redis (never made, or Redis lost it): make it, from this
 * node's state, under a new epoch (one node wins a lock; the others then resync from its snapshot).
 */
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { CHUNK_SHIFT, MAX_CANVAS_SIDE, chunkKey } from '../chunks/geometry.js';
import { ErrorCode } from '../net/protocol.js';
import type { PlacementRecord } from '../storage/canvas-storage.js';
import type { PlaceAck, PlacementBatch, PlacementSeam } from '../realtime/placement-seam.js';
import type { TakeInfo, TakeSource } from './cluster-storage.js';
import type { CanvasKeys } from './redis-keys.js';
import { PLACE_LUA } from './redis-scripts.js';
import { StreamCodecError, decodeEntry, encodeGroup, entryId, entrySeq, versionOfSeq } from './stream-codec.js';
import { type CanvasSnapshot, chunkFields, diffToSnapshot, parseSnapshot, snapshotFields } from './canvas-snapshot.js';

export interface RedisSeamOptions {
  url: string;
  canvas: string;
  keys: CanvasKeys;
  store: ChunkStore;
  log: Logger;
  paintRate: number;
  paintBurst: number;
  /** Where the local state starts (from ClusterStorage). */
  startSeq: number;
  startEpoch: number | null;
  /** Stream entries kept (XADD MAXLEN ~). */
  streamMaxLen: number;
  /** How often some node writes the snapshot a node that fell behind the trimmed stream restarts from. */
  snapshotIntervalMs: number;
  /** A Redis command taking longer than this counts as Redis being unreachable. */
  commandTimeoutMs: number;
  /** Records one tick applies at most while catching up (bounds a tick). */
  maxRecordsPerTake: number;
}

export const REDIS_DEFAULTS = {
  streamMaxLen: 100_000,
  snapshotIntervalMs: 10_000,
  commandTimeoutMs: 2_000,
  maxRecordsPerTake: 50_000,
  /** Entries XREAD returns at most per call, and records queued at most before the reader waits for the tick. */
  readCount: 1000,
  maxQueuedRecords: 500_000,
  blockMs: 1000,
  /** Retry-after suggested to clients while Redis is unreachable. */
  unavailableRetryMs: 1000,
} as const;

export type RedisState = 'connecting' | 'ok' | 'down' | 'syncing';

export interface RedisHealth {
  state: RedisState;
  canvas: string;
  epoch: number;
  /** Last stream seq applied by this node, and last read from Redis. */
  appliedSeq: number;
  readSeq: number;
  lastError: string | null;
}

interface Entry {
  seq: number;
  records: PlacementRecord[];
}

type Snapshot = CanvasSnapshot;

interface Pending {
  groups: Buffer[];
  counts: number[];
  ips: string[];
  acks: PlaceAck[];
}

function redisOptions(timeoutMs: number): RedisOptions {
  return {
    lazyConnect: true,
    // Fail fast while disconnected (placements are refused at once, never queued behind a dead link)…
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    // …and keep reconnecting forever, at most a second apart.
    retryStrategy: (times: number) => Math.min(50 * times, 1000),
  };
}

function newEpoch(not: number | null): number {
  let e: number;
  do e = randomBytes(4).readUInt32LE(0); while (e === not);
  return e;
}

export class RedisPlacementSeam implements PlacementSeam, TakeSource {
  private readonly cmd: Redis;
  private readonly reader: Redis;
  private readonly keys: CanvasKeys;
  private wake: () => void = () => {};
  private readonly generationListeners: Array<() => void> = [];
  /** The pending resync moves this node to another generation (its clients' versions stop meaning anything). */
  private resyncNewGeneration = false;
  private takeNewGeneration = false;
  private closed = false;
  private stateValue: RedisState = 'connecting';
  private lastError: string | null = null;
  /** Set when this node can never join as configured (checked by start). */
  private fatal: Error | null = null;

  epoch: number;
  /** Everything up to here is in the store (or in the take being committed). */
  appliedSeq: number;
  /** Everything up to here has been read from Redis (queued or applied). */
  private readSeq: number;
  private queue: Entry[] = [];
  private queueHead = 0;
  private queuedRecords = 0;
  private resync: Snapshot | null = null;
  private readonly readerWaiters: Array<() => void> = [];
  /** Sync must run before the next read / write (start, reconnect, epoch mismatch). */
  private needSync = true;
  private syncing: Promise<void> | null = null;

  private out: Pending = { groups: [], counts: [], ips: [], acks: [] };
  private flushScheduled = false;
  /** Acks of accepted groups, by the seq of their entry, until that entry is applied here. */
  private readonly waiting = new Map<number, PlaceAck[]>();
  private readyAcks: PlaceAck[] = [];
  private take_: TakeInfo | null = null;
  private takeEntries: Entry[] = [];
  private takeResync: Snapshot | null = null;
  private takeFrom = 0;
  /** Chunks changed since this node last wrote the snapshot, and which (seq, epoch) that was. */
  private changedSinceSnapshot = new Set<number>();
  private mySnapshot: { seq: number; epoch: number } | null = null;
  private holdUntil = 0;
  private snapshotTimer: NodeJS.Timeout | null = null;
  private readLoopDone: Promise<void> | null = null;

  constructor(private readonly opts: RedisSeamOptions) {
    this.keys = opts.keys;
    this.cmd = new Redis(opts.url, { ...redisOptions(opts.commandTimeoutMs), commandTimeout: opts.commandTimeoutMs });
    // The reader blocks in XREAD: its own connection, and no command timeout shorter than the block.
    this.reader = new Redis(opts.url, redisOptions(opts.commandTimeoutMs));
    this.cmd.defineCommand('pcPlace', { lua: PLACE_LUA });
    for (const c of [this.cmd, this.reader]) {
      c.on('error', (err: Error) => this.noteError(err));
      c.on('close', () => {
        if (!this.closed) this.setState('down');
      });
      c.on('ready', () => {
        this.needSync = true;
        this.kickReaders();
      });
    }
    this.appliedSeq = opts.startSeq;
    this.readSeq = opts.startSeq;
    this.epoch = opts.startEpoch ?? 0;
  }

  /** Connect and run the first sync, waiting at most `waitMs`; a node whose Redis is down starts anyway. */
  async start(waitMs: number): Promise<void> {
    this.cmd.connect().catch((err: Error) => this.noteError(err));
    this.reader.connect().catch((err: Error) => this.noteError(err));
    this.readLoopDone = this.readLoop();
    this.snapshotTimer = setInterval(() => void this.maybeWriteSnapshot(), this.opts.snapshotIntervalMs);
    this.snapshotTimer.unref();
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline && this.stateValue !== 'ok' && this.fatal === null) await sleep(20);
    if (this.fatal !== null) {
      await this.close();
      throw this.fatal;
    }
  }

  /** The command connection (never the reader), for the other per-node Redis users (gate, presence). */
  get redis(): Redis {
    return this.cmd;
  }

  get state(): RedisState {
    return this.stateValue;
  }

  health(): RedisHealth {
    return {
      state: this.stateValue, canvas: this.opts.canvas, epoch: this.epoch, appliedSeq: this.appliedSeq,
      readSeq: this.readSeq, lastError: this.lastError,
    };
  }

  setWakeup(wake: () => void): void {
    this.wake = wake;
  }

  /**
   * Called once the node has applied a snapshot of another generation (Redis lost the canvas and another
   * node re-seeded it): versions its clients hold may now be higher than the new ones, so they must
   * reconnect, see the new epoch in WELCOME and load afresh.
   */
  onGenerationChange(listener: () => void): void {
    this.generationListeners.push(listener);
  }

  /** Wake the tick (other cluster parts: the online count changed). */
  wakeTick(): void {
    this.wake();
  }

  /** Wake the tick if anything is waiting for it (server.ts calls it once the loop runs). */
  kick(): void {
    if (this.queueHead < this.queue.length || this.resync || this.readyAcks.length > 0) this.wake();
  }

  get pending(): number {
    return this.queuedRecords;
  }

  // ---------------------------------------------------------------------------------------------------
  // Writing

  submit(records: readonly PlacementRecord[], ack: PlaceAck): void {
    if (this.stateValue !== 'ok' || this.closed) {
      this.refuse(ack, ErrorCode.PLACEMENTS_UNAVAILABLE, REDIS_DEFAULTS.unavailableRetryMs);
      return;
    }
    const p = this.out;
    p.groups.push(encodeGroup(records));
    p.counts.push(records.length);
    p.ips.push(records[0]!.ip);
    p.acks.push(ack);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // One script call per event-loop turn: everything submitted by this turn's messages goes in one entry.
      setImmediate(() => this.flush());
    }
  }

  private refuse(ack: PlaceAck, status: number, retryAfterMs: number): void {
    ack.status = status;
    ack.retryAfterMs = retryAfterMs;
    this.readyAcks.push(ack);
    this.wake();
  }

  private flush(): void {
    this.flushScheduled = false;
    const p = this.out;
    if (p.acks.length === 0) return;
    this.out = { groups: [], counts: [], ips: [], acks: [] };
    // One bucket key per distinct address, and the groups as one payload with a "count:bytes:bucket," index.
    const bucketOf = new Map<string, number>();
    const keys = [this.keys.stream, this.keys.seq, this.keys.epoch];
    let meta = '';
    let bytes = 0;
    for (let i = 0; i < p.groups.length; i++) {
      const ip = p.ips[i]!;
      let k = bucketOf.get(ip);
      if (k === undefined) {
        keys.push(this.keys.bucket(ip));
        k = keys.length - 3;
        bucketOf.set(ip, k);
      }
      meta += `${p.counts[i]!}:${p.groups[i]!.length}:${k},`;
      bytes += p.groups[i]!.length;
    }
    const args: Array<string | number | Buffer> = [
      String(this.epoch), this.opts.streamMaxLen, this.opts.paintRate, this.opts.paintBurst, meta, Buffer.concat(p.groups, bytes),
    ];
    const epoch = this.epoch;
    (this.cmd as unknown as { pcPlace(n: number, ...a: unknown[]): Promise<number[]> })
      .pcPlace(keys.length, ...keys, ...args)
      .then((res) => this.placed(p, res, epoch), (err: Error) => {
        this.noteError(err);
        // Unreachable, timed out, or failed: the outcome may be unknown, the answer is "not placed, retry".
        for (const ack of p.acks) this.refuse(ack, ErrorCode.PLACEMENTS_UNAVAILABLE, REDIS_DEFAULTS.unavailableRetryMs);
      });
  }

  private placed(p: Pending, res: number[], epoch: number): void {
    const seq = Number(res[0]);
    if (seq === -1) {
      // Redis holds another generation of the canvas (or none): nothing was written. Resync first.
      this.needSync = true;
      this.kickReaders();
      for (const ack of p.acks) this.refuse(ack, ErrorCode.PLACEMENTS_UNAVAILABLE, REDIS_DEFAULTS.unavailableRetryMs);
      return;
    }
    const accepted: PlaceAck[] = [];
    for (let i = 0; i < p.acks.length; i++) {
      const r = Number(res[i + 1]);
      const ack = p.acks[i]!;
      if (r === 0) {
        ack.status = ErrorCode.OK; // the seam owns its acks: set in place, no copy per PLACE
        ack.retryAfterMs = 0;
        accepted.push(ack);
      }
      else if (r === -1) this.refuse(ack, ErrorCode.BATCH_TOO_LARGE, 0);
      else this.refuse(ack, ErrorCode.RATE_LIMITED, r);
    }
    if (accepted.length === 0) return;
    if (epoch !== this.epoch) {
      // A resync happened meanwhile; the entry is in the old generation's stream, its fate is unknown.
      for (const ack of accepted) this.refuse(ack, ErrorCode.PLACEMENTS_UNAVAILABLE, REDIS_DEFAULTS.unavailableRetryMs);
      return;
    }
    if (seq <= this.appliedSeq) {
      // Already applied here (the reader was faster than this reply): answer now.
      for (const ack of accepted) this.readyAcks.push(ack);
      this.wake();
      return;
    }
    const list = this.waiting.get(seq);
    if (list) list.push(...accepted);
    else this.waiting.set(seq, accepted);
  }

  // ---------------------------------------------------------------------------------------------------
  // Reading

  private async readLoop(): Promise<void> {
    let backoff = 50;
    while (!this.closed) {
      try {
        if (this.reader.status !== 'ready' || this.cmd.status !== 'ready') {
          if (this.stateValue === 'ok') this.setState('down');
          await this.waitForKick(500);
          continue;
        }
        if (this.needSync) {
          this.setState('syncing');
          await this.sync();
          this.needSync = false;
          this.setState('ok');
        }
        if (this.queuedRecords >= REDIS_DEFAULTS.maxQueuedRecords || this.resync !== null) {
          await this.waitForKick(50);
          continue;
        }
        // A wake lost before the tick loop started (catch-up read during start-up) is repeated here.
        if (this.queueHead < this.queue.length || this.resync || this.readyAcks.length > 0) this.wake();
        const from = this.readSeq;
        const epoch = this.epoch;
        const res = await this.reader.xreadBuffer('COUNT', REDIS_DEFAULTS.readCount, 'BLOCK', REDIS_DEFAULTS.blockMs,
          'STREAMS', this.keys.stream, entryId(from));
        if (this.closed || this.needSync || epoch !== this.epoch || from !== this.readSeq) continue;
        if (res && res.length > 0) this.accept(res[0]![1] as Array<[Buffer, Buffer[]]>);
        backoff = 50;
      } catch (err) {
        if (this.closed) break;
        if (err instanceof ClusterConfigError) this.fatal = err;
        this.noteError(err as Error);
        this.needSync = true;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 1000);
      }
    }
  }

  private accept(entries: Array<[Buffer, Buffer[]]>): void {
    for (const [idBuf, fields] of entries) {
      const seq = entrySeq(idBuf.toString());
      if (Number.isNaN(seq) || seq <= this.readSeq) continue;
      if (seq !== this.readSeq + 1) {
        // Trimmed past us: the entries between are gone; only a snapshot can bridge the gap.
        this.opts.log.warn({ readSeq: this.readSeq, next: seq }, 'fell behind the trimmed stream; resyncing from the snapshot');
        this.needSync = true;
        return;
      }
      const records: PlacementRecord[] = [];
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i]!.toString() !== 'p') continue;
        try {
          decodeEntry(fields[i + 1]!, records);
        } catch (err) {
          // Every node skips the same damaged entry, so they still agree.
          if (!(err instanceof StreamCodecError)) throw err;
          this.opts.log.error({ err, seq }, 'damaged stream entry skipped');
          records.length = 0;
        }
      }
      this.queue.push({ seq, records });
      this.queuedRecords += records.length;
      this.readSeq = seq;
    }
    this.wake();
  }

  /** See the file comment. Runs on the command connection; the reader is idle meanwhile. */
  private async sync(): Promise<void> {
    const { keys, store } = this.opts;
    const shape = `${store.width}x${store.height}x${store.paletteSize}x${store.background}`;
    const theirs = await this.cmd.get(keys.shape);
    if (theirs !== null && theirs !== shape) {
      throw new ClusterConfigError(`canvas "${this.opts.canvas}" in Redis is ${theirs} (width x height x colours x background), this node is ${shape}: start it with the same --width, --height and palette, or another --canvas`);
    }
    const [epochText, seqText] = await Promise.all([this.cmd.get(keys.epoch), this.cmd.get(keys.seq)]);
    const redisSeq = seqText === null ? 0 : Number(seqText);
    // What this node knows (applied, or queued to apply).
    const mine = Math.max(this.readSeq, this.appliedSeq);
    if (epochText === null || (Number(epochText) === this.epoch && redisSeq < mine)) {
      // No canvas in Redis, or Redis went back in time (restored from an older dump): make it from ours.
      await this.seed(epochText === null ? null : Number(epochText));
      return;
    }
    const epoch = Number(epochText);
    if (epoch === this.epoch) {
      // Same generation: read on from readSeq, unless the stream no longer holds the next entry.
      const first = await this.cmd.xrange(keys.stream, '-', '+', 'COUNT', 1);
      const firstSeq = first.length > 0 ? entrySeq(first[0]![0]) : redisSeq + 1;
      if (!(firstSeq > this.readSeq + 1)) return;
      const snap = await this.readSnapshot(epoch);
      if (snap.seq + 1 < firstSeq || snap.seq <= this.readSeq) {
        throw new Error(`the stream starts at seq ${firstSeq}, past this node (${this.readSeq}), and the snapshot (seq ${snap.seq}) does not bridge the gap; waiting for a newer snapshot`);
      }
      this.switchTo(snap);
      return;
    }
    // Another generation: start from Redis's snapshot (or from empty at seq 0 when there is none yet).
    const snap = await this.readSnapshot(epoch);
    this.switchTo(snap);
  }

  private switchTo(snap: Snapshot): void {
    this.opts.log.info({ from: { epoch: this.epoch, seq: this.appliedSeq }, to: { epoch: snap.epoch, seq: snap.seq } }, 'resyncing from the Redis snapshot');
    const sameEpoch = snap.epoch === this.epoch;
    this.resyncNewGeneration = !sameEpoch;
    this.epoch = snap.epoch;
    this.queue = [];
    this.queueHead = 0;
    this.queuedRecords = 0;
    this.resync = snap;
    this.readSeq = snap.seq;
    if (!sameEpoch) {
      // Placements waiting for entries of the old generation: their fate is unknown. (In the same
      // generation they are in the snapshot or the stream after it, and are answered when applied.)
      for (const acks of this.waiting.values()) for (const ack of acks) this.refuse(ack, ErrorCode.PLACEMENTS_UNAVAILABLE, REDIS_DEFAULTS.unavailableRetryMs);
      this.waiting.clear();
    }
    this.wake();
  }

  private async seed(oldEpoch: number | null): Promise<void> {
    const { keys, store } = this.opts;
    const token = randomBytes(8).toString('hex');
    const got = await this.cmd.set(keys.seedLock, token, 'PX', 10_000, 'NX');
    if (got === null) throw new Error('another node is re-seeding the canvas in Redis; retrying');
    // Wait until every take so far is applied, so the snapshot is the state at appliedSeq.
    while ((this.queueHead < this.queue.length || this.resync) && !this.closed) await sleep(10);
    if (this.closed) return;
    const epoch = newEpoch(oldEpoch ?? this.epoch);
    const seq = this.appliedSeq;
    const shape = `${store.width}x${store.height}x${store.paletteSize}x${store.background}`;
    const m = this.cmd.multi();
    m.del(keys.stream, keys.snapshotTmp);
    this.addSnapshotWrites(m, seq, epoch);
    m.rename(keys.snapshotTmp, keys.snapshot);
    m.set(keys.seq, String(seq));
    m.set(keys.shape, shape);
    m.set(keys.epoch, String(epoch));
    await m.exec();
    this.mySnapshot = { seq, epoch };
    this.changedSinceSnapshot.clear();
    await this.cmd.del(keys.seedLock);
    if (oldEpoch !== null || seq > 0) this.opts.log.warn({ epoch, seq }, 'Redis had no canvas state: seeded it from this node');
    // Our state is the snapshot: a new generation without any change to the pixels or versions.
    for (const acks of this.waiting.values()) for (const ack of acks) this.refuse(ack, ErrorCode.PLACEMENTS_UNAVAILABLE, REDIS_DEFAULTS.unavailableRetryMs);
    this.waiting.clear();
    this.epoch = epoch;
    this.readSeq = seq;
    this.appliedSeq = seq;
  }

  private addSnapshotWrites(m: ReturnType<Redis['multi']>, seq: number, epoch: number): void {
    for (const fields of snapshotFields(this.opts.store, seq, epoch)) m.hset(this.opts.keys.snapshotTmp, ...fields);
  }

  private async readSnapshot(epoch: number): Promise<Snapshot> {
    return parseSnapshot(await this.cmd.hgetallBuffer(this.opts.keys.snapshot), epoch);
  }

  /** Some node (whoever takes the lock) writes the canvas as of its applied seq, when newer than Redis's. */
  private async maybeWriteSnapshot(): Promise<void> {
    if (this.stateValue !== 'ok' || this.closed) return;
    const { keys } = this.opts;
    try {
      const got = await this.cmd.set(keys.snapshotLock, '1', 'PX', Math.max(1000, this.opts.snapshotIntervalMs - 500), 'NX');
      if (got === null) return;
      const [have, epochText] = await Promise.all([this.cmd.hget(keys.snapshot, 'seq'), this.cmd.get(keys.epoch)]);
      if (Number(epochText) !== this.epoch || (have !== null && Number(have) >= this.appliedSeq)) return;
      // Taken synchronously from the store, between ticks: exactly the state at appliedSeq. The state at a
      // seq is the same on every node, so when the snapshot is still at the seq this node last wrote, only
      // the chunks changed since need writing (a big sparse canvas is not rewritten every interval).
      const seq = this.appliedSeq;
      const epoch = this.epoch;
      const changed = this.changedSinceSnapshot;
      this.changedSinceSnapshot = new Set();
      const m = this.cmd.multi();
      const incremental = have !== null && this.mySnapshot !== null && this.mySnapshot.epoch === epoch && Number(have) === this.mySnapshot.seq;
      if (incremental) {
        m.hset(keys.snapshot, ...chunkFields(this.opts.store, changed, seq));
      } else {
        m.del(keys.snapshotTmp);
        this.addSnapshotWrites(m, seq, epoch);
        m.rename(keys.snapshotTmp, keys.snapshot);
      }
      try {
        const res = await m.exec();
        if (res === null || res.some(([err]) => err)) throw new Error('snapshot transaction failed');
        this.mySnapshot = { seq, epoch };
      } catch (err) {
        for (const k of changed) this.changedSinceSnapshot.add(k);
        this.mySnapshot = null;
        throw err;
      }
    } catch (err) {
      this.noteError(err as Error);
    }
  }

  /** Write the snapshot now (tests, and the bench before trimming hard). */
  async writeSnapshot(): Promise<void> {
    await this.cmd.del(this.opts.keys.snapshotLock).catch(() => 0);
    await this.maybeWriteSnapshot();
  }

  // ---------------------------------------------------------------------------------------------------
  // The tick's side

  take(): PlacementBatch {
    const acks = this.readyAcks;
    this.readyAcks = [];
    this.take_ = null;
    const records: PlacementRecord[] = [];
    if (performance.now() < this.holdUntil) {
      if (this.queueHead < this.queue.length || this.resync) setTimeout(this.wake, this.holdUntil - performance.now()).unref();
      return { records, acks, position: null };
    }
    const { store } = this.opts;
    const pins = new Map<number, number>();
    const from = this.appliedSeq;
    let seq = from;
    const entries: Entry[] = [];
    const resync = this.resync;
    if (resync) {
      this.resync = null;
      this.takeNewGeneration = this.resyncNewGeneration;
      if (this.resyncNewGeneration) {
        this.resyncNewGeneration = false;
        // After this tick applies the diff (clients take longer than that to reconnect).
        for (const l of this.generationListeners) queueMicrotask(l);
      }
      for (const [key, version] of diffToSnapshot(store, resync, records, Date.now())) pins.set(key, version);
      seq = resync.seq;
    }
    /** Colours this batch has set so far, so "changed" is judged in stream order within the batch. */
    const overlay = new Map<number, number>();
    while (this.queueHead < this.queue.length && records.length < this.opts.maxRecordsPerTake) {
      const entry = this.queue[this.queueHead++]!;
      this.queuedRecords -= entry.records.length;
      entries.push(entry);
      if (entry.seq <= seq) continue;
      const version = versionOfSeq(entry.seq);
      for (const r of entry.records) {
        if (store.check(r.x, r.y, r.color) !== null) continue; // cannot happen when every node has the same shape (checked at sync)
        const pos = r.y * MAX_CANVAS_SIDE + r.x;
        const cur = overlay.get(pos) ?? store.get(r.x, r.y);
        if (cur !== r.color) {
          const key = chunkKey(r.x >>> CHUNK_SHIFT, r.y >>> CHUNK_SHIFT);
          pins.set(key, version);
          store.pinVersion(r.x >>> CHUNK_SHIFT, r.y >>> CHUNK_SHIFT, version);
          overlay.set(pos, r.color);
        }
        records.push(r);
      }
      seq = entry.seq;
    }
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.queueHead > 4096) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    if (this.queueHead < this.queue.length) this.wake(); // more next tick
    this.kickReaders();
    this.appliedSeq = seq;
    if (this.waiting.size > 0) {
      // Keys are in seq order (script replies arrive in call order on one connection): stop at the first later one.
      for (const [s, list] of this.waiting) {
        if (s > seq) break;
        for (const ack of list) acks.push(ack);
        this.waiting.delete(s);
      }
    }
    for (const key of pins.keys()) this.changedSinceSnapshot.add(key);
    if (seq !== from || records.length > 0) {
      this.take_ = { records, seq, epoch: this.epoch, pins };
      this.takeEntries = entries;
      this.takeResync = resync;
      this.takeFrom = from;
    }
    return { records, acks, position: this.take_ };
  }

  currentTake(): TakeInfo | null {
    return this.take_;
  }

  rewind(info: TakeInfo): void {
    if (info !== this.take_) return;
    this.opts.log.error({ seq: info.seq }, 'local commit failed; the stream entries will be applied again in a second');
    this.take_ = null;
    this.queue = [...this.takeEntries, ...this.queue.slice(this.queueHead)];
    this.queueHead = 0;
    for (const e of this.takeEntries) this.queuedRecords += e.records.length;
    if (this.takeResync) {
      this.resync = this.takeResync;
      // Clients that reconnected meanwhile saw the pre-diff canvas: they are told again after the retry.
      this.resyncNewGeneration = this.takeNewGeneration;
    }
    this.appliedSeq = this.takeFrom;
    this.holdUntil = performance.now() + 1000;
  }

  // ---------------------------------------------------------------------------------------------------

  private setState(s: RedisState): void {
    if (s === this.stateValue) return;
    const was = this.stateValue;
    this.stateValue = s;
    if (s === 'ok') this.lastError = null;
    this.opts.log[s === 'down' ? 'warn' : 'info']({ redis: s, was }, `redis ${s}`);
  }

  private noteError(err: Error): void {
    const msg = err.message;
    if (msg !== this.lastError) this.opts.log.warn({ err: msg }, 'redis error');
    this.lastError = msg;
  }

  private waitForKick(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.readerWaiters.push(done);
    });
  }

  private kickReaders(): void {
    const w = this.readerWaiters.splice(0);
    for (const f of w) f();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.out.acks.length > 0) this.flush();
    this.closed = true;
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    this.kickReaders();
    this.reader.disconnect();
    await this.readLoopDone?.catch(() => {});
    try {
      await this.cmd.quit();
    } catch {
      this.cmd.disconnect();
    }
  }
}

/** This node cannot join the canvas as configured (another shape): start-up fails with it. */
export class ClusterConfigError extends Error {
  override name = 'ClusterConfigError';
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
