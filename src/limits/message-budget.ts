/**
 * Per-connection limits on inbound traffic: one budget shared by every message type (each type
 * has a cost), and a counter of protocol violations used to close sockets that keep erring.
 * Pure, like the token bucket: callers pass the time in.
 */
import { TokenBucket, type TokenBucketOptions } from './token-bucket.js';
import { VIOLATION_DEFAULTS } from '../defaults.js';

/**
 * Budget units per message type. Units are "roughly one cheap message of server work".
 *
 * - cursor 1, viewport 2: a client sending both at display rate (60 Hz) spends
 *   60 + 120 = 180 units/s, under MESSAGE_BUDGET.rate (200), so honest panning and pointing
 *   never hit the budget. Viewport costs more because it re-queries the viewport index.
 * - place 1 + 1 per pixel: paint *rate* is the per-IP paint bucket's job; this only bounds the
 *   decode/validate work, which grows with the pixels in the message.
 * - resume 20, hello 20: both make the server send the full state of every visible chunk, the
 *   most expensive thing a client can ask for; 20 caps that at 10 per second sustained.
 *
 * MESSAGE_BUDGET.burst (400) covers a reconnect (hello + resume + viewport = 42) and a couple
 * of seconds of fast panning on top.
 */
export const MESSAGE_COSTS = {
  place: 1,
  placePerPixel: 1,
  viewport: 2,
  cursor: 1,
  resume: 20,
  hello: 20,
  ping: 1,
} as const;

/** Default per-connection budget: units per second and capacity. */
export const MESSAGE_BUDGET = { rate: 200, burst: 400 } as const;

/** Cost of a place message carrying `pixels` pixels. */
export function placeCost(pixels: number, costs: typeof MESSAGE_COSTS = MESSAGE_COSTS): number {
  return costs.place + costs.placePerPixel * pixels;
}

/** One connection's budget across all message types; usually built with MESSAGE_BUDGET. */
export class MessageBudget {
  private readonly bucket: TokenBucket;

  constructor(opts: TokenBucketOptions, nowMs: number) {
    this.bucket = new TokenBucket(opts, nowMs);
  }

  /**
   * Spends `cost` units at `nowMs`. False (nothing spent) if the budget is short, including
   * forever for a cost above burst.
   */
  charge(cost: number, nowMs: number): boolean {
    return this.bucket.take(cost, nowMs) === 0;
  }

  /** Units available at `nowMs`. */
  peek(nowMs: number): number {
    return this.bucket.peek(nowMs);
  }
}

export interface ViolationCounterOptions {
  /** Length of the sliding window in ms. > 0. */
  windowMs: number;
  /** Violations tolerated within any window; one more is "exceeded". Integer >= 0. */
  max: number;
}


/**
 * Protocol violations within a sliding window: a violation at time t counts while now - t <
 * windowMs. Keeps only the newest max + 1 times in a preallocated ring, which is enough to
 * decide "exceeded" exactly; so the counts it reports are exact up to max + 1 and saturate there.
 */
export class ViolationCounter {
  readonly windowMs: number;
  readonly max: number;
  private readonly times: Float64Array;
  /** Index of the oldest kept time. */
  private head = 0;
  private len = 0;
  /** The latest time seen: the window never moves back, so an expired violation never returns. */
  private latest = -Infinity;

  constructor(opts: ViolationCounterOptions = VIOLATION_DEFAULTS) {
    if (!(Number.isFinite(opts.windowMs) && opts.windowMs > 0)) {
      throw new RangeError(`violation counter: windowMs must be a finite number > 0, got ${opts.windowMs}`);
    }
    if (!(Number.isInteger(opts.max) && opts.max >= 0)) {
      throw new RangeError(`violation counter: max must be an integer >= 0, got ${opts.max}`);
    }
    this.windowMs = opts.windowMs;
    this.max = opts.max;
    this.times = new Float64Array(opts.max + 1);
  }

  /** Records one violation at `nowMs`; returns the count within the window (capped at max + 1). */
  record(nowMs: number): number {
    const cap = this.times.length;
    // Keep the ring sorted when the clock steps back: count the violation at the newest time seen.
    const t = nowMs >= this.latest ? nowMs : this.latest;
    this.expire(t);
    if (this.len === cap) {
      // Full: the oldest leaves first anyway, and max + 1 already means exceeded.
      this.head = (this.head + 1) % cap;
      this.len--;
    }
    this.times[(this.head + this.len) % cap] = t;
    this.len++;
    return this.len;
  }

  /** Violations within the window ending at `nowMs` (capped at max + 1). */
  count(nowMs: number): number {
    this.expire(nowMs);
    return this.len;
  }



  /** True when more than `max` violations fall within the window ending at `nowMs`. */
  exceeded(nowMs: number): boolean {
    return this.count(nowMs) > this.max;
  }

  private expire(nowMs: number): void {
    if (nowMs > this.latest) this.latest = nowMs;
    const now = this.latest;
    const cap = this.times.length;
    while (this.len > 0 && now - this.times[this.head] >= this.windowMs) {
      this.head = (this.head + 1) % cap;
      this.len--;
    }
  }
}
