/**
 * Runs the tick at a fixed cadence, plus one optimisation: when the previous tick found nothing to do (an
 * idle server), new work runs a tick at once instead of waiting up to a whole period, and the cadence
 * restarts from there. Under load every tick has work, so this never adds ticks beyond tickHz.
 */
export class TickLoop {
  private readonly periodMs: number;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private nextAt = 0;
  private idle = true;
  private running = false;
  /** Tick start times over the last second, for the measured rate. */
  private readonly recent: number[] = [];

  constructor(
    hz: number,
    private readonly eager: boolean,
    /** One tick; returns true if it did any work. */
    private readonly run: (nowMs: number) => boolean,
    /** A tick that throws is reported here; the loop keeps its cadence whatever happens. */
    private readonly onError: (err: unknown) => void = (err) => { console.error(err); },
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.periodMs = 1000 / hz;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.nextAt = this.clock() + this.periodMs;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
  }

  /** Something changed: on an idle server (eager mode) flush it now rather than at the next boundary. */
  request(): void {
    if (!this.running || !this.eager || !this.idle || this.immediate) return;
    this.immediate = setImmediate(() => {
      this.immediate = null;
      if (!this.running) return;
      if (this.timer) clearTimeout(this.timer);
      this.fire();
      this.nextAt = this.clock() + this.periodMs;
      this.schedule();
    });
  }

  /** Ticks started during the last second. */
  get measuredHz(): number {
    const cutoff = this.clock() - 1000;
    while (this.recent.length > 0 && this.recent[0]! < cutoff) this.recent.shift();
    return this.recent.length;
  }

  private fire(): void {
    const now = this.clock();
    this.recent.push(now);
    if (this.recent.length > 4096) this.recent.splice(0, this.recent.length - 2048);
    try {
      this.idle = !this.run(now);
    } catch (err) {
      this.idle = false;
      this.onError(err);
    }
  }

  private schedule(): void {
    const delay = Math.max(0, this.nextAt - this.clock());
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.running) return;
      this.fire();
      // Aim at the next boundary, not now + period, so the cadence does not drift. Behind schedule (a tick
      // overran its period), tick again as soon as pending I/O has been read — a zero timeout still lets
      // the poll phase run — rather than idling a whole period; missed boundaries are not made up.
      const now = this.clock();
      this.nextAt += this.periodMs;
      if (this.nextAt < now) this.nextAt = now;
      this.schedule();
    }, delay);
  }
}
