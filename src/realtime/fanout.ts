/**
 * The tick's fan-out of pixel changes: the store drained (each changed chunk's DELTA encoded once), the
 * levels of detail fed from it and drained at their own cadence (each level chunk's LOD_DELTA encoded
 * once), then every delta's bytes referenced from the out list of each subscriber of its level that is up
 * to date. A subscriber that is stale, or still owed that chunk's snapshot, gets the snapshot later instead
 * (`needSnapshot`: one entry per chunk, never a queue). One whose turn it is not (overload cadence) keeps the
 * deltas queued for its turn, up to a bound. The storage's checkpoint runs here too, since it
 * must see the store applied and drained.
 */
import type { Logger } from 'pino';
import type { ServerConfig } from '../config.js';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { OVERLOAD_DEFAULTS } from '../defaults.js';
import type { LodLevels } from '../chunks/lod.js';
import type { CanvasStorage } from '../storage/canvas-storage.js';
import type { PressureGate } from './backpressure.js';
import type { ClientSession } from './client-session.js';
import type { Outbox } from './outbox.js';
import type { OverloadGovernor } from './overload.js';
import type { ViewportSubscriptions } from './viewport-subscription.js';

export interface FanoutDeps {
  config: Pick<ServerConfig, 'lodHz' | 'tickHz'>;
  store: ChunkStore;
  storage: CanvasStorage;
  levels: LodLevels;
  subs: ViewportSubscriptions;
  pressure: PressureGate;
  outbox: Outbox;
  overload: OverloadGovernor;
  log: Logger;
  /** Wall clock (ms since epoch), for the checkpoint. */
  now: () => number;
}

export class DeltaFanout {
  /** When the levels of detail were last drained (tick clock), for the LOD cadence (--lod-hz). */
  private lastLodDrain = Number.NEGATIVE_INFINITY;
  /** Scratch: the subscribers of one changed chunk (emptied after each fan-out). */
  private readonly scratch: ClientSession[] = [];

  constructor(private readonly deps: FanoutDeps) {}

  /**
   * `cursorsDue`: this tick flushes cursors; levels drain then too (so a zoomed-out viewer's LOD deltas and
   * cursors go in one write), or once a whole LOD period has passed without a cursor flush (a little slack
   * for timer jitter). `placed`: this tick applied placements. Returns true while changes remain to drain.
   */
  run(t: number, cursorsDue: boolean, placed: boolean): boolean {
    const { store, storage, levels, config } = this.deps;
    const { subs, pressure, outbox, overload } = this.deps;
    // Under load the levels of detail slow with the cadence (the least important work after cursors).
    const lodDue = (config.lodHz >= config.tickHz && overload.level === 0) || cursorsDue
      || t - this.lastLodDrain >= (1000 / config.lodHz) * overload.cadence * 0.9;
    if (lodDue) this.lastLodDrain = t;
    const drained = store.drain();
    const perLevel = levels.apply(drained, lodDue);
    const more = drained.length > 0 || (!lodDue && levels.pending); // keep ticking until they drain
    if (placed) {
      // Chunk checkpoints and the WAL flush: cheap when not due; must see the store applied and drained.
      // A failure here loses nothing (the log is committed), so it must not stop the tick.
      try {
        storage.maybeCheckpoint(store, this.deps.now());
      } catch (err) {
        this.deps.log.error({ err }, 'checkpoint failed; will retry');
      }
    }
    const tick = outbox.tick;
    const scratch = this.scratch;
    for (let level = 0; level < perLevel.length; level++) for (const d of perLevel[level]!) {
      const n = subs.indexes[level]!.collectSubscribers(d.cx, d.cy, scratch);
      for (let i = 0; i < n; i++) {
        const s = scratch[i]!;
        outbox.mark(s);
        // Not its turn (overload: served every n-th tick): the delta waits in its queue for its turn, until
        // the queue holds OVERLOAD_DEFAULTS.heldDeltaBytes; past that it is handled like stale: the chunk is
        // owed as one snapshot when its turn comes, however many times it changes meanwhile (a snapshot
        // queued after earlier deltas of its chunk supersedes them; later ones see the chunk owed).
        if (pressure.check(s, t) || (s.needSnapshot.size !== 0 && s.needSnapshot.has(d.key))
          || (s.outBytes >= OVERLOAD_DEFAULTS.heldDeltaBytes && !overload.due(s, tick, t))) {
          s.needSnapshot.add(d.key);
          continue;
        }
        // Invariant: a fresh client that sees this chunk and does not await its snapshot holds version − 1
        // (every path that could break that — stale, a deferred view, a miss — goes through needSnapshot),
        // so no per-client version lookup is needed on this, the hottest loop.
        s.enqueue(d.bytes);
      }
    }
    scratch.length = 0; // holds no session past the fan-out
    return more;
  }
}
