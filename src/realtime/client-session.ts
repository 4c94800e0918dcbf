/**
 * Everything the server holds for one connected client. Every collection here is bounded by what the
 * client can see (chunks in its viewport, cursors in its viewport) or by a fixed limit, so a client can
 * never make the server hold an unbounded amount for it: that is the backpressure ceiling.
 */
import { type Transport, joinParts } from './transport.js';
import { ChunkKeySet } from '../chunks/chunk-key-set.js';
import type { ChunkRange, PixelRect } from '../subscriptions/viewport-index.js';
import { MessageBudget, ViolationCounter, TokenBucket } from '../limits/index.js';

/**
 * awaitingHello: upgraded, may only send HELLO.
 * ready: welcomed; may subscribe, place, move its cursor.
 * closed: gone; kept only by references that are about to drop it.
 */
export type SessionPhase = 'awaitingHello' | 'ready' | 'closed';

export interface SessionLimits {
  messageRate: number;
  messageBurst: number;
  cursorHz: number;
  viewportHz: number;
  maxViolations: number;
  violationWindowMs: number;
}

const NOTHING = new Uint8Array(0);
/** Slots of the reused write array kept between ticks; a longer one (a burst of snapshots) is dropped. */
const OUT_KEEP = 256;

export class ClientSession {
  phase: SessionPhase = 'awaitingHello';
  name = '';
  /** The name's UTF-8 bytes, encoded once for cursor records. */
  nameBytes: Uint8Array = new Uint8Array(0);
  /** The HELLO's session token as hex, or null when none was sent. */
  token: string | null = null;

  /**
   * Visible chunks whose current state must be sent as a snapshot (coalesced: one entry per chunk). Every
   * other visible chunk is held by the client at the store's version (or will be once written bytes arrive).
   * A ChunkKeySet: every pan fills it and the tick empties it, without a new hash table each time.
   */
  readonly needSnapshot = new ChunkKeySet();
  /** Versions from RESUME, consulted when the next viewport subscribes chunks; dropped after it. */
  resumeVersions: Map<number, number> | null = null;

  /**
   * Messages for this tick's single write: out[0..outCount). Already-encoded shared bytes (deltas, snapshots)
   * are referenced, not copied. The array is reused tick after tick (no garbage per client per tick); slots
   * past outCount are cleared so nothing written stays referenced.
   */
  out: Uint8Array[] = [];
  outCount = 0;
  outBytes = 0;
  /** Tick in which this session was last queued for a flush (avoids a Set per tick). */
  markedTick = -1;

  /** Above the high-water mark: gets no deltas or cursors until it drains. */
  stale = false;
  staleSince = 0;
  /** Past the hard limit or stalled too long: closed with 4001 at the end of this tick. */
  dropping = false;
  /** Tick in which the backpressure policy was last applied (it is applied once per tick). */
  pressureTick = -1;

  /** Level of detail of the subscribed view (0: full resolution); needSnapshot keys are chunks of this level. */
  level = 0;
  /** A viewport that arrived faster than the viewport rate: applied on a later tick (latest wins). */
  pendingViewport: PixelRect | null = null;
  pendingLevel = 0;
  /**
   * While a viewport is pending: the chunks present in every view the client sent since the last applied
   * one (null: none). The client may have dropped any chunk outside it, so those get snapshots on apply.
   */
  pendingKeep: ChunkRange | null = null;

  readonly budget: MessageBudget;
  readonly cursorBucket: TokenBucket;
  readonly viewportBucket: TokenBucket;
  readonly violations: ViolationCounter;
  helloTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly id: number,
    readonly ip: string,
    readonly transport: Transport,
    limits: SessionLimits,
    nowMs: number,
  ) {
    this.budget = new MessageBudget({ rate: limits.messageRate, burst: limits.messageBurst }, nowMs);
    this.cursorBucket = new TokenBucket({ rate: limits.cursorHz, burst: Math.max(1, Math.ceil(limits.cursorHz)) }, nowMs);
    this.viewportBucket = new TokenBucket({ rate: limits.viewportHz, burst: Math.max(1, Math.ceil(limits.viewportHz)) }, nowMs);
    this.violations = new ViolationCounter({ windowMs: limits.violationWindowMs, max: limits.maxViolations });
  }

  enqueue(bytes: Uint8Array): void {
    this.out[this.outCount++] = bytes;
    this.outBytes += bytes.length;
  }

  /** Forget what is queued (written, or the client is gone). */
  clearOut(): void {
    const out = this.out;
    const n = this.outCount;
    if (n > OUT_KEEP) this.out = []; // a burst's long array is not kept for ever
    else for (let i = 0; i < n; i++) out[i] = NOTHING;
    this.outCount = 0;
    this.outBytes = 0;
  }

  /** Join this tick's messages into one write (no copy when there is only one), and clear them. */
  takeOut(): Uint8Array | null {
    const n = this.outCount;
    if (n === 0) return null;
    const buf = joinParts(this.out, this.outBytes, n);
    this.clearOut();
    return buf;
  }
}
