/**
 * The overload policy (docs/architecture.md, "Overload policy"): how the tick bends instead of breaking.
 *
 * - **A budget per tick.** The tick's work may take `--tick-budget` of the period, measured each tick from
 *   its start. Once it is spent the write stage carries the clients it has not reached to the next tick,
 *   where they are written first (round-robin: the ones left over go to the front, so nobody is left last).
 *   A few clients are written every tick whatever the budget, so the carried queue always drains.
 * - **A degradation level** (0..maxLevel) that rises after a few over-budget ticks in a row and falls after
 *   many calm ones (hysteresis: a level down doubles the writes). At level L a client is served every 2^L-th
 *   tick, spread by its id; meanwhile its changed chunks are owed as snapshots (coalesced per chunk, as for a
 *   stale client), so writes per second fall as load rises instead of the tick rate. A client that just
 *   placed is served 2^fastLevels times more often, and in the tick that answers its PLACE.
 * - **Admission.** Saturated (clients left unwritten by the budget at the top level, most recent ticks): new
 *   connections are refused with 503 and Retry-After, until it has calmed down.
 *
 * Pure bookkeeping: it reads no clock of its own (times are passed in), so the property tests drive it.
 */
import { OVERLOAD_DEFAULTS } from '../defaults.js';

/** What the policy reads of a client. */
export interface CadenceSubject {
  readonly id: number;
  /** Tick clock (ms) until which the client counts as fast (it just placed). */
  fastUntil: number;
  /** Tick in which it must be written whatever its cadence (its PLACE is answered; it was carried). */
  dueTick: number;
}

export interface OverloadState {
  level: number;
  /** Budget of one tick, ms. */
  budgetMs: number;
  /** Share of recent ticks over budget at the top level (0..1). */
  saturation: number;
  /** New connections are refused. */
  refusing: boolean;
  /** Ticks over budget so far. */
  ticksOverBudget: number;
}

export class OverloadGovernor {
  level = 0;
  readonly budgetMs: number;
  readonly maxLevel: number;
  /** Ticks whose work did not fit their budget, since start. */
  ticksOverBudget = 0;
  private readonly periodMs: number;
  private tickStart = 0;
  private lastTickEnd = Number.NEGATIVE_INFINITY;
  /** The last tick left no work: the loop sleeps, so time from then on is idle (not late ticks). */
  private asleep = false;
  /** Up to when idle time has been counted as calm ticks. */
  private settledTo = Number.NEGATIVE_INFINITY;
  private overRun = 0;
  private underRun = 0;
  private saturation = 0;
  private refusing = false;

  constructor(
    tickHz: number,
    budgetShare: number,
    /** The level changed (the room tells every client its new cadence). */
    private readonly onLevel: (level: number) => void = () => {},
    private readonly d = OVERLOAD_DEFAULTS,
  ) {
    this.periodMs = 1000 / tickHz;
    this.budgetMs = this.periodMs * budgetShare;
    this.maxLevel = d.maxLevel;
  }

  beginTick(now: number): void {
    this.settle(now);
    this.tickStart = now;
  }

  /**
   * An idle stretch (the loop sleeps when there is no work) counts as calm ticks: the cadence comes back,
   * and admission reopens, by itself when load falls, even if nothing ticks meanwhile.
   */
  settle(now: number): void {
    if (!this.asleep || !(now - this.lastTickEnd > 2 * this.periodMs)) return;
    const from = Math.max(this.settledTo, this.lastTickEnd);
    const ticks = Math.floor((now - from) / this.periodMs);
    if (ticks <= 0) return;
    this.settledTo = from + ticks * this.periodMs;
    this.calm(ticks);
  }

  /** The tick's budget is used up at `now`. */
  spent(now: number): boolean {
    return now - this.tickStart >= this.budgetMs;
  }

  /**
   * The tick ended at `now`; `carried`: clients its write stage left for the next tick; `more`: it left
   * work (else the loop sleeps, and the time until the next tick is idle).
   */
  endTick(now: number, carried: number, more = true): void {
    const used = now - this.tickStart;
    this.lastTickEnd = now;
    this.asleep = !more;
    const over = carried > 0 || used > this.budgetMs;
    if (over) {
      this.ticksOverBudget++;
      this.underRun = 0;
      if (++this.overRun >= this.d.upTicks && this.level < this.maxLevel) {
        this.overRun = 0;
        this.setLevel(this.level + 1);
      }
    } else if (used < this.budgetMs * this.d.downShare) {
      this.overRun = 0;
      this.calm(1);
    } else {
      this.overRun = 0;
      this.underRun = 0;
    }
    // An average over ~100 ticks of "over budget even at the slowest cadence": a second or two of it, not a
    // stall (a GC pause, a descheduled process), is what closes the door.
    // Only clients actually left unwritten count: a tick that is merely slow in wall time (the process
    // descheduled by a busy machine) still served everyone whose turn it was.
    this.saturation = this.saturation * 0.99 + (carried > 0 && this.level === this.maxLevel ? 0.01 : 0);
    if (this.saturation > this.d.refuseAbove) this.refusing = true;
    else if (this.saturation < this.d.admitBelow) this.refusing = false;
  }

  private calm(ticks: number): void {
    this.underRun += ticks;
    this.saturation *= Math.pow(0.95, Math.min(ticks, 1000)); // reopens faster than it closes
    if (this.saturation < this.d.admitBelow) this.refusing = false;
    while (this.underRun >= this.d.downTicks && this.level > 0) {
      this.underRun -= this.d.downTicks;
      this.setLevel(this.level - 1);
    }
    if (this.level === 0) this.underRun = 0;
  }

  private setLevel(level: number): void {
    this.level = level;
    this.onLevel(level);
  }

  /** The cadence (serve every n-th tick) of clients that have not placed lately, at the current level. */
  get cadence(): number {
    return 1 << this.level;
  }

  /** `s`'s cadence at tick clock `t`. */
  cadenceOf(s: CadenceSubject, t: number): number {
    if (this.level === 0) return 1;
    return 1 << (s.fastUntil > t ? Math.max(0, this.level - this.d.fastLevels) : this.level);
  }

  /** `s` is served in tick number `tick` (at tick clock `t`): its turn in its cadence, or it must be. */
  due(s: CadenceSubject, tick: number, t: number): boolean {
    if (this.level === 0 || s.dueTick === tick) return true;
    const c = this.cadenceOf(s, t);
    return ((tick + s.id) & (c - 1)) === 0; // ids spread clients over the cadence's ticks
  }

  /** Seconds a refused upgrade should wait (Retry-After), or 0: admit. `now`: the tick clock. */
  admit(now: number): number {
    this.settle(now);
    return this.refusing ? this.d.retryAfterS : 0;
  }

  get minServed(): number {
    return this.d.minServedPerTick;
  }

  state(): OverloadState {
    return {
      level: this.level, budgetMs: this.budgetMs, saturation: this.saturation, refusing: this.refusing,
      ticksOverBudget: this.ticksOverBudget,
    };
  }
}
