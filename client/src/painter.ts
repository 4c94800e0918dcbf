/**
 * Optimistic painting: a click shows its colour at once and is remembered by PLACE seq; a refusal puts back
 * what the replica (the server's truth) holds. Also keeps the cooldown: the server's retryAfterMs when it
 * refused, and between refusals a client-side estimate from the announced paint rate and burst.
 */
import { CHUNK_SHIFT, CHUNK_SIZE } from '../../src/chunks/geometry.js';
import type { CanvasClient, PlaceResult, Welcome } from '../../src/client/canvas-client.js';
import { ErrorCode } from '../../src/net/protocol.js';

interface PendingPixel {
  x: number;
  y: number;
  color: number;
  /** What the pixel showed before, for when the replica no longer holds its chunk. */
  previous: number;
  /** Whole pixels the cooldown estimate had when this was sent. */
  had: number;
}

export interface PainterHooks {
  show(x: number, y: number, color: number): void;
  notify(text: string): void;
  cooldownChanged(): void;
}

/**
 * The paint bucket as the server runs it (per address, so only an estimate here: other tabs on the same
 * address share it), corrected whenever the server says how long to wait.
 */
export class CooldownEstimate {
  private tokens = 0;
  private at = 0;
  private rate = 1;
  private burst = 1;
  /** performance.now() until which the server told us to wait. */
  private serverUntil = 0;
  private initialised = false;

  /**
   * Adopts the limits of a WELCOME. A reconnect to a server with the same limits keeps the estimate and any
   * wait the server imposed (the bucket is the server's, per address: a new connection does not refill it).
   */
  reset(rate: number, burst: number, now: number): void {
    rate = rate > 0 ? rate : 1;
    burst = Math.max(1, burst);
    if (this.initialised && rate === this.rate && burst === this.burst) return;
    this.initialised = true;
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.at = now;
    this.serverUntil = 0;
  }

  /**
   * The server's word on the address's bucket at WELCOME (its ALLOWANCE record): whole pixels now and ms to
   * the next one. Overrides the estimate, so a new tab does not claim a burst another tab already spent.
   */
  seed(tokens: number, nextMs: number, now: number): void {
    this.refill(now);
    this.tokens = Math.min(this.burst, nextMs > 0 ? tokens + 1 - (nextMs / 1000) * this.rate : tokens);
    this.at = now;
  }

  /** True when the estimate says the bucket is full (nothing left to count down). */
  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
  }

  spend(now: number): void {
    this.refill(now);
    this.tokens -= 1;
  }

  /** A pixel the server refused without spending a token (a ban, a read-only canvas): give it back. */
  refund(now: number): void {
    this.refill(now);
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }

  /** The server refused for retryAfterMs: the bucket is short of one pixel by exactly that. */
  serverWait(retryAfterMs: number, now: number): void {
    this.serverUntil = now + retryAfterMs;
    this.tokens = 1 - (retryAfterMs / 1000) * this.rate;
    this.at = now;
  }

  /** Milliseconds until the server said we may paint (0 once passed). */
  serverRemaining(now: number): number {
    return Math.max(0, this.serverUntil - now);
  }

  /** Milliseconds until one pixel is likely available. */
  remaining(now: number): number {
    this.refill(now);
    const estimate = this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.rate) * 1000;
    return Math.max(this.serverRemaining(now), estimate);
  }

  /** Whole pixels likely available now. */
  available(now: number): number {
    this.refill(now);
    return Math.max(0, Math.floor(this.tokens));
  }
}

/** The server refused this painter outright (not a wait): what the last refusal said, until a pixel is accepted. */
export type PaintRefusal = 'banned' | 'read-only';

export class Painter {
  readonly cooldown = new CooldownEstimate();
  private readonly pending = new Map<number, PendingPixel>();
  private client: CanvasClient | null = null;
  /** Set by a BANNED or READ_ONLY answer; cleared by the next accepted pixel (a ban lifted, painting resumed). */
  refusal: PaintRefusal | null = null;

  constructor(private readonly hooks: PainterHooks) {}

  use(client: CanvasClient): void {
    this.abandonAll();
    this.client = client;
  }

