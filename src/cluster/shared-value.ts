/**
 * A value of a canvas shared by its nodes (--redis) through the placement stream, as the pixels are: a change
 * is one entry of the stream (a field of its own, numbered by the same seq), so every node applies the
 * changes in log order; and a key holds the value the latest one set (hash: seq = that entry, map = the
 * text), so a node that starts later, reconnects, or resyncs past a trimmed stream learns the value in force
 * at its sync. Two values are shared so today, both of a music canvas: its tempo map (field `t`, key `tempo`)
 * and the palette an operator published with its switch bar (field `a`, key `patterns`).
 *
 * A change is decided in Redis, not on the node. The node computes the new value from what it holds and the
 * SHARED script (redis-scripts.ts) appends it only if the shared value is still that one (compare-and-set on
 * the seq of the entry that set it); else the script answers with the current value, which the node takes
 * and computes again from. So two changes posted to two nodes at once both land, one after the other, the
 * later computed on top of the earlier, and after each every node holds the same value: log order decides.
 *
 * The value is text here: the music side writes it (`change`) and reads it (`onValue`); this module only
 * orders it, and src/cluster never parses it. A pixel canvas never writes these entries, and its nodes
 * ignore the keys; a node of a release that does not know a field skips its entries (no `p`: no pixels).
 */
import type { Redis } from 'ioredis';
import type { SeamState } from './seam-state.js';
import { REDIS_DEFAULTS } from '../defaults.js';

export interface SharedValueOptions {
  /** The stream entry field that carries a change ('t', 'a'). */
  field: string;
  /** The key holding the latest value (CanvasKeys.tempo, CanvasKeys.patterns). */
  key: string;
  stream: string;
  seq: string;
  epoch: string;
  /** Stream entries kept (XADD MAXLEN ~), as for placements. */
  streamMaxLen: number;
  /** Called with each value this node takes from the log, in log order (not for one equal to the value held). */
  onValue: (text: string) => void;
}

/** A change could not be confirmed: Redis unreachable or timed out, this node resyncing, or too many races. */
export class SharedValueUnavailableError extends Error {
  override name = 'SharedValueUnavailableError';
}

type SharedScript = { pcShared(n: number, ...a: unknown[]): Promise<Array<number | string>> };

export class SharedValue {
  /** Seq of the stream entry that set the value this node holds; 0 while it holds its own (no change shared yet). */
  private seq = 0;
  private value: string | null = null;

  /** `cmd` has the SHARED script defined as `pcShared` (redis-scripts.ts). */
  constructor(private readonly state: SeamState, private readonly cmd: Redis, private readonly opts: SharedValueOptions) {}

  get field(): string {
    return this.opts.field;
  }

  /**
   * Appends the value `next()` returns — computed from the value this node holds — as the canvas's next
   * change; when another node's change landed first, takes that one and calls `next` again. Resolves with
   * the value written, which this node then holds (taken through onValue). Rejects with
   * SharedValueUnavailableError when the change cannot be confirmed (a timed-out call may still have landed).
   */
  async change(next: () => string): Promise<string> {
    const st = this.state;
    const o = this.opts;
    for (let attempt = 0; attempt < REDIS_DEFAULTS.sharedChangeAttempts; attempt++) {
      if (st.state !== 'ok' || st.closed) throw new SharedValueUnavailableError(`Redis is ${st.closed ? 'closed' : st.state}`);
      const value = next();
      const epoch = st.epoch;
      let res: Array<number | string>;
      try {
        res = await (this.cmd as unknown as SharedScript).pcShared(4, o.stream, o.seq, o.epoch, o.key,
          String(epoch), o.streamMaxLen, String(this.seq), value, o.field);
      } catch (err) {
        st.noteError(err as Error);
        throw new SharedValueUnavailableError(`the change was not confirmed: ${(err as Error).message}`);
      }
      const code = Number(res[0]);
      if (code === -1) {
        // Redis holds another generation of the canvas (or none): resync first.
        st.needSync = true;
        st.kickReaders();
        throw new SharedValueUnavailableError('this node is resyncing with Redis');
      }
      if (code === -2) {
        // Another change landed since the value this one was computed from: take it, compute again. (Unless
        // the reader has already brought one newer still; and a key deleted by hand is written afresh.)
        const current = Number(res[1]);
        if (current === 0) this.seq = 0;
        else if (current > this.seq) this.take(current, String(res[2]));
        continue;
      }
      this.take(code, value);
      return value;
    }
    throw new SharedValueUnavailableError('other changes kept landing first');
  }

  /** An entry with this value's field read from the stream (the reader calls this in stream order): newer than the value held, taken. */
  fromStream(seq: number, text: string): void {
    if (seq > this.seq) this.take(seq, text);
  }

  /**
   * Sync (not a re-seed): the shared value is the one in force, whatever this node held. Entries read after
   * this that are older than it are skipped by fromStream. No key (no change made on this canvas yet): the
   * node keeps its own.
   */
  async load(): Promise<void> {
    const [seq, text] = await this.cmd.hmget(this.opts.key, 'seq', 'map');
    if (seq !== null && text !== null) this.take(Number(seq), text);
  }

  /** A re-seed (Redis lost the canvas) writes this node's value back as the shared one, at the seed's seq. */
  addSeed(m: ReturnType<Redis['multi']>, seq: number): void {
    m.del(this.opts.key);
    if (this.value !== null) m.hset(this.opts.key, 'seq', String(seq), 'map', this.value);
  }

  /** The seed's MULTI ran. */
  seeded(seq: number): void {
    this.seq = this.value === null ? 0 : seq;
  }

  private take(seq: number, text: string | null): void {
    this.seq = seq;
    if (text === null || text === this.value) return;
    this.value = text;
    try {
      this.opts.onValue(text);
    } catch (err) {
      // The music side's problem, not Redis's: the reader must read on.
      this.state.log.error({ err, seq, field: this.opts.field }, 'value from the shared log not applied');
    }
  }
}
