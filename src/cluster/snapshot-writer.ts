/**
 * The canvas snapshot in Redis from this node's side: some node (whoever takes the lock) writes the canvas
 * as of its applied seq every interval when it is newer than Redis's, incrementally when the snapshot is still
 * the one this node last wrote; sync reads it (and re-seeds through `addFullWrite`). The hash layout is in
 * ./canvas-snapshot.ts.
 */
import type { Redis } from 'ioredis';
import type { ChunkStore } from '../chunks/chunk-store.js';
import type { CanvasKeys } from './redis-keys.js';
import type { SeamState } from './seam-state.js';
import { type CanvasSnapshot, chunkFields, parseSnapshot, snapshotFields } from './canvas-snapshot.js';

export interface SnapshotWriterOptions {
  keys: CanvasKeys;
  store: ChunkStore;
  /** How often some node writes the snapshot a node that fell behind the trimmed stream restarts from. */
  snapshotIntervalMs: number;
}

export class SnapshotWriter {
  /** Which (seq, epoch) this node last wrote, while Redis's snapshot is still that one. */
  private mine: { seq: number; epoch: number } | null = null;

  constructor(private readonly state: SeamState, private readonly cmd: Redis, private readonly opts: SnapshotWriterOptions) {}

  /** The snapshot Redis holds for `epoch` (or the empty canvas at seq 0). */
  async read(epoch: number): Promise<CanvasSnapshot> {
    return parseSnapshot(await this.cmd.hgetallBuffer(this.opts.keys.snapshot), epoch);
  }

  /** Adds to `m` the writes of the whole store as of (seq, epoch) into the temporary key. */
  addFullWrite(m: ReturnType<Redis['multi']>, seq: number, epoch: number): void {
    for (const fields of snapshotFields(this.opts.store, seq, epoch)) m.hset(this.opts.keys.snapshotTmp, ...fields);
  }

  /** The snapshot in Redis is now this node's state at (seq, epoch) (a re-seed wrote it). */
  wrote(seq: number, epoch: number): void {
    this.mine = { seq, epoch };
    this.state.changedSinceSnapshot.clear();
  }

  /** Write if this node holds the lock and is ahead of Redis's snapshot (errors are noted, not thrown). */
  async maybeWrite(): Promise<void> {
    const st = this.state;
    if (st.state !== 'ok' || st.closed) return;
    const { keys } = this.opts;
    try {
      const got = await this.cmd.set(keys.snapshotLock, '1', 'PX', Math.max(1000, this.opts.snapshotIntervalMs - 500), 'NX');
      if (got === null) return;
      const [have, epochText] = await Promise.all([this.cmd.hget(keys.snapshot, 'seq'), this.cmd.get(keys.epoch)]);
      if (Number(epochText) !== st.epoch || (have !== null && Number(have) >= st.appliedSeq)) return;
      // Taken synchronously from the store, between ticks: exactly the state at appliedSeq. The state at a
      // seq is the same on every node, so when the snapshot is still at the seq this node last wrote, only
      // the chunks changed since need writing (a big sparse canvas is not rewritten every interval).
      const seq = st.appliedSeq;
      const epoch = st.epoch;
      const changed = st.changedSinceSnapshot;
      st.changedSinceSnapshot = new Set();
      const m = this.cmd.multi();
      const incremental = have !== null && this.mine !== null && this.mine.epoch === epoch && Number(have) === this.mine.seq;
      if (incremental) {
        m.hset(keys.snapshot, ...chunkFields(this.opts.store, changed, seq));
      } else {
        m.del(keys.snapshotTmp);
        this.addFullWrite(m, seq, epoch);
        m.rename(keys.snapshotTmp, keys.snapshot);
      }
      try {
        const res = await m.exec();
        if (res === null || res.some(([err]) => err)) throw new Error('snapshot transaction failed');
        this.mine = { seq, epoch };
      } catch (err) {
        for (const k of changed) st.changedSinceSnapshot.add(k);
        this.mine = null;
        throw err;
      }
    } catch (err) {
      st.noteError(err as Error);
    }
  }

  /** Write now, whoever held the lock (tests, and the bench before trimming hard). */
  async writeNow(): Promise<void> {
    await this.cmd.del(this.opts.keys.snapshotLock).catch(() => 0);
    await this.maybeWrite();
  }
}
