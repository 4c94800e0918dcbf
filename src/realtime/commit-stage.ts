/**
 * The tick's first stage: everything the seam accepted since the last tick, as one `PlacementBatch`,
 * committed durably first (`storage.commit`, with the batch's log position when it came from a shared log),
 * then applied to the store (its records, then its pinned chunk versions, before the fan-out drains the
 * store), then answered: one PLACE_RESULT per ack, queued for the client's write. A batch whose commit
 * fails is refused (INTERNAL) and handed back to the seam (`redeliver`), which may deliver it again.
 */
import { OVERLOAD_DEFAULTS } from '../defaults.js';
import type { Logger } from 'pino';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { keyCx, keyCy } from '../chunks/geometry.js';
import type { ServerMetrics } from '../metrics.js';
import { ErrorCode, encodePlaceResult } from '../net/protocol.js';
import type { CanvasStorage } from '../storage/canvas-storage.js';
import type { Outbox } from './outbox.js';
import type { PlacementBatch, PlacementSeam } from './placement-seam.js';
import type { SessionRegistry } from './session-registry.js';
import type { SessionSeqs } from './session-seqs.js';

export interface CommitStageDeps {
  seam: PlacementSeam;
  storage: CanvasStorage;
  store: ChunkStore;
  sessions: SessionRegistry;
  sessionSeqs: SessionSeqs;
  outbox: Outbox;
  metrics: Pick<ServerMetrics, 'pixelsAccepted' | 'pixelsRejected'>;
  log: Logger;
}

export class CommitStage {
  constructor(private readonly deps: CommitStageDeps) {}

  /** Returns how many placements were applied, or -1 when the seam had nothing (not even a refusal to answer). */
  run(): number {
    const batch = this.deps.seam.take();
    // (Acks without records: refusals decided by the seam, e.g. the Redis one's shared bucket.)
    if (batch.records.length === 0 && batch.acks.length === 0) return -1;
    const status = this.commitAndApply(batch);
    this.answer(batch, status);
    return batch.records.length;
  }

  private commitAndApply(batch: PlacementBatch): number {
    const { store, storage, metrics, seam } = this.deps;
    let committed = false;
    try {
      storage.commit(batch.records, batch.position ?? undefined);
      committed = true;
      for (const r of batch.records) store.set(r.x, r.y, r.color);
      // Versions the shared log gives these chunks (pins of chunks that did not change are dropped by the drain;
      // 0: a chunk the seam's resync already aligned, which keeps the version it was given).
      if (batch.position) {
        for (const [key, version] of batch.position.pins) if (version !== 0) store.pinVersion(keyCx(key), keyCy(key), version);
      }
      metrics.pixelsAccepted.inc(batch.records.length);
      return ErrorCode.OK;
    } catch (err) {
      metrics.pixelsRejected.inc({ reason: 'INTERNAL' }, batch.records.length);
      this.deps.log.error({ err }, 'commit failed; batch refused');
      if (!committed) seam.redeliver?.(batch);
      return ErrorCode.INTERNAL;
    }
  }

  private answer(batch: PlacementBatch, status: number): void {
    const { sessions, sessionSeqs, outbox } = this.deps;
    for (const ack of batch.acks) {
      // Remembered before the answer is written: an answer lost with the connection is still known.
      const answer = ack.status ?? status;
      if (answer === ErrorCode.OK && ack.token) sessionSeqs.committed(ack.token, ack.seq);
      const s = sessions.get(ack.clientId);
      if (!s) continue;
      s.enqueue(encodePlaceResult(ack.seq, answer, ack.count, ack.retryAfterMs ?? 0));
      outbox.mark(s);
      // The overload policy's first priority: the answer and the deltas that show it go out in this tick,
      // and a client painting stays fast for a while (./overload.ts).
      s.dueTick = outbox.tick;
      s.fastUntil = performance.now() + OVERLOAD_DEFAULTS.fastMs;
    }
  }
}
