/**
 * Merges the fleets' per-second intervals on the main thread: run totals, one latency histogram for the
 * whole window and one per second (for the chart), the latest gauges of each fleet, and errors by kind.
 * Counts only measured intervals; errors and connection failures count from the first connect.
 */
import type { FleetInterval } from './fleet.js';
import { LatencyHistogram } from './histogram.js';

/** The interval counters summed over the run: the same fields a fleet reports each second. */
const TOTAL_KEYS = [
  'placed', 'accepted', 'rejected', 'unseen', 'abandoned', 'skipped', 'frames', 'bytes', 'deltas',
  'deltaPixels', 'snapshots', 'cursorMessages', 'panLoadsAbandoned', 'disconnects', 'cursorBytes', 'lodBytes',
  'framesSent', 'writes',
] as const satisfies readonly (keyof FleetInterval)[];
export type Totals = Pick<FleetInterval, (typeof TOTAL_KEYS)[number]>;

/** One second of the measured window, merged over the fleets that reported it. */
export interface SecondBucket {
  latency: LatencyHistogram;
  placed: number;
  accepted: number;
  bytes: number;
  frames: number;
  deltas: number;
  connected: number;
  fleets: number;
}

function zeroTotals(): Totals {
  return Object.fromEntries(TOTAL_KEYS.map((k) => [k, 0])) as Totals;
}

export class Collector {
  readonly latency = new LatencyHistogram();
  readonly panLoad = new LatencyHistogram();
  readonly totals: Totals = zeroTotals();
  readonly seconds = new Map<number, SecondBucket>();
  readonly errorsByKind: Record<string, number> = {};
  connectFailures = 0;
  /** Handshakes refused with 503 (not failures: the server answered); from the first connect. */
  connectRefused503 = 0;
  /** Worst event-loop delay p99 any fleet reported while measuring, in ms. */
  loopDelayP99Ms = 0;
  loopDelayMaxMs = 0;
  /** Per fleet: the sum of its measured intervals' event-loop utilisation and how many there were. */
  private readonly eluSum: number[];
  private readonly eluCount: number[];
  /** Latest interval of each fleet, for the progress line. */
  readonly latest: Array<FleetInterval | undefined>;

  constructor(fleets: number) {
    this.latest = new Array(fleets).fill(undefined);
    this.eluSum = new Array(fleets).fill(0);
    this.eluCount = new Array(fleets).fill(0);
  }

  add(iv: FleetInterval): void {
    this.latest[iv.fleetIndex] = iv;
    this.connectFailures += iv.connectFailures;
    this.connectRefused503 += iv.connectRefused503 ?? 0;
    for (const [k, n] of Object.entries(iv.errors)) this.errorsByKind[k] = (this.errorsByKind[k] ?? 0) + n;
    if (iv.index < 0) return;
    this.loopDelayP99Ms = Math.max(this.loopDelayP99Ms, iv.loopDelayP99Ms);
    this.loopDelayMaxMs = Math.max(this.loopDelayMaxMs, iv.loopDelayMaxMs);
    this.eluSum[iv.fleetIndex] = (this.eluSum[iv.fleetIndex] ?? 0) + iv.loopUtilization;
    this.eluCount[iv.fleetIndex] = (this.eluCount[iv.fleetIndex] ?? 0) + 1;
    for (const k of TOTAL_KEYS) this.totals[k] += iv[k];
    this.latency.recordAllUs(iv.latencyUs);
    this.panLoad.recordAllUs(iv.panLoadUs);
    let b = this.seconds.get(iv.index);
    if (b === undefined) {
      b = { latency: new LatencyHistogram(), placed: 0, accepted: 0, bytes: 0, frames: 0, deltas: 0, connected: 0, fleets: 0 };
      this.seconds.set(iv.index, b);
    }
    b.latency.recordAllUs(iv.latencyUs);
    b.placed += iv.placed;
    b.accepted += iv.accepted;
    b.bytes += iv.bytes;
    b.frames += iv.frames;
    b.deltas += iv.deltas;
    b.connected += iv.connected;
    b.fleets++;
  }

  /** Event-loop utilisation of the busiest fleet thread over the measured window (0..1). */
  get loopUtilization(): number {
    let max = 0;
    for (let i = 0; i < this.eluSum.length; i++) if (this.eluCount[i]! > 0) max = Math.max(max, this.eluSum[i]! / this.eluCount[i]!);
    return max;
  }

  /** Users open now, per the latest intervals. */
  get connected(): number {
    let n = 0;
    for (const iv of this.latest) n += iv?.connected ?? 0;
    return n;
  }

  /** Users that got a WELCOME at least once. */
  get everConnected(): number {
    let n = 0;
    for (const iv of this.latest) n += iv?.everConnected ?? 0;
    return n;
  }

  get errorCount(): number {
    let n = 0;
    for (const v of Object.values(this.errorsByKind)) n += v;
    return n;
  }

  /** Per-second rate of one counter over the latest interval of every fleet. */
  latestRate(field: 'placed' | 'accepted' | 'bytes' | 'deltas'): number {
    let r = 0;
    for (const iv of this.latest) if (iv && iv.seconds > 0) r += iv[field] / iv.seconds;
    return r;
  }
}
