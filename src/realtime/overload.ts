/**
 * The overload policy (docs/architecture.md, "Overload policy"): how the tick bends instead of breaking.
 *
 * - **A budget per tick.** The tick's work may take `--tick-budget` of the period, measured each tick from
 *   its start. Once it is spent the write stage carries the clients it has not reached to the next tick,
 *   where they are written first (round-robin: the ones left over go to the front, so nobody is left last).
 *   A few clients are written every tick whatever the budget, so the carried queue always drains.
 * - **A degradation level** (0..maxLevel) that rises when most recent ticks went over budget (a smoothed
 *   share), and falls after many calm ones: ticks whose writes, scaled to the clients the level below would have served, would still
 *   have fitted well inside the budget (hysteresis). At level L a client is served every 2^L-th
 *   tick, spread by its id; meanwhile its changed chunks are owed as snapshots (coalesced per chunk, as for a
 *   stale client), so writes per second fall as load rises instead of the tick rate. A client that just
 *   placed, or whose view is close up, is served 2^fastLevels times more often, and a client is served in
 *   the tick that answers its PLACE.
 * - **Admission.** Saturated (at the top level, most recent ticks left as many clients unwritten by the
 *   budget as they wrote): new connections are refused with 503 and Retry-After, until it has calmed down.
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
  /** Its view is close up (a few chunks): served as fast as a client that just placed. */
  zoomedIn?: boolean;
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
  private underRun = 0;
  /** The share of recent ticks over budget (~upSmoothTicks), and the level below's predicted tick time (~smoothTicks). */
  private overShare = 0;
  private belowAvg = 0;
  /** The tick at which the level last changed. */
  private changedAt = Number.NEGATIVE_INFINITY;
  /**
   * Calm ticks a level down needs: downTicks, doubled (up to 16×) each time a level reached going down did
   * not hold (it went back up soon), back to downTicks once one holds. The prediction may be wrong; the
   * cost of a wrong guess is then a few over-budget ticks every few seconds, not a flapping cadence.
   */
  private calmNeeded: number;
  /** Ticks ended so far, and the tick at which the level last went down. */
  private ticks = 0;
  private wentDownAt = Number.NEGATIVE_INFINITY;
  /** This tick's write stage (noteWrite): its time, the clients it wrote, and how many the level below would have. */
  private writeMs = 0;
  private served = 0;
  private dueBelow = 0;
  private wrote = false;
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
    this.calmNeeded = d.downTicks;
  }

  beginTick(now: number): void {
    this.settle(now);
    this.tickStart = now;
    this.wrote = false;
  }

  /**
   * The write stage took `writeMs` to write `served` clients; at the level below, `dueBelow` of the clients
   * it saw would have been due. The write system call per client is what a level trades, so this is what
   * predicts the cost of the level below (see endTick).
   */
  noteWrite(writeMs: number, served: number, dueBelow: number): void {
    this.writeMs = writeMs;
    this.served = served;
    this.dueBelow = dueBelow;
    this.wrote = true;
  }

  /**
   * What this tick would have cost at the level below: its other work as it was, its writes scaled by the
   * clients that would have been due. Without a reading from the write stage, assume the tick was all
   * writes and the level below doubles them (the most a level down can cost).
   */
  private predictBelow(used: number): number {
    if (!this.wrote) return 2 * used;
    if (this.served === 0) return this.dueBelow === 0 ? used : 2 * used;
    return used + (this.writeMs / this.served) * (this.dueBelow - this.served);
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
    this.calm(ticks, this.d.downTicks); // idle: nothing to predict, nothing a level would save
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
    this.ticks++;
    if (this.ticks - this.wentDownAt === 2 * this.d.downTicks && this.changedAt === this.wentDownAt) {
      this.calmNeeded = this.d.downTicks; // the level reached going down held
    }
    this.asleep = !more;
    if (carried > 0 || used > this.budgetMs) this.ticksOverBudget++;
    // Smoothed over ~smoothTicks ticks: single heavy ticks (a GC, a cursor flush, a burst of pans, clients
    // carried from one tick to the next) come a few times a second at any level, and a level does nothing
    // for them; a level is for load that lasts. (Counting over-budget ticks in a row raised the level on
    // such bursts, and a level that changes little for them never looked calm enough to come back.)
    // (The share of over-budget ticks, not their time: the budget stops the write stage, so an overloaded
    // tick's time stays near the budget; clients carried to the next tick are the sign.)
    this.overShare += ((carried > 0 || used > this.budgetMs ? 1 : 0) - this.overShare) / this.d.upSmoothTicks;
    this.belowAvg += (this.predictBelow(used) - this.belowAvg) / this.d.smoothTicks;
    const settled = this.ticks - this.changedAt >= this.d.holdTicks; // the averages reflect this level
    if (settled && this.overShare > 0.5 && this.level < this.maxLevel) {
      if (this.ticks - this.wentDownAt < 2 * this.d.downTicks) {
        this.calmNeeded = Math.min(this.calmNeeded * 2, 16 * this.d.downTicks); // that level did not hold
      }
      this.underRun = 0;
      this.setLevel(this.level + 1);
    } else if (settled && this.overShare < 0.25 && this.belowAvg < this.budgetMs * this.d.downFit) {
      // The level below would have fitted: a calm tick. The backoff is for predictions near the budget;
      // with a wide margin (the load has gone) the level comes down at the plain pace.
      this.calm(1, this.belowAvg < this.budgetMs * 0.5 ? this.d.downTicks : this.calmNeeded);
    } else {
      this.underRun = 0;
    }
    // An average over ~100 ticks of "over budget even at the slowest cadence": a second or two of it, not a
    // stall (a GC pause, a descheduled process), is what closes the door.
    // Only clients actually left unwritten count: a tick that is merely slow in wall time (the process
    // descheduled by a busy machine) still served everyone whose turn it was.
    // Clients carried to the next tick are written first there: a carried queue shorter than one tick's
    // writes only makes the slowest cadence a little slower. Saturated is a queue that stays as long as
    // what a tick writes, or longer: then the wait grows with every client admitted.
    const behind = carried > 0 && (!this.wrote || carried >= this.served);
    this.saturation = this.saturation * 0.99 + (behind && this.level === this.maxLevel ? 0.01 : 0);
    if (this.saturation > this.d.refuseAbove) this.refusing = true;
    else if (this.saturation < this.d.admitBelow) this.refusing = false;
  }

  private calm(ticks: number, needed: number): void {
    this.underRun += ticks;
    this.saturation *= Math.pow(0.95, Math.min(ticks, 1000)); // reopens faster than it closes
    if (this.saturation < this.d.admitBelow) this.refusing = false;
    while (this.underRun >= needed && this.level > 0) {
      this.underRun -= needed;
      this.wentDownAt = this.ticks;
      this.setLevel(this.level - 1);
    }
    if (this.level === 0) this.underRun = 0;
  }

  private setLevel(level: number): void {
    this.level = level;
    this.changedAt = this.ticks;
    this.onLevel(level);
  }

  /** The cadence (serve every n-th tick) of clients that have not placed lately, at the current level. */
  get cadence(): number {
    return 1 << this.level;
  }

  /** `s`'s cadence at tick clock `t`. */
  cadenceOf(s: CadenceSubject, t: number): number {
    if (this.level === 0) return 1;
    return 1 << (s.fastUntil > t || s.zoomedIn === true ? Math.max(0, this.level - this.d.fastLevels) : this.level);
  }

  /** `s` is served in tick number `tick` (at tick clock `t`): its turn in its cadence, or it must be. */
  due(s: CadenceSubject, tick: number, t: number): boolean {
    if (this.level === 0 || s.dueTick === tick) return true;
    const c = this.cadenceOf(s, t);
    return ((tick + s.id) & (c - 1)) === 0; // ids spread clients over the cadence's ticks
  }

  /** `s` would be served in tick number `tick` at the level below the current one (for noteWrite). */
  dueBelowLevel(s: CadenceSubject, tick: number, t: number): boolean {
    if (this.level <= 1 || s.dueTick === tick) return true;
    const below = this.level - 1;
    const c = 1 << (s.fastUntil > t || s.zoomedIn === true ? Math.max(0, below - this.d.fastLevels) : below);
    return ((tick + s.id) & (c - 1)) === 0;
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
