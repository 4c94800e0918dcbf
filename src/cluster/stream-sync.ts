/**
 * Sync (start, every reconnect, and whenever the place script reports another epoch): the node compares
 * its epoch and seq with Redis. Same epoch: read on from its seq (a gap = trimmed → the snapshot).
 * Another epoch: take the snapshot Redis holds (the canvas as of some seq) as a diff against the local
 * store, then the stream after it. No canvas in Redis (never made, or Redis lost it): make it, from this
 * node's state, under a new epoch (one node wins a lock; the others then resync from its snapshot).
 * A music canvas's shared values (tempo map, published palette) come with it: read from Redis unless this
 * node re-seeds (then written from it).
 * Runs on the command connection; the stream reader is idle meanwhile.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ChunkStore } from '../chunks/chunk-store.js';
import type { CanvasKeys } from './redis-keys.js';
import type { SeamState } from './seam-state.js';
import type { SnapshotWriter } from './snapshot-writer.js';
import type { SharedValue } from './shared-value.js';
import type { CanvasSnapshot } from './canvas-snapshot.js';
import { ClusterConfigError, sleep } from './redis-link.js';
import { entrySeq } from './stream-codec.js';

export interface StreamSyncOptions {
  canvas: string;
  keys: CanvasKeys;
  store: ChunkStore;
}

function newEpoch(not: number | null): number {
  let e: number;
  do e = randomBytes(4).readUInt32LE(0); while (e === not);
  return e;
}

export class StreamSync {
  constructor(
    private readonly state: SeamState,
    private readonly cmd: Redis,
    private readonly snapshots: SnapshotWriter,
    private readonly values: readonly SharedValue[],
    private readonly opts: StreamSyncOptions,
  ) {}

  private get shape(): string {
    const { store } = this.opts;
    return `${store.width}x${store.height}x${store.paletteSize}x${store.background}`;
  }

  /** See the file comment. Throws ClusterConfigError when this node can never join as configured. */
  async sync(): Promise<void> {
    const st = this.state;
    const { keys } = this.opts;
    const shape = this.shape;
    const theirs = await this.cmd.get(keys.shape);
    if (theirs !== null && theirs !== shape) {
      throw new ClusterConfigError(`canvas "${this.opts.canvas}" in Redis is ${theirs} (width x height x colours x background), this node is ${shape}: start it with the same --width, --height and palette, or another --canvas`);
    }
    const [epochText, seqText] = await Promise.all([this.cmd.get(keys.epoch), this.cmd.get(keys.seq)]);
    const redisSeq = seqText === null ? 0 : Number(seqText);
    // What this node knows (applied, or queued to apply).
    const mine = Math.max(st.readSeq, st.appliedSeq);
    if (epochText === null || (Number(epochText) === st.epoch && redisSeq < mine)) {
      // No canvas in Redis, or Redis went back in time (restored from an older dump): make it from ours.
      await this.seed(epochText === null ? null : Number(epochText));
      return;
    }
    // Before the stream is read on: entries older than the value in force are then skipped.
    for (const v of this.values) await v.load();
    const epoch = Number(epochText);
    if (epoch === st.epoch) {
      // Same generation: read on from readSeq, unless the stream no longer holds the next entry.
      const first = await this.cmd.xrange(keys.stream, '-', '+', 'COUNT', 1);
      const firstSeq = first.length > 0 ? entrySeq(first[0]![0]) : redisSeq + 1;
      if (!(firstSeq > st.readSeq + 1)) return;
      const snap = await this.snapshots.read(epoch);
      if (snap.seq + 1 < firstSeq || snap.seq <= st.readSeq) {
        throw new Error(`the stream starts at seq ${firstSeq}, past this node (${st.readSeq}), and the snapshot (seq ${snap.seq}) does not bridge the gap; waiting for a newer snapshot`);
      }
      this.switchTo(snap);
      return;
    }
    // Another generation: start from Redis's snapshot (or from empty at seq 0 when there is none yet).
    this.switchTo(await this.snapshots.read(epoch));
  }

  /** The next take turns the store into the snapshot, then applies the stream after it. */
  private switchTo(snap: CanvasSnapshot): void {
    const st = this.state;
    st.log.info({ from: { epoch: st.epoch, seq: st.appliedSeq }, to: { epoch: snap.epoch, seq: snap.seq } }, 'resyncing from the Redis snapshot');
    const sameEpoch = snap.epoch === st.epoch;
    st.resyncNewGeneration = !sameEpoch;
    st.epoch = snap.epoch;
    st.queue = [];
    st.queueHead = 0;
    st.queuedRecords = 0;
    st.resync = snap;
    st.readSeq = snap.seq;
    // Placements waiting for entries of the old generation: their fate is unknown. (In the same
    // generation they are in the snapshot or the stream after it, and are answered when applied.)
    if (!sameEpoch) st.refuseWaiting();
    st.wake();
  }

  private async seed(oldEpoch: number | null): Promise<void> {
    const st = this.state;
    const { keys } = this.opts;
    const token = randomBytes(8).toString('hex');
    const got = await this.cmd.set(keys.seedLock, token, 'PX', 10_000, 'NX');
    if (got === null) throw new Error('another node is re-seeding the canvas in Redis; retrying');
    // Wait until every take so far is applied, so the snapshot is the state at appliedSeq.
    while ((st.queueHead < st.queue.length || st.resync) && !st.closed) await sleep(10);
    if (st.closed) return;
    const epoch = newEpoch(oldEpoch ?? st.epoch);
    const seq = st.appliedSeq;
    const m = this.cmd.multi();
    m.del(keys.stream, keys.snapshotTmp);
    this.snapshots.addFullWrite(m, seq, epoch);
    m.rename(keys.snapshotTmp, keys.snapshot);
    m.set(keys.seq, String(seq));
    m.set(keys.shape, this.shape);
    m.set(keys.epoch, String(epoch));
    for (const v of this.values) v.addSeed(m, seq);
    await m.exec();
    this.snapshots.wrote(seq, epoch);
    for (const v of this.values) v.seeded(seq);
    await this.cmd.del(keys.seedLock);
    if (oldEpoch !== null || seq > 0) st.log.warn({ epoch, seq }, 'Redis had no canvas state: seeded it from this node');
    // Our state is the snapshot: a new generation without any change to the pixels or versions.
    st.refuseWaiting();
    st.epoch = epoch;
    st.readSeq = seq;
    st.appliedSeq = seq;
  }
}