  onWelcome(w: Welcome): void {
    const now = performance.now();
    this.cooldown.reset(w.limits.paintRate, w.limits.paintBurst, now);
    if (w.allowance) this.cooldown.seed(w.allowance.tokens, w.allowance.nextMs, now);
    this.hooks.cooldownChanged();
  }

  /** Paints pixel (x, y); false when nothing was sent. */
  paint(x: number, y: number, color: number): boolean {
    const client = this.client;
    const w = client?.welcome;
    if (client === null || w === null || w === undefined) return false;
    if (!(x >= 0 && y >= 0 && x < w.width && y < w.height)) return false;
    const now = performance.now();
    const wait = this.cooldown.serverRemaining(now);
    if (wait > 0) {
      this.hooks.notify(`Cooldown: ${formatSeconds(wait)} left.`);
      return false;
    }
    const previous = this.colourAt(x, y) ?? w.background;
    if (previous === color) return false; // nothing would change; keep the pixel for later
    const seq = client.place(x, y, color);
    if (seq === 0) {
      this.hooks.notify('Not connected: your pixel was not sent.');
      return false;
    }
    this.pending.set(seq, { x, y, color, previous, had: this.cooldown.available(now) });
    this.cooldown.spend(now);
    this.hooks.show(x, y, color);
    this.hooks.cooldownChanged();
    return true;
  }

  /**
   * A PLACE_RESULT. For a RATE_LIMITED refusal, says which limit it most likely was: the server answers
   * RATE_LIMITED both for the paint cooldown and for the per-connection message budget (sending too much,
   * too fast). When the estimate still had pixels to spare, the cooldown was not the reason.
   */
  onResult(r: PlaceResult): 'cooldown' | 'budget' | null {
    const p = this.pending.get(r.seq);
    if (p === undefined) return null;
    this.pending.delete(r.seq);
    if (r.status === ErrorCode.OK) {
      // The delta in the same write carries the colour for real.
      if (this.refusal !== null) {
        this.refusal = null;
        this.hooks.cooldownChanged();
      }
      return null;
    }
    this.revert(p);
    if (r.status === ErrorCode.BANNED || r.status === ErrorCode.READ_ONLY) {
      this.refusal = r.status === ErrorCode.BANNED ? 'banned' : 'read-only';
      this.cooldown.refund(performance.now()); // neither spends a paint token on the server
    }
    let why: 'cooldown' | 'budget' | null = null;
    if (r.status === ErrorCode.RATE_LIMITED) {
      why = p.had >= 2 ? 'budget' : 'cooldown';
      if (why === 'cooldown' && r.retryAfterMs > 0) this.cooldown.serverWait(r.retryAfterMs, performance.now());
    }
    this.hooks.cooldownChanged();
    return why;
  }

  /** The connection dropped: answers will never come, so show the server's state again. */
  abandonAll(): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) this.revert(p);
  }

  /** Writes the pending colours of chunk (cx, cy), oldest first, for a renderer redrawing it whole. */
  overlay(cx: number, cy: number, write: (offset: number, color: number) => void): void {
    for (const p of this.pending.values()) {
      if (p.x >>> CHUNK_SHIFT === cx && p.y >>> CHUNK_SHIFT === cy) {
        write(((p.y & (CHUNK_SIZE - 1)) << CHUNK_SHIFT) | (p.x & (CHUNK_SIZE - 1)), p.color);
      }
    }
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  private revert(p: PendingPixel): void {
    this.hooks.show(p.x, p.y, this.colourAt(p.x, p.y) ?? p.previous);
  }

  /** What the pixel shows: the newest pending colour, else the replica's. */
  private colourAt(x: number, y: number): number | undefined {
    let shown: number | undefined;
    for (const p of this.pending.values()) if (p.x === x && p.y === y) shown = p.color;
    return shown ?? this.client?.replica.get(x, y);
  }
}

/** For people: whole seconds, rounded up ("1 s", "42 s", "3 min 20 s"). */
export function formatSeconds(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** "850 ms", "12.5 s", "3 min 20 s". */
export function formatWait(ms: number): string {
  if (ms < 1000) return `${Math.ceil(ms)} ms`;
  if (ms < 60_000) return `${(Math.ceil(ms / 100) / 10).toFixed(1)} s`;
  const s = Math.ceil(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}
