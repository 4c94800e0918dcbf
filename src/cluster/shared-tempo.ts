/**
 * The tempo map of a music canvas shared by its nodes (--redis), as the pixels are: a change is one entry of
 * the placement stream (field `t`, numbered by the same seq), so every node applies the changes in log order;
 * and the key `tempo` holds the map the latest one set, so a node that starts later, reconnects, or resyncs
 * past a trimmed stream learns the map in force at its sync.
 *
 * A change is decided in Redis, not on the node. The node computes the new map from the map it holds and the
 * TEMPO script (redis-scripts.ts) appends it only if the shared map is still that one (compare-and-set on the
 * seq of the entry that set it); else the script answers with the current map, which the node takes and
 * computes again from. So two changes posted to two nodes at once both land, one after the other, the later
 * computed on top of the earlier, and after each every node holds the same map: log order decides.
 *
 * The map is text here: the music side writes it (`change`) and reads it (`onTempo`); this module only
 * orders it. A pixel canvas never writes a `t` entry, and its nodes ignore the key.
 */
import type { Redis } from 'ioredis';
import type { CanvasKeys } from './redis-keys.js';
import type { SeamState } from './seam-state.js';
import { REDIS_DEFAULTS } from '../defaults.js';

export interface SharedTempoOptions {
  keys: CanvasKeys;
  /** Stream entries kept (XADD MAXLEN ~), as for placements. */
  streamMaxLen: number;
  /** Called with each map this node takes from the log, in log order (not for a map equal to the one held). */
  onTempo: (map: string) => void;
}

/** A tempo change could not be confirmed: Redis unreachable or timed out, this node resyncing, or too many races. */
export class TempoUnavailableError extends Error {
  override name = 'TempoUnavailableError';
}

type TempoScript = { pcTempo(n: number, ...a: unknown[]): Promise<Array<number | string>> };

export class SharedTempo {
  /** Seq of the stream entry that set the map this node holds; 0 while it holds its own (no change shared yet). */
  private seq = 0;
  private map: string | null = null;

  /** `cmd` has the TEMPO script defined as `pcTempo` (redis-scripts.ts). */
  constructor(private readonly state: SeamState, private readonly cmd: Redis, private readonly opts: SharedTempoOptions) {}

  /**
   * Appends the map `next()` returns — computed from the map this node holds — as the canvas's next tempo
   * change; when another node's change landed first, takes that one and calls `next` again. Resolves with the
   * map written, which this node then holds (its clients are told through onTempo). Rejects with
   * TempoUnavailableError when the change cannot be confirmed (a timed-out call may still have landed).
   */
  async change(next: () => string): Promise<string> {
    const st = this.state;
    const { keys } = this.opts;
    for (let attempt = 0; attempt < REDIS_DEFAULTS.tempoChangeAttempts; attempt++) {
      if (st.state !== 'ok' || st.closed) throw new TempoUnavailableError(`Redis is ${st.closed ? 'closed' : st.state}`);
      const map = next();
      const epoch = st.epoch;
      let res: Array<number | string>;
      try {
        res = await (this.cmd as unknown as TempoScript).pcTempo(4, keys.stream, keys.seq, keys.epoch, keys.tempo,
          String(epoch), this.opts.streamMaxLen, String(this.seq), map);
      } catch (err) {
        st.noteError(err as Error);
        throw new TempoUnavailableError(`the tempo change was not confirmed: ${(err as Error).message}`);
      }
      const code = Number(res[0]);
      if (code === -1) {
        // Redis holds another generation of the canvas (or none): resync first.
        st.needSync = true;
        st.kickReaders();
        throw new TempoUnavailableError('this node is resyncing with Redis');
      }
      if (code === -2) {
        // Another change landed since the map this one was computed from: take it, compute again. (Unless the
        // reader has already brought one newer still; and a key deleted by hand is written afresh.)
        const current = Number(res[1]);
        if (current === 0) this.seq = 0;
        else if (current > this.seq) this.take(current, String(res[2]));
        continue;
      }
      this.take(code, map);
      return map;
    }
    throw new TempoUnavailableError('other tempo changes kept landing first');
  }

  /** A `t` entry read from the stream (the reader calls this in stream order): newer than the map held, taken. */
  fromStream(seq: number, map: string): void {
    if (seq > this.seq) this.take(seq, map);
  }

  /**
   * Sync (not a re-seed): the shared map is the one in force, whatever this node held. Entries read after this
   * that are older than it are skipped by fromStream. No key (no change made on this canvas yet): the node
   * keeps its own.
   */
  async load(): Promise<void> {
    const [seq, map] = await this.cmd.hmget(this.opts.keys.tempo, 'seq', 'map');
    if (seq !== null && map !== null) this.take(Number(seq), map);
  }

  /** A re-seed (Redis lost the canvas) writes this node's map back as the shared one, at the seed's seq. */
  addSeed(m: ReturnType<Redis['multi']>, seq: number): void {
    m.del(this.opts.keys.tempo);
    if (this.map !== null) m.hset(this.opts.keys.tempo, 'seq', String(seq), 'map', this.map);
  }

  /** The seed's MULTI ran. */
  seeded(seq: number): void {
    this.seq = this.map === null ? 0 : seq;
  }

  private take(seq: number, map: string | null): void {
    this.seq = seq;
    if (map === null || map === this.map) return;
    this.map = map;
    try {
      this.opts.onTempo(map);
    } catch (err) {
      // The music side's problem, not Redis's: the reader must read on.
      this.state.log.error({ err, seq }, 'tempo map from the shared log not applied');
    }
  }
}
