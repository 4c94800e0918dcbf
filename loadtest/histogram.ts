/**
 * Latency histograms for the load test: hdr-histogram-js underneath, values recorded in microseconds
 * (integers, 3 significant digits), summaries reported in milliseconds.
 */
import { build, type Histogram } from 'hdr-histogram-js';

/** Percentiles of one histogram, in milliseconds. Every field is 0 for an empty histogram. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** One bar of a histogram chart: samples with fromMs <= value < toMs. */
export interface HistogramBin {
  fromMs: number;
  toMs: number;
  count: number;
}

/** One hour: anything slower is recorded as an hour (and is a failure anyway). */
const HIGHEST_US = 3_600_000_000;

export class LatencyHistogram {
  private readonly h: Histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
    autoResize: false,
  });
  private readonly logBins = new Float64Array(LOG_BINS);

  get count(): number {
    return this.h.totalCount;
  }

  /** Records one sample given in microseconds (negatives count as 0, fractions round). */
  recordUs(us: number): void {
    const v = Math.min(HIGHEST_US, Math.max(0, Math.round(us)));
    this.h.recordValue(v);
    this.logBins[binOf(v)]++;
  }

  recordMs(ms: number): void {
    this.recordUs(ms * 1000);
  }

  /** Records every sample of an array of microsecond values (what workers send). */
  recordAllUs(samples: ArrayLike<number>): void {
    for (let i = 0; i < samples.length; i++) this.recordUs(samples[i]!);
  }

  add(other: LatencyHistogram): void {
    this.h.add(other.h);
    for (let i = 0; i < LOG_BINS; i++) this.logBins[i] += other.logBins[i]!;
  }

  /** Value at a percentile (0..100), in ms; 0 when empty. */
  percentileMs(p: number): number {
    return this.h.totalCount === 0 ? 0 : this.h.getValueAtPercentile(p) / 1000;
  }

  summary(): LatencySummary {
    const h = this.h;
    if (h.totalCount === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
    const ms = (us: number): number => us / 1000;
    return {
      count: h.totalCount,
      mean: ms(h.mean),
      p50: ms(h.getValueAtPercentile(50)),
      p90: ms(h.getValueAtPercentile(90)),
      p99: ms(h.getValueAtPercentile(99)),
      p999: ms(h.getValueAtPercentile(99.9)),
      max: ms(h.maxValue),
    };
  }

  /**
   * Counts in log-spaced bins (BINS_PER_DECADE per factor of 10), trimmed to the span that holds samples,
   * for charts: latencies spread over decades, so linear bins would put nearly everything in the first.
   */
  bins(): HistogramBin[] {
    let first = 0;
    let last = this.logBins.length - 1;
    while (first <= last && this.logBins[first] === 0) first++;
    while (last >= first && this.logBins[last] === 0) last--;
    const out: HistogramBin[] = [];
    for (let i = first; i <= last; i++) {
      out.push({ fromMs: binEdgeUs(i) / 1000, toMs: binEdgeUs(i + 1) / 1000, count: this.logBins[i]! });
    }
    return out;
  }
}

/** Chart bins: 10 per decade from 1 µs to 10^10 µs; exact counts kept beside the HDR histogram. */
const BINS_PER_DECADE = 10;
const LOG_BINS = 10 * BINS_PER_DECADE;

function binOf(us: number): number {
  if (us < 1) return 0;
  return Math.min(LOG_BINS - 1, Math.floor(Math.log10(us) * BINS_PER_DECADE));
}

function binEdgeUs(i: number): number {
  return Math.pow(10, i / BINS_PER_DECADE);
}
