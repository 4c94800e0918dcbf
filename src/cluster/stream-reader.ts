/**
 * The reading side of the Redis seam: a dedicated connection blocks in XREAD from the last seq read and
 * queues the entries (SeamState.queue) for the tick, waking it; it runs sync first whenever one is due, and
 * waits while the tick has a full queue or a resync still to take. An entry of a shared value (a tempo map,
 * field `t`; a published palette, field `a`) goes to its SharedValue as it is read, in stream order; it
 * queues as an entry without records, so seqs stay contiguous. A field this node does not know is skipped.
 */
import type { Redis } from 'ioredis';
import type { PlacementRecord } from '../storage/canvas-storage.js';
import type { CanvasKeys } from './redis-keys.js';
import type { SeamState } from './seam-state.js';
import type { StreamSync } from './stream-sync.js';
import type { SharedValue } from './shared-value.js';
import { ClusterConfigError, sleep } from './redis-link.js';
import { REDIS_DEFAULTS } from '../defaults.js';
import { StreamCodecError, decodeEntry, decodeIdentities, entryId, entrySeq } from './stream-codec.js';

export class StreamReader {
  constructor(
    private readonly state: SeamState,
    /** The blocking connection (its own: nothing else can run on it while it waits). */
    private readonly reader: Redis,
    /** The command connection: reading waits while it is down too (sync and writes need it). */
    private readonly cmd: Redis,
    private readonly syncer: StreamSync,
    private readonly values: readonly SharedValue[],
    private readonly keys: CanvasKeys,
  ) {}

  /** Until the seam closes. */
  async run(): Promise<void> {
    const st = this.state;
    let backoff = 50;
    while (!st.closed) {
      try {
        if (this.reader.status !== 'ready' || this.cmd.status !== 'ready') {
          if (st.state === 'ok') st.setState('down');
          await st.waitForKick(500);
          continue;
        }
        if (st.needSync) {
          st.setState('syncing');
          await this.syncer.sync();
          st.needSync = false;
          st.setState('ok');
        }
        if (st.queuedRecords >= REDIS_DEFAULTS.maxQueuedRecords || st.resync !== null) {
          await st.waitForKick(50);
          continue;
        }
        // A wake lost before the tick loop started (catch-up read during start-up) is repeated here.
        if (st.hasWork) st.wake();
        const from = st.readSeq;
        const epoch = st.epoch;
        const res = await this.reader.xreadBuffer('COUNT', REDIS_DEFAULTS.readCount, 'BLOCK', REDIS_DEFAULTS.blockMs,
          'STREAMS', this.keys.stream, entryId(from));
        if (st.closed || st.needSync || epoch !== st.epoch || from !== st.readSeq) continue;
        if (res && res.length > 0) this.accept(res[0]![1] as Array<[Buffer, Buffer[]]>);
        backoff = 50;
      } catch (err) {
        if (st.closed) break;
        if (err instanceof ClusterConfigError) st.fatal = err;
        st.noteError(err as Error);
        st.needSync = true;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 1000);
      }
    }
  }

  private accept(entries: Array<[Buffer, Buffer[]]>): void {
    const st = this.state;
    for (const [idBuf, fields] of entries) {
      const seq = entrySeq(idBuf.toString());
      if (Number.isNaN(seq) || seq <= st.readSeq) continue;
      if (seq !== st.readSeq + 1) {
        // Trimmed past us: the entries between are gone; only a snapshot can bridge the gap.
        st.log.warn({ readSeq: st.readSeq, next: seq }, 'fell behind the trimmed stream; resyncing from the snapshot');
        st.needSync = true;
        return;
      }
      const records: PlacementRecord[] = [];
      let groups: Buffer | null = null;
      let identities: Buffer | null = null;
      for (let i = 0; i + 1 < fields.length; i += 2) {
        const name = fields[i]!.toString();
        if (name === 'p') groups = fields[i + 1]!;
        else if (name === 'i') identities = fields[i + 1]!;
        else this.values.find((v) => v.field === name)?.fromStream(seq, fields[i + 1]!.toString('utf8'));
      }
      if (groups !== null) {
        try {
          // No `i`: an entry from before identities were carried.
          decodeEntry(groups, records, identities === null ? undefined : decodeIdentities(identities.toString('latin1')));
        } catch (err) {
          // Every node skips the same damaged entry, so they still agree.
          if (!(err instanceof StreamCodecError)) throw err;
          st.log.error({ err, seq }, 'damaged stream entry skipped');
          records.length = 0;
        }
      }
      st.queue.push({ seq, records });
      st.queuedRecords += records.length;
      st.readSeq = seq;
    }
    st.wake();
  }
}
