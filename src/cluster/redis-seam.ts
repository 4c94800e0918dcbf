/**
 * The placement seam of a node that shares its canvas with other nodes through one Redis Stream, composed
 * of its parts: ./stream-writer.ts (submit → one PLACE script call per event-loop turn), ./stream-reader.ts
 * (XREAD into a queue), ./stream-sync.ts (joining the canvas's generation and position), ./snapshot-writer.ts
 * (the canvas snapshot in Redis), ./shared-value.ts (a music canvas's tempo map and published palette, in the same stream),
 * sharing ./seam-state.ts.
 *
 * This file is the tick's side. take → the queued entries in stream order (every node applies the same
 * sequence) as one PlacementBatch whose position carries the seq, the epoch and the version each changed
 * chunk gets from its entry's seq; the commit stage applies records and pins to the store (this seam writes
 * nothing into it, except the version-only alignment of a resync, see canvas-snapshot.ts). A submitter's ack
 * is handed out once its own entry has been taken. redeliver → a batch whose local commit failed is taken
 * again after a pause.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { MAX_CANVAS_SIDE, pixelChunkKey } from '../chunks/geometry.js';
import type { LogPosition, PlacementRecord } from '../storage/canvas-storage.js';
import type { PlaceAck, PlacementBatch, PlacementSeam } from '../realtime/placement-seam.js';
import type { CanvasGeneration } from './cluster-storage.js';
import type { CanvasKeys } from './redis-keys.js';
import { PLACE_LUA, SHARED_LUA } from './redis-scripts.js';
import { versionOfSeq } from './stream-codec.js';
import { type CanvasSnapshot, diffToSnapshot } from './canvas-snapshot.js';
import { redisOptions, sleep, type RedisState } from './redis-link.js';
import { REDIS_DEFAULTS } from '../defaults.js';
import { SeamState, type Entry } from './seam-state.js';
import { StreamWriter } from './stream-writer.js';
import { StreamReader } from './stream-reader.js';
import { StreamSync } from './stream-sync.js';
import { SnapshotWriter } from './snapshot-writer.js';
import { SharedValue } from './shared-value.js';

export { ClusterConfigError, type RedisState } from './redis-link.js';

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
  /** The canvas generation, shared with ClusterStorage (whose epoch the room shows): this seam keeps it. */
  generation: CanvasGeneration;
  /** Stream entries kept (XADD MAXLEN ~). */
  streamMaxLen: number;
  /** How often some node writes the snapshot a node that fell behind the trimmed stream restarts from. */
  snapshotIntervalMs: number;
  /** A Redis command taking longer than this counts as Redis being unreachable. */
  commandTimeoutMs: number;
  /** Records one tick applies at most while catching up (bounds a tick). */
  maxRecordsPerTake: number;
  /** Music canvases: each tempo map the shared log gives this node, as text (./shared-value.ts). */
  onTempo?: (map: string) => void;
  /** Music canvases: each published palette (with its switch bar) the shared log gives this node, as text. */
  onPatterns?: (text: string) => void;
}

export interface RedisHealth {
  state: RedisState;
  canvas: string;
  epoch: number;
  /** Last stream seq applied by this node, and last read from Redis. */
  appliedSeq: number;
  readSeq: number;
  lastError: string | null;
}

/** What the last take delivered with a position, to put back if its commit fails. */
interface Delivered {
  position: LogPosition;
  entries: Entry[];
  resync: CanvasSnapshot | null;
  newGeneration: boolean;
  from: number;
}

export class RedisPlacementSeam implements PlacementSeam {
  private readonly cmd: Redis;
  private readonly reader: Redis;
  private readonly st: SeamState;
  private readonly writer: StreamWriter;
  private readonly snapshots: SnapshotWriter;
  private readonly streamReader: StreamReader;
  /** A music canvas's tempo changes and published palettes through the shared log (unused on a pixel canvas). */
  readonly tempo: SharedValue;
  readonly patterns: SharedValue;
  private readonly generationListeners: Array<() => void> = [];
  private delivered: Delivered | null = null;
  /** No take delivers anything before this (performance.now()): the pause after a failed commit. */
  private holdUntil = 0;
  private snapshotTimer: NodeJS.Timeout | null = null;
  private readLoopDone: Promise<void> | null = null;

