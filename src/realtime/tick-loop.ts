/**
 * How the loop keeps time and waits: the host's clock and timers, or a test's hand-driven ones (time that
 * moves only when the test says, so "late timers" and "a slow tick" are exact, whatever the machine's load).
 */
export interface TickTimers {
  now(): number;
  /** Calls `fn` once, `ms` from now; `ms` ≤ 0: as soon as pending I/O has been read. Returns its cancel. */
  schedule(ms: number, fn: () => void): () => void;
}

/** performance.now(), setTimeout, and setImmediate for "due now" (it runs after the poll phase, not a timer's ≥ 1 ms). */
export const HOST_TIMERS: TickTimers = {
  now: () => performance.now(),
  schedule(ms, fn) {
    if (ms <= 0) {
      const i = setImmediate(fn);
      return () => clearImmediate(i);
    }
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/**
 * Runs the tick `hz` times a second while there is work. In eager mode (the default) the loop sleeps when a
 * tick finds nothing to do, and new work wakes it: the tick runs at once if the last tick that did work
 * started a period or more ago (a lone pixel on a quiet server is not held back), else at that tick's next
 * period boundary. A busy loop keeps to a grid of period boundaries rather than counting each period from
 * the last start: a timer always fires a little late (whole milliseconds, after the I/O being read), and
 * counting from the late start would lose that lateness every tick (at 60 Hz, 1–3 ms a tick is 6–15 % of
 * the rate). So ticks that do work — the ones that write to clients — come at most `hz` a second on
 * average, never closer together than half a period (a late tick's successor keeps its boundary), an idle
 * server does no periodic work at all, and a loop that falls a whole period behind starts a new grid instead
 * of bursting to catch up. With eager off, it ticks on the cadence whether or not there is work.
 */
export class TickLoop {
  private readonly periodMs: number;
  /** Cancels the scheduled tick; null when none is scheduled. */
  private cancel: (() => void) | null = null;
  /** Start of the last tick that did work. */
  private lastWorkStart = Number.NEGATIVE_INFINITY;
  private running = false;
  /** Eager mode: no tick is scheduled, because the last one found nothing to do. */
  private sleeping = true;
  /** The period boundary the scheduled tick belongs to (the grid a busy loop keeps to). */
  private target = 0;
  private firing = false;
  private requestedWhileFiring = false;
  /** Tick start times over the last second, for the measured rate. */
  private readonly recent: number[] = [];

  constructor(
    hz: number,
    private readonly eager: boolean,
    /** One tick; returns true if it did any work (or has work left). */
    private readonly run: (nowMs: number) => boolean,
    /** A tick that throws is reported here; the loop keeps going whatever happens. */
    private readonly onError: (err: unknown) => void = (err) => { console.error(err); },
    private readonly timers: TickTimers = HOST_TIMERS,
  ) {
    this.periodMs = 1000 / hz;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.sleeping = this.eager;
    if (!this.eager) this.scheduleAt(this.timers.now() + this.periodMs);
  }

  stop(): void {
    this.running = false;
    this.cancel?.();
    this.cancel = null;
  }

  /** Something changed: wake a sleeping loop (at once if a period has passed since the last tick). */
  request(): void {
    if (!this.running) return;
    if (this.firing) {
      this.requestedWhileFiring = true;
      return;
    }
    if (!this.sleeping) return;
    this.sleeping = false;
    this.scheduleAt(this.lastWorkStart + this.periodMs);
  }

  /** Ticks that did work during the last second (0 on an idle server). */
  get measuredHz(): number {
    const cutoff = this.timers.now() - 1000;
    let drop = 0;
    while (drop < this.recent.length && this.recent[drop]! < cutoff) drop++;
    if (drop > 0) this.recent.splice(0, drop);
    return this.recent.length;
  }

  private scheduleAt(at: number): void {
    const now = this.timers.now();
    // A boundary already past (a wake after a quiet spell, a tick that overran) starts the grid now: never a
    // burst of catch-up ticks. Due now means after pending I/O has been read (HOST_TIMERS).
    this.target = Math.max(at, now);
    this.cancel = this.timers.schedule(at - now, () => {
      this.cancel = null;
      this.fire();
    });
  }

  private fire(): void {
    if (!this.running) return;
    const start = this.timers.now();
    this.firing = true;
    this.requestedWhileFiring = false;
    let worked = true;
    try {
      worked = this.run(start);
    } catch (err) {
      try {
        this.onError(err);
      } catch {
        // a failing error reporter must not stop the loop either
      }
    } finally {
      this.firing = false;
    }
    if (worked) {
      this.lastWorkStart = start;
      this.recent.push(start);
      if (this.recent.length > 4096) this.recent.splice(0, this.recent.length - 2048);
    }
    if (!this.running) return;
    if (this.eager && !worked && !this.requestedWhileFiring) {
      this.sleeping = true;
      return;
    }
    // The next boundary of the grid, but never within half a period of this start; a whole period or more
    // behind (ticks overran), a new grid from this start — "now" after pending I/O if this tick overran.
    let next = this.target + this.periodMs;
    if (next < start - this.periodMs) next = start + this.periodMs;
    this.scheduleAt(Math.max(next, start + this.periodMs / 2));
  }
}
