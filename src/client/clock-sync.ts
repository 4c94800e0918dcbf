/**
 * NTP-style estimate of the server clock from PING/PONG round trips: each sample gives
 * offset = serverTime − (sent + received) / 2 (local ms), wrong by at most half its round trip. The estimate
 * is the median offset of the samples whose round trip is close to the quickest one (NTP's clock filter: a
 * PING that waited behind a burst of snapshots, or a PONG handled late by a busy page, has a long round trip
 * and a lopsided delay; a quick one cannot be far off). Pure: the caller supplies local times.
 */

export interface ClockSample {
  offset: number;
  rtt: number;
}

/** Samples kept (half a minute at one a second): old ones age out, so a drifting clock is followed, and enough stay for a quick one to be among them on a busy machine. */
export const CLOCK_WINDOW = 32;
/** Samples needed before the estimate counts as synced: the whole first burst (a page and a server busy starting up give the first few lopsided round trips). */
export const MIN_SAMPLES = 8;

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Round trips within this much of the quickest are kept: max(1 ms, half the quickest). */
export function rttSlack(minRtt: number): number {
  return Math.max(1, minRtt / 2);
}

/** The estimate from a set of samples: the median offset of those whose round trip is within rttSlack of the quickest. */
/**
 * The estimate from a set of samples: the median offset of those whose round trip is within rttSlack of the
 * quickest. `bound` is how far the estimate can be from the true offset whatever the network and the two
 * event loops did: each sample's offset is wrong by at most half its own round trip (the delays out and back
 * are both inside it), so the median of the kept ones is wrong by at most half the longest kept round trip.
 */
export function estimateOffset(samples: readonly ClockSample[]): { offset: number; rtt: number; bound: number } {
  if (samples.length === 0) return { offset: 0, rtt: Number.NaN, bound: Number.POSITIVE_INFINITY };
  let minRtt = Infinity;
  for (const s of samples) minRtt = Math.min(minRtt, s.rtt);
  const keep = samples.filter((s) => s.rtt <= minRtt + rttSlack(minRtt));
  let maxKept = 0;
  for (const s of keep) maxKept = Math.max(maxKept, s.rtt);
  return { offset: median(keep.map((s) => s.offset)), rtt: median(keep.map((s) => s.rtt)), bound: maxKept / 2 };
}

export class ClockSync {
  private samples: ClockSample[] = [];
  /** server ≈ local + offset (ms). 0 until the first sample. */
  offset = 0;
  /** Median round trip of the samples used, ms. */
  rtt = Number.NaN;
  /** The estimate is within this many ms of the true offset (half the longest round trip it was taken from). */
  bound = Number.POSITIVE_INFINITY;

  constructor(private readonly window = CLOCK_WINDOW) {}

  get sampleCount(): number {
    return this.samples.length;
  }

  get synced(): boolean {
    return this.samples.length >= MIN_SAMPLES;
  }

  /** One round trip: sent and received on the local clock, serverTime from the PONG. Ignores nonsense. */
  add(sentLocal: number, serverTime: number, receivedLocal: number): void {
    const rtt = receivedLocal - sentLocal;
    if (!(rtt >= 0) || !Number.isFinite(serverTime)) return;
    this.samples.push({ offset: serverTime - (sentLocal + receivedLocal) / 2, rtt });
    if (this.samples.length > this.window) this.samples.shift();
    const e = estimateOffset(this.samples);
    this.offset = e.offset;
    this.rtt = e.rtt;
    this.bound = e.bound;
  }

  reset(): void {
    this.samples = [];
    this.offset = 0;
    this.rtt = Number.NaN;
    this.bound = Number.POSITIVE_INFINITY;
  }
}