  constructor(private readonly opts: RedisSeamOptions) {
    this.cmd = new Redis(opts.url, { ...redisOptions(opts.commandTimeoutMs), commandTimeout: opts.commandTimeoutMs });
    // The reader blocks in XREAD: its own connection, and no command timeout shorter than the block.
    this.reader = new Redis(opts.url, redisOptions(opts.commandTimeoutMs));
    this.cmd.defineCommand('pcPlace', { lua: PLACE_LUA });
    this.cmd.defineCommand('pcShared', { lua: SHARED_LUA });
    const st = (this.st = new SeamState(opts.generation, opts.log, opts.startSeq, opts.startEpoch));
    for (const c of [this.cmd, this.reader]) {
      c.on('error', (err: Error) => st.noteError(err));
      c.on('close', () => {
        if (!st.closed) st.setState('down');
      });
      c.on('ready', () => {
        st.needSync = true;
        st.kickReaders();
      });
    }
    this.writer = new StreamWriter(st, this.cmd, opts);
    this.snapshots = new SnapshotWriter(st, this.cmd, opts);
    const shared = (field: string, key: string, onValue: ((text: string) => void) | undefined) => new SharedValue(st, this.cmd, {
      field, key, stream: opts.keys.stream, seq: opts.keys.seq, epoch: opts.keys.epoch, streamMaxLen: opts.streamMaxLen, onValue: onValue ?? (() => {}),
    });
    this.tempo = shared('t', opts.keys.tempo, opts.onTempo);
    this.patterns = shared('a', opts.keys.patterns, opts.onPatterns);
    const values = [this.tempo, this.patterns];
    const sync = new StreamSync(st, this.cmd, this.snapshots, values, opts);
    this.streamReader = new StreamReader(st, this.reader, this.cmd, sync, values, opts.keys);
  }

