/**
 * Everything the server holds for one connected client, as one value per phase of its life:
 *
 *   awaitingHello — upgraded, may only send HELLO (and holds the timer that closes it if it never does);
 *   ready         — welcomed, with its name and session token; may subscribe, place, move its cursor;
 *   closed        — gone; kept only by references that are about to drop it.
 *
 * A session moves between phases only through `openSession`, `welcomeSession` and `closeSession`. Every
 * collection here is bounded by what the client can see (chunks in its viewport, cursors in its viewport)
 * or by a fixed limit, so a client can never make the server hold an unbounded amount for it: that is the
 * backpressure ceiling.
 */
import { type Transport, joinParts } from './transport.js';
import { ChunkKeySet } from '../chunks/chunk-key-set.js';
import type { ChunkRange, PixelRect } from '../subscriptions/viewport-index.js';
import { PROTOCOL_VERSION } from '../net/protocol.js';
import { MessageBudget, ViolationCounter, TokenBucket } from '../limits/index.js';

export type SessionPhase = 'awaitingHello' | 'ready' | 'closed';

export interface SessionLimits {
  messageRate: number;
  messageBurst: number;
  cursorHz: number;
  viewportHz: number;
  maxViolations: number;
  violationWindowMs: number;
}

/** A viewport that arrived faster than the viewport rate: applied on a later tick (latest wins). */
export interface PendingViewport {
  readonly rect: PixelRect;
  readonly level: number;
  /**
   * The chunks present in every view the client sent since the last applied one (null: none). The client
   * may have dropped any chunk outside it, so those get snapshots on apply.
   */
  readonly keep: ChunkRange | null;
}

const NOTHING = new Uint8Array(0);
/** Slots of the reused write array kept between ticks; a longer one (a burst of snapshots) is dropped. */
const OUT_KEEP = 256;

/** What a session holds in every phase: its write queue, its rate buckets, its subscription state. */
export class SessionCore {
  /** The name's UTF-8 bytes, encoded once for cursor records (empty until HELLO). */
  nameBytes: Uint8Array = NOTHING;

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
  /** Tick in which this session was last queued for a write (avoids a Set per tick). */
  markedTick = -1;

  /** Above the high-water mark: gets no deltas or cursors until it drains. */
  stale = false;
  staleSince = 0;
  /** Past the hard limit or stalled too long: closed with 4001 at the end of this tick. */
  dropping = false;
  /** Tick in which the backpressure policy was last applied (it is applied once per tick). */
  pressureTick = -1;

  /**
   * The protocol version agreed in HELLO (./protocol-version.ts): which opcodes and fields this client may be
   * sent or may send. The current version until HELLO.
   */
  protocolVersion: number = PROTOCOL_VERSION;
  /** Overload policy (./overload.ts): tick clock until which it counts as fast (it just placed). */
  fastUntil = 0;
  /** Tick in which it is written whatever its cadence (its PLACE answered, or carried from a full tick). */
  dueTick = -1;
  /**
   * Overload policy: its view is close up (a few chunks at full resolution), so the changes it gets are
   * what its user is looking at: kept as fast as one that just placed.
   */
  zoomedIn = false;
  /** When the oldest view whose snapshots are still owed was applied (0: none), for pan→snapshot latency. */
  panAt = 0;

  /** Level of detail of the subscribed view (0: full resolution); needSnapshot keys are chunks of this level. */
  level = 0;
  pendingViewport: PendingViewport | null = null;

  readonly budget: MessageBudget;
  readonly cursorBucket: TokenBucket;
  readonly viewportBucket: TokenBucket;
  readonly violations: ViolationCounter;

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

export interface AwaitingHello extends SessionCore {
  readonly phase: 'awaitingHello';
  /** Closes the connection if no HELLO comes in time. */
  readonly helloTimer: NodeJS.Timeout | null;
}

export interface ReadySession extends SessionCore {
  readonly phase: 'ready';
  readonly name: string;
  /** The HELLO's session token as hex, or null when none was sent. */
  readonly token: string | null;
  /** Who this painter is to moderation (src/storage/painter-identity.ts): its token, hashed; per connection without one. */
  readonly identity: string;
}

export interface ClosedSession extends SessionCore {
  readonly phase: 'closed';
}

export type ClientSession = AwaitingHello | ReadySession | ClosedSession;

/**
 * The one runtime shape behind the three phases: every field exists from the start, so the tick's hot loops
 * see a single object shape whatever phase a session is in. Only the transitions below write these fields.
 */
class Session extends SessionCore {
  phase: SessionPhase = 'awaitingHello';
  helloTimer: NodeJS.Timeout | null = null;
  name = '';
  token: string | null = null;
  identity = '';
}

/** A new connection, awaiting its HELLO; `helloTimeout` fires if it never comes (cleared by either transition). */
export function openSession(
  id: number, ip: string, transport: Transport, limits: SessionLimits, nowMs: number,
  helloTimeout?: { ms: number; fire: () => void },
): AwaitingHello {
  const s = new Session(id, ip, transport, limits, nowMs);
  if (helloTimeout) {
    s.helloTimer = setTimeout(helloTimeout.fire, helloTimeout.ms);
    s.helloTimer.unref?.();
  }
  return s as AwaitingHello;
}

/** HELLO accepted: the session gets its name, token and identity. */
export function welcomeSession(s: AwaitingHello, name: string, token: string | null, identity = ''): ReadySession {
  const w = s as Session;
  if (w.helloTimer) clearTimeout(w.helloTimer);
  w.helloTimer = null;
  w.name = name;
  w.nameBytes = new TextEncoder().encode(name);
  w.token = token;
  w.identity = identity;
  w.phase = 'ready';
  return w as ReadySession;
}

/** The connection is gone (its HELLO timer, if any, cleared). */
export function closeSession(s: AwaitingHello | ReadySession): ClosedSession {
  const w = s as Session;
  if (w.helloTimer) clearTimeout(w.helloTimer);
  w.helloTimer = null;
  w.phase = 'closed';
  return w as ClosedSession;
}
