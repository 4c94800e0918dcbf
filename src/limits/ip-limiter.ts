/**
 * Per-IP limits: a paint token bucket per address, and a count of open connections per address.
 * Both are bounded, so a flood of distinct (e.g. spoofed or IPv6) addresses cannot grow memory.
 */
import { LRUCache } from 'lru-cache';
import { TokenBucket, fullRefillMs, validateBucketOptions } from './token-bucket.js';
import { IP_LIMITER_DEFAULTS } from '../defaults.js';

export interface IpLimiterOptions {
  /** Paint tokens per second per IP. */
  rate: number;
  /** Paint bucket capacity per IP. */
  burst: number;
  /** Most buckets kept at once. Default IP_LIMITER_DEFAULTS.maxEntries. */
  maxEntries?: number;
  /**
   * Forget a bucket after this many ms without a take. Default and minimum: the time to refill
   * from empty, fullRefillMs(rate, burst) + 1 (see the constructor for why).
   */
  idleMs?: number;
}


/**
 * Paint rate limit per IP: `take(ip, cost, nowMs)` has exactly TokenBucket.take's semantics
 * (0 = accepted, else ms to wait, or NEVER) as long as the IP's bucket stays cached.
 *
 * lru-cache measures TTLs with its own clock; we hand it ours, so time still only comes from
 * callers. That clock is monotonic (max of the times seen), like the buckets'. (If the caller's
 * clock steps back, "idle" is judged on that monotonic clock, not on the stepped-back time.)
 */
export class IpLimiter {
  readonly rate: number;
  readonly burst: number;
  readonly maxEntries: number;
  readonly idleMs: number;
  private readonly bucketOpts: { rate: number; burst: number };
  private readonly buckets: LRUCache<string, TokenBucket>;
  /** First time seen; lru-cache's clock counts from it. NaN until the first call. */
  private epoch = Number.NaN;
  /**
   * lru-cache's clock: 1 + ms since `epoch`, never decreasing. It must never be 0: lru-cache
   * stores a start time of 0 as "no TTL", which would make that entry immortal.
   */
  private clock = 1;

  constructor(opts: IpLimiterOptions) {
    validateBucketOptions(opts, 'ip limiter');
    const maxEntries = opts.maxEntries ?? IP_LIMITER_DEFAULTS.maxEntries;
    if (!(Number.isInteger(maxEntries) && maxEntries >= 1)) {
      throw new RangeError(`ip limiter: maxEntries must be an integer >= 1, got ${maxEntries}`);
    }
    // Dropping an idle bucket and later creating a fresh (full) one is invisible only if the
    // dropped bucket would have been full anyway, i.e. it idled at least as long as an empty
    // bucket takes to refill. A shorter ttl would hand an IP a full burst early, so refuse it.
    // +1 ms of slack so float refill of exactly that span surely reaches `burst`.
    const minIdleMs = fullRefillMs(opts) + 1;
    const idleMs = opts.idleMs === undefined ? minIdleMs : Math.ceil(opts.idleMs);
    if (!(idleMs >= minIdleMs)) {
      throw new RangeError(
        `ip limiter: idleMs must be >= ${minIdleMs} (time to refill burst ${opts.burst} at ` +
          `${opts.rate}/s), got ${opts.idleMs}; a shorter idle time would reset buckets early`,
      );
    }
    this.rate = opts.rate;
    this.burst = opts.burst;
    this.maxEntries = maxEntries;
    this.idleMs = idleMs;
    this.bucketOpts = { rate: opts.rate, burst: opts.burst };
    this.buckets = new LRUCache<string, TokenBucket>({
      // A count bound through maxSize (each entry size 1), not `max`: `max` preallocates arrays for every
      // slot (~3 MB at 100,000), which a server with a few hundred addresses would hold for nothing.
      maxSize: maxEntries,
      sizeCalculation: () => 1,
      ttl: idleMs,
      // Each take re-arms the idle timer: an entry expires only `idleMs` after its last take.
      updateAgeOnGet: true,
      // No autopurge (it would run real timers); stale entries go when touched, when LRU
      // pushes them out, or on prune(). Resolution 0: read our clock every time, no timers.
      ttlResolution: 0,
      perf: { now: () => this.clock },
    });
  }

  /** Same contract as TokenBucket.take, per IP. */
  take(ip: string, cost: number, nowMs: number): number {
    this.advance(nowMs);
    let bucket = this.buckets.get(ip);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.bucketOpts, nowMs);
      this.buckets.set(ip, bucket);
    }
    return bucket.take(cost, nowMs);
  }

  /** Tokens an IP has at `nowMs` (burst if unknown). Does not touch recency or idle time. */
  peek(ip: string, nowMs: number): number {
    this.advance(nowMs);
    const bucket = this.buckets.peek(ip);
    return bucket === undefined ? this.burst : bucket.peek(nowMs);
  }

  /** Drops every bucket idle longer than idleMs. Optional: for a periodic sweep. */
  prune(nowMs: number): void {
    this.advance(nowMs);
    this.buckets.purgeStale();
  }

  /** Buckets held, including idle ones not yet pruned. Always <= maxEntries. */
  get size(): number {
    return this.buckets.size;
  }

  private advance(nowMs: number): void {
    if (this.epoch !== this.epoch) this.epoch = nowMs; // first call (NaN check)
    const t = 1 + (nowMs - this.epoch);
    if (t > this.clock) this.clock = t;
  }
}

export interface ConnectionCounterOptions {
  /** Most simultaneous connections one IP may hold. Integer >= 1. */
  maxPerIp: number;
}

/**
 * Open connections per IP. An entry exists only while its count is > 0, so the map's size is
 * at most the number of open sockets, which the server bounds separately.
 */
export class ConnectionCounter {
  readonly maxPerIp: number;
  private readonly counts = new Map<string, number>();
  private open = 0;

  constructor(opts: ConnectionCounterOptions) {
    if (!(Number.isInteger(opts.maxPerIp) && opts.maxPerIp >= 1)) {
      throw new RangeError(`connection counter: maxPerIp must be an integer >= 1, got ${opts.maxPerIp}`);
    }
    this.maxPerIp = opts.maxPerIp;
  }

  /** Counts one more connection for `ip` unless it already holds maxPerIp. */
  tryAcquire(ip: string): boolean {
    const n = this.counts.get(ip) ?? 0;
    if (n >= this.maxPerIp) return false;
    this.counts.set(ip, n + 1);
    this.open++;
    return true;
  }

  /**
   * Gives back one connection. Returns false (and changes nothing) if `ip` held none, so a
   * double release from a close handler cannot drive a count negative.
   */
  release(ip: string): boolean {
    const n = this.counts.get(ip);
    if (n === undefined) return false;
    if (n <= 1) this.counts.delete(ip);
    else this.counts.set(ip, n - 1);
    this.open--;
    return true;
  }

  count(ip: string): number {
    return this.counts.get(ip) ?? 0;
  }

  /** Connections held across all IPs. */
  get total(): number {
    return this.open;
  }

  /** Distinct IPs holding at least one connection. */
  get ips(): number {
    return this.counts.size;
  }
}
