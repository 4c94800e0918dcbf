/**
 * The operator's view of a loaded server: GET /healthz every `intervalMs` (on the ops port when the server
 * has one, so it answers while the public port's accept queue is full), its latency recorded; and, once
 * the load has stopped, how long until the overload policy is back at level 0 (full cadence). A request
 * that takes longer than `timeoutMs` counts as a time-out (and is not in the latency figures).
 */
import { LatencyHistogram } from './histogram.js';
import { httpGetText } from './server-stats.js';

export class HealthProbe {
  readonly latency = new LatencyHistogram();
  timeouts = 0;
  private timer: NodeJS.Timeout | null = null;
  private inFlight = false;

  constructor(private readonly url: string, private readonly intervalMs = 100, private readonly timeoutMs = 1000) {}

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => {
      if (this.inFlight) return; // one at a time: a slow answer is measured, not stacked up
      this.inFlight = true;
      const at = performance.now();
      httpGetText(this.url, this.timeoutMs, true).then(
        () => this.latency.recordMs(performance.now() - at),
        () => { this.timeouts++; },
      ).finally(() => { this.inFlight = false; });
    }, this.intervalMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Seconds from now until /healthz reports overload level 0, polled every 250 ms for at most `limitS`;
   * null when it did not come back within that, NaN when the server reports no overload level.
   */
  async secondsToFullCadence(limitS = 20): Promise<number | null> {
    const start = performance.now();
    for (;;) {
      const level = await httpGetText(this.url, this.timeoutMs, true)
        .then((t) => (JSON.parse(t) as { overload?: { level?: unknown } }).overload?.level, () => undefined);
      if (level === 0) return (performance.now() - start) / 1000;
      if (level === undefined && performance.now() - start > 2000) return Number.NaN;
      if (performance.now() - start > limitS * 1000) return null;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
