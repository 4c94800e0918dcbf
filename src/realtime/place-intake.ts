/**
 * Every check a PLACE goes through, each made once and in this order, before it reaches the seam:
 *
 *   1. shape and size — no pixels, more than --max-place-batch, or costing more than the whole message
 *      budget: BATCH_TOO_LARGE (a PLACE that can never pass is never a RATE_LIMITED whose retry would not help);
 *   2. the client's message budget (its cost grows with its size) — RATE_LIMITED with a retry-after;
 *   3. the room shutting down — INTERNAL;
 *   4. bounds and colour of every pixel — the whole batch is refused for one bad pixel, never half-applied;
 *   5. the moderation guard (bans by identity, address key or name, read-only; injected as a `PlaceGuard`) —
 *      BANNED / READ_ONLY;
 *   6. the per-IP paint bucket — RATE_LIMITED with a retry-after (BATCH_TOO_LARGE if it can never fit).
 *
 * A refusal is answered with PLACE_RESULT in the client's next write, without touching the seam; an accepted
 * batch becomes placement records submitted to the seam, committed and answered by the tick
 * (./commit-stage.ts). Moderation writes enter the seam here too, with no one to answer.
 */
import type { ServerConfig } from '../config.js';
import type { ChunkStore } from '../chunks/chunk-store.js';
import { IpLimiter, MESSAGE_COSTS, NEVER } from '../limits/index.js';
import type { ServerMetrics } from '../metrics.js';
import { ErrorCode, encodePlaceResult, type ErrorCodeName, type Place } from '../net/protocol.js';
import { MODERATION_CLIENT_ID, type PlacementRecord } from '../storage/canvas-storage.js';
import type { ReadySession } from './client-session.js';
import type { Outbox } from './outbox.js';
import type { PlacementSeam } from './placement-seam.js';

/**
 * Moderation's say on a client (src/admin: bans and the read-only switch). `ip` is the client's address
 * key (src/net/client-address.ts), `identity` its painter identity (src/storage/painter-identity.ts).
 */
export interface PlaceGuard {
  /** Why placements from this painter are refused now, or null to let them through. */
  refusal(ip: string, name: string, identity: string): ErrorCodeName | null;
  /** Whether this painter is banned, so its cursor and name are shown to no one (read-only silences nobody). */
  silenced?(ip: string, name: string, identity: string): boolean;
}

export interface PlaceIntakeDeps {
  config: Pick<ServerConfig, 'maxPlaceBatch' | 'messageRate' | 'messageBurst' | 'paintRate' | 'paintBurst'>;
  store: ChunkStore;
  seam: PlacementSeam;
  metrics: Pick<ServerMetrics, 'pixelsRejected'>;
  outbox: Outbox;
  guard?: PlaceGuard;
  /** Wall clock for the records' timestamps (ms since epoch). */
  now: () => number;
  wake: () => void;
}

export class PlaceIntake {
  private readonly paint: IpLimiter;

  constructor(private readonly deps: PlaceIntakeDeps) {
    this.paint = new IpLimiter({ rate: deps.config.paintRate, burst: deps.config.paintBurst });
  }

  /** One PLACE from a welcomed client, at `t` (performance.now()): refused, or submitted to the seam. */
  take(s: ReadySession, msg: Place, t: number): void {
    const { config, store, outbox } = this.deps;
    const n = msg.pixels.length;
    const cost = MESSAGE_COSTS.place + MESSAGE_COSTS.placePerPixel * n;
    if (n === 0 || n > config.maxPlaceBatch || cost > config.messageBurst) return this.refuse(s, msg, 'BATCH_TOO_LARGE', 0);
    if (!s.budget.charge(cost, t)) {
      const short = cost - s.budget.peek(t);
      return this.refuse(s, msg, 'RATE_LIMITED', Math.max(1, (short / config.messageRate) * 1000));
    }
    if (outbox.stopped) return this.refuse(s, msg, 'INTERNAL', 0); // shutting down: nothing more will be committed
    for (const p of msg.pixels) {
      const bad = store.check(p.x, p.y, p.color);
      if (bad) return this.refuse(s, msg, bad, 0);
    }
    const refused = this.deps.guard?.refusal(s.ip, s.name, s.identity) ?? null;
    if (refused !== null) return this.refuse(s, msg, refused, 0);
    const wait = this.paint.take(s.ip, n, performance.now());
    if (wait !== 0) return this.refuse(s, msg, wait === NEVER ? 'BATCH_TOO_LARGE' : 'RATE_LIMITED', wait === NEVER ? 0 : wait);
    const time = this.deps.now();
    const records: PlacementRecord[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const p = msg.pixels[i]!;
      records[i] = { x: p.x, y: p.y, color: p.color, time, clientId: s.id, name: s.name, ip: s.ip, identity: s.identity };
    }
    this.deps.seam.submit(records, { clientId: s.id, seq: msg.seq, count: n, token: s.token });
    this.deps.wake();
  }

  /**
   * The address's paint allowance now (for WELCOME's ALLOWANCE record): whole pixels, and ms until the next
   * one. Peeks, so a connection that never paints does not keep the bucket alive.
   */
  allowance(ip: string, t: number): { tokens: number; nextMs: number } {
    const have = this.paint.peek(ip, t);
    const tokens = Math.min(this.paint.burst, Math.floor(have + 1e-9));
    const nextMs = tokens >= this.paint.burst ? 0 : Math.max(1, ((tokens + 1 - have) / this.paint.rate) * 1000);
    return { tokens, nextMs };
  }

  /** What the guard says now for this painter (null: let through, or no guard). */
  refusal(ip: string, name: string, identity = ''): ErrorCodeName | null {
    return this.deps.guard?.refusal(ip, name, identity) ?? null;
  }

  /** Whether a ban keeps this session's cursor and name from everyone (./inbound.ts, CanvasRoom.silenceBanned). */
  silenced(s: ReadySession): boolean {
    return this.deps.guard?.silenced?.(s.ip, s.name, s.identity) ?? false;
  }

  /** Moderation writes (src/admin): through the seam and the tick like any placement, with no one to answer. */
  submitModeration(records: PlacementRecord[]): void {
    if (this.deps.outbox.stopped) throw new Error('the room is shutting down');
    if (records.length === 0) return;
    this.deps.seam.submit(records, { clientId: MODERATION_CLIENT_ID, seq: 0, count: records.length });
    this.deps.wake();
  }

  private refuse(s: ReadySession, msg: Place, code: ErrorCodeName, retryAfterMs: number): void {
    this.deps.metrics.pixelsRejected.inc({ reason: code }, msg.pixels.length);
    s.enqueue(encodePlaceResult(msg.seq, ErrorCode[code], msg.pixels.length, retryAfterMs));
    this.deps.outbox.mark(s);
    this.deps.wake();
  }
}