  /** Connect and run the first sync, waiting at most `waitMs`; a node whose Redis is down starts anyway. */
  async start(waitMs: number): Promise<void> {
    const st = this.st;
    this.cmd.connect().catch((err: Error) => st.noteError(err));
    this.reader.connect().catch((err: Error) => st.noteError(err));
    this.readLoopDone = this.streamReader.run();
    this.snapshotTimer = setInterval(() => void this.snapshots.maybeWrite(), this.opts.snapshotIntervalMs);
    this.snapshotTimer.unref();
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline && st.state !== 'ok' && st.fatal === null) await sleep(20);
    if (st.fatal !== null) {
      await this.close();
      throw st.fatal;
    }
  }

  /** The command connection (never the reader), for the other per-node Redis users (gate, presence). */
  get redis(): Redis {
    return this.cmd;
  }

  get state(): RedisState {
    return this.st.state;
  }

  get epoch(): number {
    return this.st.epoch;
  }

  /** Last stream seq applied by this node. */
  get appliedSeq(): number {
    return this.st.appliedSeq;
  }

  health(): RedisHealth {
    const st = this.st;
    return {
      state: st.state, canvas: this.opts.canvas, epoch: st.epoch, appliedSeq: st.appliedSeq,
      readSeq: st.readSeq, lastError: st.lastError,
    };
  }

  setWakeup(wake: () => void): void {
    this.st.setWakeup(wake);
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
    this.st.wake();
  }

  /** Wake the tick if anything is waiting for it (server.ts calls it once the loop runs). */
  kick(): void {
    if (this.st.hasWork) this.st.wake();
  }

  get pending(): number {
    return this.st.queuedRecords;
  }

  submit(records: readonly PlacementRecord[], ack: PlaceAck): void {
    this.writer.submit(records, ack);
  }

  /** Write the snapshot now (tests, and the bench before trimming hard). */
  writeSnapshot(): Promise<void> {
    return this.snapshots.writeNow();
  }

  take(): PlacementBatch {
    const st = this.st;
    const acks = st.readyAcks;
    st.readyAcks = [];
    this.delivered = null;
    const records: PlacementRecord[] = [];
    if (performance.now() < this.holdUntil) {
      if (st.queueHead < st.queue.length || st.resync) setTimeout(st.wake, this.holdUntil - performance.now()).unref();
      return { records, acks, position: null };
    }
    const { store } = this.opts;
    const from = st.appliedSeq;
    let seq = from;
    const entries: Entry[] = [];
    const resync = st.resync;
    const newGeneration = st.resyncNewGeneration;
    let pins = new Map<number, number>();
    if (resync) {
      st.resync = null;
      if (newGeneration) {
        st.resyncNewGeneration = false;
        // After this tick applies the diff (clients take longer than that to reconnect).
        for (const l of this.generationListeners) queueMicrotask(l);
      }
      pins = diffToSnapshot(store, resync, records, Date.now());
      seq = resync.seq;
    }
    /** Colours this batch has set so far, so "changed" is judged in stream order within the batch. */
    const overlay = new Map<number, number>();
    while (st.queueHead < st.queue.length && records.length < this.opts.maxRecordsPerTake) {
      const entry = st.queue[st.queueHead++]!;
      st.queuedRecords -= entry.records.length;
      entries.push(entry);
      if (entry.seq <= seq) continue;
      const version = versionOfSeq(entry.seq);
      for (const r of entry.records) {
        if (store.check(r.x, r.y, r.color) !== null) continue; // cannot happen when every node has the same shape (checked at sync)
        const pos = r.y * MAX_CANVAS_SIDE + r.x;
        const cur = overlay.get(pos) ?? store.get(r.x, r.y);
        if (cur !== r.color) {
          pins.set(pixelChunkKey(r.x, r.y), version);
          overlay.set(pos, r.color);
        }
        records.push(r);
      }
      seq = entry.seq;
    }
    if (st.queueHead === st.queue.length) {
      st.queue = [];
      st.queueHead = 0;
    } else if (st.queueHead > 4096) {
      st.queue = st.queue.slice(st.queueHead);
      st.queueHead = 0;
    }
    if (st.queueHead < st.queue.length) st.wake(); // more next tick
    st.kickReaders();
    st.appliedSeq = seq;
    if (st.waiting.size > 0) {
      // Keys are in seq order (script replies arrive in call order on one connection): stop at the first later one.
      for (const [s, list] of st.waiting) {
        if (s > seq) break;
        for (const ack of list) acks.push(ack);
        st.waiting.delete(s);
      }
    }
    for (const key of pins.keys()) st.changedSinceSnapshot.add(key);
    if (seq === from && records.length === 0) return { records, acks, position: null };
    const position: LogPosition = { seq, epoch: st.epoch, pins };
    this.delivered = { position, entries, resync, newGeneration: resync !== null && newGeneration, from };
    return { records, acks, position };
  }

  /** The local commit of the last batch failed: its entries (and resync) are taken again after a pause. */
  redeliver(batch: PlacementBatch): void {
    const d = this.delivered;
    if (d === null || batch.position !== d.position) return;
    const st = this.st;
    st.log.error({ seq: d.position.seq }, 'local commit failed; the stream entries will be applied again in a second');
    this.delivered = null;
    st.queue = [...d.entries, ...st.queue.slice(st.queueHead)];
    st.queueHead = 0;
    for (const e of d.entries) st.queuedRecords += e.records.length;
    if (d.resync) {
      st.resync = d.resync;
      // Clients that reconnected meanwhile saw the pre-diff canvas: they are told again after the retry.
      st.resyncNewGeneration = d.newGeneration;
    }
    st.appliedSeq = d.from;
    this.holdUntil = performance.now() + REDIS_DEFAULTS.redeliverAfterMs;
  }

  async close(): Promise<void> {
    const st = this.st;
    if (st.closed) return;
    this.writer.flush();
    st.closed = true;
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    st.kickReaders();
    this.reader.disconnect();
    await this.readLoopDone?.catch(() => {});
    try {
      await this.cmd.quit();
    } catch {
      this.cmd.disconnect();
    }
  }
}
