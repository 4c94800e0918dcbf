/**
 * The writing side of the Redis seam: submit → buffered for this event-loop turn → one PLACE script call per
 * flush (shared paint buckets, INCR seq, XADD `<seq>-1` MAXLEN ~), pipelined on the command connection. An
 * accepted group's ack waits (SeamState.waiting) until its own entry comes back through the stream and is
 * applied here, so OK means: in the stream and visible.
 */
import type { Redis } from 'ioredis';
import { ErrorCode } from '../net/protocol.js';
import type { PlacementRecord } from '../storage/canvas-storage.js';
import type { PlaceAck } from '../realtime/placement-seam.js';
import type { CanvasKeys } from './redis-keys.js';
import type { SeamState } from './seam-state.js';
import { encodeGroup, groupIdentity } from './stream-codec.js';

export interface StreamWriterOptions {
  keys: CanvasKeys;
  paintRate: number;
  paintBurst: number;
  /** Stream entries kept (XADD MAXLEN ~). */
  streamMaxLen: number;
}

interface Pending {
  groups: Buffer[];
  counts: number[];
  ips: string[];
  identities: string[];
  acks: PlaceAck[];
}

type PlaceScript = { pcPlace(n: number, ...a: unknown[]): Promise<number[]> };

export class StreamWriter {
  private out: Pending = { groups: [], counts: [], ips: [], identities: [], acks: [] };
  private flushScheduled = false;

  /** `cmd` has the PLACE script defined as `pcPlace` (redis-scripts.ts). */
  constructor(private readonly state: SeamState, private readonly cmd: Redis, private readonly opts: StreamWriterOptions) {}

  submit(records: readonly PlacementRecord[], ack: PlaceAck): void {
    const st = this.state;
    if (st.state !== 'ok' || st.closed) {
      st.unavailable(ack);
      return;
    }
    const p = this.out;
    p.groups.push(encodeGroup(records));
    p.counts.push(records.length);
    p.ips.push(records[0]!.ip);
    p.identities.push(groupIdentity(records));
    p.acks.push(ack);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // One script call per event-loop turn: everything submitted by this turn's messages goes in one entry.
      setImmediate(() => this.flush());
    }
  }

  /** Send what is buffered now (also at close, so nothing submitted is left unanswered). */
  flush(): void {
    this.flushScheduled = false;
    const p = this.out;
    if (p.acks.length === 0) return;
    this.out = { groups: [], counts: [], ips: [], identities: [], acks: [] };
    const { keys } = this.opts;
    // One bucket key per distinct address, and the groups as one payload with a "count:bytes:bucket:identity,"
    // index (the identity is hex, so it needs no escaping; the script writes the accepted ones as field `i`).
    const bucketOf = new Map<string, number>();
    const scriptKeys = [keys.stream, keys.seq, keys.epoch];
    let meta = '';
    let bytes = 0;
    for (let i = 0; i < p.groups.length; i++) {
      const ip = p.ips[i]!;
      let k = bucketOf.get(ip);
      if (k === undefined) {
        scriptKeys.push(keys.bucket(ip));
        k = scriptKeys.length - 3;
        bucketOf.set(ip, k);
      }
      meta += `${p.counts[i]!}:${p.groups[i]!.length}:${k}:${p.identities[i]!},`;
      bytes += p.groups[i]!.length;
    }
    const epoch = this.state.epoch;
    const args: Array<string | number | Buffer> = [
      String(epoch), this.opts.streamMaxLen, this.opts.paintRate, this.opts.paintBurst, meta, Buffer.concat(p.groups, bytes),
    ];
    (this.cmd as unknown as PlaceScript)
      .pcPlace(scriptKeys.length, ...scriptKeys, ...args)
      .then((res) => this.placed(p, res, epoch), (err: Error) => {
        this.state.noteError(err);
        // Unreachable, timed out, or failed: the outcome may be unknown, the answer is "not placed, retry".
        for (const ack of p.acks) this.state.unavailable(ack);
      });
  }

  private placed(p: Pending, res: number[], epoch: number): void {
    const st = this.state;
    const seq = Number(res[0]);
    if (seq === -1) {
      // Redis holds another generation of the canvas (or none): nothing was written. Resync first.
      st.needSync = true;
      st.kickReaders();
      for (const ack of p.acks) st.unavailable(ack);
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
      else if (r === -1) st.refuse(ack, ErrorCode.BATCH_TOO_LARGE, 0);
      else st.refuse(ack, ErrorCode.RATE_LIMITED, r);
    }
    if (accepted.length === 0) return;
    if (epoch !== st.epoch) {
      // A resync happened meanwhile; the entry is in the old generation's stream, its fate is unknown.
      for (const ack of accepted) st.unavailable(ack);
      return;
    }
    if (seq <= st.appliedSeq) {
      // Already applied here (the reader was faster than this reply): answer now.
      for (const ack of accepted) st.readyAcks.push(ack);
      st.wake();
      return;
    }
    const list = st.waiting.get(seq);
    if (list) list.push(...accepted);
    else st.waiting.set(seq, accepted);
  }
}
