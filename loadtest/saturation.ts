/**
 * Was the generator saturated? A load generator short of CPU delays its own reads and timers, and every
 * latency it measures then describes it as much as the server. The verdict uses three readings, each against
 * a threshold documented in loadtest/README.md:
 *
 * - CPU share: the generator's CPU time over the cores it could use (the CPUs it may run on, but no more than
 *   its threads). Above the threshold, a burst of work finds no idle core to absorb it.
 * - Event-loop delay p99 (past when the sampling timer was due), of its busiest thread: the queueing it adds
 *   to what it measures. The threshold is about one server tick at 60 Hz.
 * - Event-loop utilisation, of its busiest thread: a loop busy most of the time has no slack either, even
 *   while its delay still looks small.
 */

export const SATURATION_THRESHOLDS = {
  cpuSharePercent: 70,
  loopDelayP99Ms: 20,
  loopUtilization: 0.8,
} as const;

export interface GeneratorReadings {
  /** CPU of the whole generator process, percent of one core. */
  cpuPercent: number;
  /** CPUs the generator may run on. */
  cpus: number;
  /** Threads doing the work (fleets; the main thread only when there are none). */
  threads: number;
  loopDelayP99Ms: number;
  loopUtilization: number;
}

export interface SaturationVerdict {
  saturated: boolean;
  /** Cores counted for the share: min(cpus, threads). */
  cores: number;
  cpuSharePercent: number;
  /** Which thresholds were passed, in words; empty when not saturated. */
  reasons: string[];
}

export function judgeGenerator(r: GeneratorReadings): SaturationVerdict {
  const t = SATURATION_THRESHOLDS;
  const cores = Math.max(1, Math.min(r.cpus, r.threads));
  const cpuSharePercent = r.cpuPercent / cores;
  const reasons: string[] = [];
  if (cpuSharePercent > t.cpuSharePercent) {
    reasons.push(`CPU ${cpuSharePercent.toFixed(0)}% of the ${cores} core(s) it could use (threshold ${t.cpuSharePercent}%)`);
  }
  if (r.loopDelayP99Ms > t.loopDelayP99Ms) {
    reasons.push(`event-loop delay p99 ${r.loopDelayP99Ms.toFixed(1)} ms (threshold ${t.loopDelayP99Ms} ms)`);
  }
  if (r.loopUtilization > t.loopUtilization) {
    reasons.push(`event loop busy ${(r.loopUtilization * 100).toFixed(0)}% of the time (threshold ${t.loopUtilization * 100}%)`);
  }
  return { saturated: reasons.length > 0, cores, cpuSharePercent, reasons };
}
