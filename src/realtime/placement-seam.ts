/**
 * The one ordered seam every accepted placement flows through: validated and rate-limited placements are
 * submitted here, and each tick takes everything submitted since the previous one, in order, to commit,
 * apply and broadcast. A single process uses the in-memory queue below; several nodes sharing one canvas
 * can put a Redis Stream here (submit = XADD, take = XREAD from the last id) without touching the tick.
 */
import type { LogPosition, PlacementRecord } from '../storage/canvas-storage.js';

/** Who to answer once a submitted batch is committed. Only the node that accepted it holds an ack. */
export interface PlaceAck {
  clientId: number;
  seq: number;
  count: number;
  /** The session token (hex) of the HELLO, if any: its last committed seq is remembered even if the client left. */
  token?: string | null;
  /**
   * Set by seams that decide the outcome themselves (the Redis seam: in the shared log, refused by the
   * shared bucket, log unreachable); the tick then answers with it instead of its local commit's status.
   */
  status?: number;
  retryAfterMs?: number;
}

/** One take of the seam: the value the tick's stages pass along (commit, apply, answer). */
export interface PlacementBatch {
  records: PlacementRecord[];
  acks: PlaceAck[];
  /** Set by seams fed from a shared log: its seq, epoch and chunk versions, committed with the records. */
  position: LogPosition | null;
}

export interface PlacementSeam {
  submit(records: readonly PlacementRecord[], ack: PlaceAck): void;
  /** Everything submitted since the last take, in submission order; empties the seam. */
  take(): PlacementBatch;
  readonly pending: number;
  /**
   * For seams fed from outside this process (a Redis Stream read by every node): the room passes a
   * function to call when placements become available, so a sleeping tick loop wakes for them.
   */
  setWakeup?(wake: () => void): void;
  /** The local commit of this batch failed: deliver its records again later (its acks were answered). */
  redeliver?(batch: PlacementBatch): void;
}

/** Single-process seam: two arrays swapped on every take, so the hot path allocates nothing per placement. */
export class LocalPlacementSeam implements PlacementSeam {
  private records: PlacementRecord[] = [];
  private acks: PlaceAck[] = [];

  submit(records: readonly PlacementRecord[], ack: PlaceAck): void {
    for (const r of records) this.records.push(r);
    this.acks.push(ack);
  }

  take(): PlacementBatch {
    const batch: PlacementBatch = { records: this.records, acks: this.acks, position: null };
    this.records = [];
    this.acks = [];
    return batch;
  }

  get pending(): number {
    return this.records.length;
  }
}
