/**
 * A continuous-refill token bucket. Pure: the caller passes the time in on every call, so the
 * same code runs under the server's clock, a test's hand-advanced clock and a benchmark.
 *
 * State is three plain numbers; `take` allocates nothing.
 */

/** `take` returns this when the request can never succeed (cost > burst). */
export const NEVER = -1;

/**
 * Slack, in tokens, when comparing the balance with a cost. Float refill can land a hair under
 * an exact integer (e.g. 0.1 * 3 !== 0.3); without slack a request that an exact bucket accepts
 * would be refused for a few ulps. The most this can over-admit is EPSILON per accepted take,
 * i.e. one extra token per billion requests, which no client can exploit.
 */
export const EPSILON = 1e-9;

export interface TokenBucketOptions {
  /** Refill rate in tokens per second. Finite and > 0; may be fractional. */
  rate: number;
  /** Capacity in tokens. Finite and >= 1. The bucket starts full. */
  burst: number;
}

/** Throws a RangeError naming the bad field; called once at construction, never per take. */
export function validateBucketOptions(opts: TokenBucketOptions, what = 'bucket'): void {
  const { rate, burst } = opts;
  if (!(Number.isFinite(rate) && rate > 0)) {
    throw new RangeError(`${what}: rate must be a finite number > 0 (tokens/s), got ${rate}`);
  }
  if (!(Number.isFinite(burst) && burst >= 1)) {
    throw new RangeError(`${what}: burst must be a finite number >= 1 (tokens), got ${burst}`);
  }
}

/**
 * Milliseconds for an empty bucket to refill completely, rounded up: ceil(burst / rate * 1000).
 * After this long without a take a bucket is full, so forgetting it is unobservable.
 */
export function fullRefillMs(opts: TokenBucketOptions): number {
  return Math.ceil((opts.burst * 1000) / opts.rate);
}

export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  /** rate / 1000, so refill is one multiply. */
  private readonly ratePerMs: number;
  /** Balance as of `last`. Always in [0, burst]. */
  private tokens: number;
  /** Latest time seen. Never moves backwards. */
  private last: number;

  constructor(opts: TokenBucketOptions, nowMs: number) {
    validateBucketOptions(opts);
    this.rate = opts.rate;
    this.burst = opts.burst;
    this.ratePerMs = opts.rate / 1000;
    this.tokens = opts.burst;
    this.last = nowMs;
  }

  /**
   * Takes `cost` tokens at `nowMs`.
   * Returns 0 if accepted (tokens deducted); otherwise nothing is deducted and it returns the
   * whole number of ms, >= 1, after `nowMs` at which the same take would first succeed if
   * nothing else is taken meanwhile; or NEVER (-1) if cost > burst.
   *
   * Time is clamped: a `nowMs` earlier than one already seen (or NaN) refills nothing, so a
   * clock stepping back cannot mint tokens. Huge gaps just fill the bucket. `cost` must be a
   * number >= 0 (throws otherwise: a negative cost would add tokens).
   */
  take(cost: number, nowMs: number): number {
    if (!(cost >= 0)) throw new RangeError(`token bucket: cost must be >= 0, got ${cost}`);
    this.refill(nowMs);
    if (this.tokens + EPSILON >= cost) {
      const left = this.tokens - cost;
      this.tokens = left > 0 ? left : 0;
      return 0;
    }
    if (cost > this.burst) return NEVER;
    return this.waitFor(cost, nowMs);
  }

  /** Tokens available at `nowMs` (same clamping as `take`). Does not change the bucket. */
  peek(nowMs: number): number {
    return this.balanceAt(nowMs);
  }

  private refill(nowMs: number): void {
    if (nowMs > this.last) {
      this.tokens = this.balanceAt(nowMs);
      this.last = nowMs;
    }
  }

  /**
   * Balance at `t` without mutating. `refill` and `waitFor` both go through here, so the wait
   * promised by `waitFor` is checked with the very float operations a later `take` will do.
   */
  private balanceAt(t: number): number {
    if (!(t > this.last)) return this.tokens;
    const filled = this.tokens + (t - this.last) * this.ratePerMs;
    return filled < this.burst ? filled : this.burst;
  }

  /** Smallest whole w >= 1 with balanceAt(nowMs + w) enough for `cost`. Cold path. */
  private waitFor(cost: number, nowMs: number): number {
    // Exact-arithmetic estimate: the deficit refills by `last + deficit / ratePerMs`; measured
    // from the caller's `nowMs`, which may be behind `last` if its clock stepped back.
    const deficit = cost - EPSILON - this.tokens;
    let w = Math.ceil(this.last - nowMs + deficit / this.ratePerMs);
    if (!(w >= 1)) w = 1;
    // Float rounding can put the estimate one ms off either way; settle it against the same
    // arithmetic `take` will use. Bounded so absurd inputs cannot spin.
    for (let i = 0; i < 4 && this.balanceAt(nowMs + w) + EPSILON < cost; i++) w++;
    for (let i = 0; i < 4 && w > 1 && this.balanceAt(nowMs + w - 1) + EPSILON >= cost; i++) w--;
    return w;
  }
}
