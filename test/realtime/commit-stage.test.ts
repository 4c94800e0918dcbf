/** The tick's commit stage: commit first, then apply (records, then pins), then answer; a failed commit is redelivered. */
import { describe, expect, it } from 'vitest';
import { ChunkStore } from '../../src/chunks/chunk-store.js';
import { chunkKey } from '../../src/chunks/geometry.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { DEFAULTS } from '../../src/config.js';
import { ErrorCode, decodeServerMessages } from '../../src/net/protocol.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import type { LogPosition, PlacementRecord } from '../../src/storage/canvas-storage.js';
import { CommitStage } from '../../src/realtime/commit-stage.js';
import { welcomeSession } from '../../src/realtime/client-session.js';
import { Outbox } from '../../src/realtime/outbox.js';
import type { PlaceAck, PlacementBatch, PlacementSeam } from '../../src/realtime/placement-seam.js';
import { SessionRegistry } from '../../src/realtime/session-registry.js';
import { SessionSeqs } from '../../src/realtime/session-seqs.js';
import { TestTransport } from './doubles.js';

/** A seam that hands out the batches it is given, one per take, and records what is redelivered. */
class ScriptedSeam implements PlacementSeam {
  readonly batches: PlacementBatch[] = [];
  readonly redelivered: PlacementBatch[] = [];
  submit(): void {
    throw new Error('not used');
  }
  take(): PlacementBatch {
    return this.batches.shift() ?? { records: [], acks: [], position: null };
  }
  get pending(): number {
    return this.batches.length;
  }
  redeliver(batch: PlacementBatch): void {
    this.redelivered.push(batch);
  }
}

class RecordingStorage extends MemoryStorage {
  readonly commits: { records: readonly PlacementRecord[]; position: LogPosition | undefined }[] = [];
  fail = false;
  override commit(records: readonly PlacementRecord[], position?: LogPosition): void {
    if (this.fail) throw new Error('SQLITE_FULL');
    this.commits.push({ records, position });
    super.commit(records);
  }
}

function setup() {
  const store = new ChunkStore({ width: 256, height: 256, paletteSize: DEFAULT_PALETTE.length });
  const storage = new RecordingStorage();
  const seam = new ScriptedSeam();
  const sessions = new SessionRegistry({ ...DEFAULTS, helloTimeoutMs: 60_000 }, { set() {} }, () => {});
  const sessionSeqs = new SessionSeqs();
  const outbox = new Outbox();
  const stage = new CommitStage({ seam, storage, store, sessions, sessionSeqs, outbox, metrics: createMetrics(), log: createLogger('silent') });
  const t = new TestTransport();
  const client = welcomeSession(sessions.open(t, '192.0.2.1'), 'c', 'ab');
  return { store, storage, seam, stage, sessionSeqs, outbox, client };
}

const rec = (x: number, y: number, color: number, clientId: number): PlacementRecord => ({ x, y, color, time: 1, clientId, name: 'c', ip: '192.0.2.1' });

describe('CommitStage', () => {
  it('says -1 when the seam had nothing at all', () => {
    expect(setup().stage.run()).toBe(-1);
  });

  it('commits with the log position, applies records then pins, and answers each ack', () => {
    const { store, storage, seam, stage, sessionSeqs, outbox, client } = setup();
    const position: LogPosition = { seq: 41, epoch: 7, pins: new Map([[chunkKey(0, 0), 900], [chunkKey(3, 3), 5]]) };
    const ack: PlaceAck = { clientId: client.id, seq: 9, count: 2, token: 'ab' };
    seam.batches.push({ records: [rec(1, 1, 3, client.id), rec(2, 2, 4, client.id)], acks: [ack], position });
    expect(stage.run()).toBe(2);
    expect(storage.commits).toHaveLength(1);
    expect(storage.commits[0]!.position).toBe(position);
    expect([store.get(1, 1), store.get(2, 2)]).toEqual([3, 4]);
    // The pinned version is what the drain gives the changed chunk; the pin of an unchanged chunk is dropped.
    const drained = store.drain();
    expect(drained.map((d) => [d.cx, d.cy, d.version])).toEqual([[0, 0, 900]]);
    expect(outbox.takeMarked()).toEqual([client]);
    const answers = decodeServerMessages(client.takeOut()!);
    expect(answers).toEqual([{ type: 'placeResult', seq: 9, status: ErrorCode.OK, count: 2, retryAfterMs: 0 }]);
    expect(sessionSeqs.hello('ab')).toEqual({ known: true, lastSeq: 9 });
  });

  it('commits a batch without a position as one (no position passed on)', () => {
    const { storage, seam, stage, client } = setup();
    seam.batches.push({ records: [rec(1, 1, 3, client.id)], acks: [{ clientId: client.id, seq: 1, count: 1 }], position: null });
    stage.run();
    expect(storage.commits[0]!.position).toBeUndefined();
  });

  it('a failed commit applies nothing, answers INTERNAL, remembers no seq, and hands the batch back to the seam', () => {
    const { store, storage, seam, stage, sessionSeqs, client } = setup();
    storage.fail = true;
    const batch: PlacementBatch = {
      records: [rec(5, 5, 3, client.id)],
      acks: [{ clientId: client.id, seq: 3, count: 1, token: 'ab' }],
      position: { seq: 2, epoch: 1, pins: new Map([[chunkKey(0, 0), 50]]) },
    };
    seam.batches.push(batch);
    expect(stage.run()).toBe(1);
    expect(store.get(5, 5)).toBe(0);
    expect(store.drain()).toEqual([]);
    expect(seam.redelivered).toEqual([batch]);
    expect(decodeServerMessages(client.takeOut()!)).toEqual([{ type: 'placeResult', seq: 3, status: ErrorCode.INTERNAL, count: 1, retryAfterMs: 0 }]);
    expect(sessionSeqs.hello('ab')).toEqual({ known: false, lastSeq: 0 });
  });

  it('answers with the status a seam decided, and skips acks of clients that are gone', () => {
    const { seam, stage, client } = setup();
    seam.batches.push({
      records: [],
      acks: [{ clientId: client.id, seq: 4, count: 2, status: ErrorCode.RATE_LIMITED, retryAfterMs: 250 }, { clientId: 999, seq: 1, count: 1 }],
      position: null,
    });
    expect(stage.run()).toBe(0);
    expect(decodeServerMessages(client.takeOut()!)).toEqual([{ type: 'placeResult', seq: 4, status: ErrorCode.RATE_LIMITED, count: 2, retryAfterMs: 250 }]);
  });
});
