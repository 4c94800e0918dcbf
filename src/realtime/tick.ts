/**
 * One tick: the data path's stages in their order, each timed as a phase (/metrics:
 * pixel_canvas_tick_phase_seconds_total{phase}, and the duration in pixel_canvas_tick_duration_seconds).
 *
 *   commit   ./commit-stage.ts      the seam's batch committed, applied to the store, answered
 *   backlog  ./outbox.ts            work left from earlier ticks: deferred viewports (./viewport-intake.ts),
 *                                   snapshots owed, stale clients
 *   fanout   ./fanout.ts            deltas and levels of detail to their subscribers
 *   cursors  ./cursor-fanout.ts     moved cursors and cursor snapshots, at their own cadence
 *   online   ./session-registry.ts  the ONLINE count, when it changed
 *   write    ./client-write.ts      one write per client marked this tick, under the backpressure policy,
 *                                   within the tick's budget and each client's cadence (./overload.ts)
 */
import type { ServerMetrics } from '../metrics.js';
import type { Outbox } from './outbox.js';
import { OverloadGovernor } from './overload.js';

/** The tick's phases, in order, as /metrics labels them (pixel_canvas_tick_phase_seconds_total). */
export const TICK_PHASES = ['commit', 'backlog', 'fanout', 'cursors', 'online', 'write'] as const;

export interface TickStages {
  /** How many placements were applied, or -1 when the seam had nothing (not even a refusal to answer). */
  commit(): number;
  backlog(t: number): void;
  /** Whether this tick flushes moved cursors (the levels of detail follow that cadence). */
  cursorsDue(t: number): boolean;
  /** `placed`: this tick applied placements. True while changes remain to drain. */
  fanout(t: number, cursorsDue: boolean, placed: boolean): boolean;
  /** True while cursor work remains. */
  cursors(t: number, due: boolean): boolean;
  online(t: number): void;
  /** How many clients were marked for a write. */
  write(t: number): number;
  /** Clients the write stage carried to the next tick (its budget ran out). */
  carried?(): number;
}

export class Tick {
  /** Phase boundaries of the current tick (performance.now()). */
  private readonly clock = new Float64Array(TICK_PHASES.length - 1);
  /** One counter child per phase. */
  private readonly counters: ReturnType<ServerMetrics['tickPhase']['labels']>[];

  constructor(
    private readonly stages: TickStages,
    private readonly outbox: Outbox,
    private readonly metrics: Pick<ServerMetrics, 'tickPhase' | 'tickDuration'>,
    private readonly overload: OverloadGovernor = new OverloadGovernor(60, 1),
  ) {
    this.counters = TICK_PHASES.map((phase) => metrics.tickPhase.labels({ phase }));
  }

  /** Returns true if it did any work or has work left (the loop uses that to detect an idle server). */
  run(t: number): boolean {
    const { stages, clock } = this;
    const started = performance.now();
    this.overload.beginTick(started);
    const placed = stages.commit();
    let worked = placed >= 0;
    clock[0] = performance.now();
    stages.backlog(t);
    clock[1] = performance.now();
    const cursorsDue = stages.cursorsDue(t);
    if (stages.fanout(t, cursorsDue, placed > 0)) worked = true;
    clock[2] = performance.now();
    if (stages.cursors(t, cursorsDue)) worked = true;
    clock[3] = performance.now();
    stages.online(t);
    clock[4] = performance.now();
    const written = stages.write(t);
    this.outbox.endTick();
    const ended = worked || written > 0 ? this.observe(started) : performance.now();
    const more = worked || written > 0 || this.outbox.backlog.size > 0 || this.outbox.heldCount > 0;
    this.overload.endTick(ended, stages.carried?.() ?? 0, more);
    return more;
  }

  /** The tick's duration and its phases, from the phase clock. */
  private observe(started: number): number {
    const { clock, counters } = this;
    const ended = performance.now();
    this.metrics.tickDuration.observe((ended - started) / 1000);
    counters[0]!.inc((clock[0]! - started) / 1000);
    for (let i = 1; i < clock.length; i++) counters[i]!.inc((clock[i]! - clock[i - 1]!) / 1000);
    counters[clock.length]!.inc((ended - clock[clock.length - 1]!) / 1000);
    return ended;
  }
}
