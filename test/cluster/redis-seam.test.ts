/**
 * The Redis seam's side of the batch contract, over the machine's real Redis: take() hands out the stream's
 * placements with their position (seq, epoch, the version each changed chunk gets) and writes nothing into
 * the store; redeliver(batch) after a failed local commit gives the same records and position again.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { ChunkStore } from '../../src/chunks/chunk-store.js';
import { pixelChunkKey } from '../../src/chunks/geometry.js';
import { RedisPlacementSeam } from '../../src/cluster/redis-seam.js';
import { REDIS_DEFAULTS } from '../../src/defaults.js';
import { canvasKeys } from '../../src/cluster/redis-keys.js';
import { versionOfSeq } from '../../src/cluster/stream-codec.js';
import type { PlaceAck, PlacementBatch } from '../../src/realtime/placement-seam.js';
import { ErrorCode } from '../../src/net/protocol.js';
import { REDIS_URL } from '../helpers/redis.js';
import { sleep, until } from '../helpers/server.js';
import { clusterResources } from './cluster-resources.js';

const t = clusterResources();

function seamFor(canvas: string, store: ChunkStore, generation = { epoch: 0 }): RedisPlacementSeam {
  return new RedisPlacementSeam({
    url: REDIS_URL, canvas, keys: canvasKeys(canvas), store, log: pino({ level: 'silent' }),
    paintRate: 1e6, paintBurst: 1e6, startSeq: 0, startEpoch: null, generation, streamMaxLen: 10_000,
    snapshotIntervalMs: 3_600_000, commandTimeoutMs: 2000, maxRecordsPerTake: 10_000,
  });
}

/** Takes until a batch with records comes (the reader wakes nothing here: the test polls). */
async function takeRecords(seam: RedisPlacementSeam, timeoutMs = 5000): Promise<PlacementBatch> {
  let got: PlacementBatch | null = null;
  await until(() => {
    const b = seam.take();
    if (b.records.length > 0) got = b;
    return got !== null;
  }, timeoutMs, 'a batch with records');
  return got!;
}

describe('RedisPlacementSeam batches', () => {
  it('take() gives records, acks and position, and leaves the store alone; redeliver() gives them again', async () => {
    const canvas = t.canvas('seam');
    const store = new ChunkStore({ width: 256, height: 256, paletteSize: 32, background: 0 });
    const generation = { epoch: 0 };
    const seam = seamFor(canvas, store, generation);
    try {
      await seam.start(3000);
      expect(seam.state).toBe('ok');
      expect(generation.epoch).toBe(seam.epoch); // the seam keeps the shared generation
      expect(generation.epoch).not.toBe(0);
      const ack: PlaceAck = { clientId: 1, seq: 7, count: 2 };
      const records = [
        { x: 3, y: 4, color: 5, time: 1, clientId: 1, name: 'a', ip: '10.0.0.1' },
        { x: 130, y: 4, color: 6, time: 1, clientId: 1, name: 'a', ip: '10.0.0.1' },
      ];
      seam.submit(records, ack);
      const batch = await takeRecords(seam);
      expect(batch.records.map((r) => [r.x, r.y, r.color])).toEqual([[3, 4, 5], [130, 4, 6]]);
      expect(batch.position).not.toBeNull();
      const { seq, epoch, pins } = batch.position!;
      expect(seq).toBe(1);
      expect(epoch).toBe(seam.epoch);
      expect([...pins]).toEqual([[pixelChunkKey(3, 4), versionOfSeq(1)], [pixelChunkKey(130, 4), versionOfSeq(1)]]);
      // Nothing was written into the store: no pixel, no pending change (the commit stage applies the batch).
      expect(store.get(3, 4)).toBe(0);
      expect(store.dirtyChunkCount).toBe(0);
      expect(store.drain()).toEqual([]);

      // The local commit failed (redelivery is asked for in the tick that took the batch): the same records
      // and position come again, after a pause. The submitter's ack comes once, with the entry that holds it
      // or (when the script's reply came after the entry) in a later take.
      const failedAt = performance.now();
      seam.redeliver(batch);
      expect(seam.appliedSeq).toBe(0);
      const acks = [...batch.acks];
      let again: PlacementBatch | null = null;
      await until(() => {
        const b = seam.take();
        acks.push(...b.acks);
        if (b.records.length > 0) again = b;
        return again !== null;
      }, 5000, 'the batch again');
      expect(performance.now() - failedAt).toBeGreaterThanOrEqual(REDIS_DEFAULTS.redeliverAfterMs - 50);
      expect(again!.records).toEqual(batch.records);
      expect(again!.position).toEqual(batch.position);
      expect(seam.appliedSeq).toBe(1);
      expect(acks).toEqual([ack]);
      expect(ack.status).toBe(ErrorCode.OK);
      // A batch that is not the last one delivered is not taken back.
      seam.redeliver(batch);
      await sleep(50);
      expect(seam.appliedSeq).toBe(1);
    } finally {
      await seam.close();
    }
  }, 20_000);
});
