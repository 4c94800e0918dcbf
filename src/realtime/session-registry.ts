/**
 * The connected clients: ids, the HELLO deadline of a new connection, and the online count they add up to.
 */
import { encodeOnline } from '../net/protocol.js';
import { versionKnowsOp } from '../net/protocol-versions.js';
import {
  closeSession, openSession, type AwaitingHello, type ClientSession, type ReadySession, type SessionLimits,
} from './client-session.js';
import type { Outbox } from './outbox.js';
import type { Transport } from './transport.js';

/** Ids are u32 on the wire; 0 and 0xffffffff are never handed out. */
const MAX_ID = 0xfffffffe;

export class SessionRegistry {
  private readonly byId = new Map<number, ClientSession>();
  /** The id the next connection tries first. */
  nextId = 1;

  constructor(
    private readonly limits: SessionLimits & { helloTimeoutMs: number },
    /** The open-connections gauge (/metrics). */
    private readonly gauge: { set(value: number): void },
    /** A connection that never said HELLO in time. */
    private readonly onHelloTimeout: (s: AwaitingHello) => void,
  ) {}

  /** A new connection, awaiting HELLO. */
  open(transport: Transport, ip: string): AwaitingHello {
    // Ids wrap after ~4 billion connections: never hand out one still in use.
    let id = this.nextId;
    while (this.byId.has(id)) id = id >= MAX_ID ? 1 : id + 1;
    this.nextId = id >= MAX_ID ? 1 : id + 1;
    // A connection that never says HELLO must not hold a slot: looked up by id when the timer fires.
    const s = openSession(id, ip, transport, this.limits, performance.now(), {
      ms: this.limits.helloTimeoutMs,
      fire: () => {
        const cur = this.byId.get(id);
        if (cur && cur.phase === 'awaitingHello') this.onHelloTimeout(cur);
      },
    });
    this.byId.set(id, s);
    this.gauge.set(this.byId.size);
    return s;
  }

  /** The client is gone: closed and forgotten here (the room forgets it everywhere else). */
  close(s: AwaitingHello | ReadySession): void {
    closeSession(s);
    this.byId.delete(s.id);
    this.gauge.set(this.byId.size);
  }

  get(id: number): ClientSession | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.byId.size;
  }

  values(): IterableIterator<ClientSession> {
    return this.byId.values();
  }

  /**
   * Queue `bytes` (one message) for the next write of every welcomed client whose protocol version knows its
   * opcode: a version 1 client is never sent a later version's message (music mode's TEMPO).
   */
  toAllReady(bytes: Uint8Array, outbox: Outbox, v1Bytes?: Uint8Array): void {
    const op = bytes[0] ?? 0;
    for (const s of this.byId.values()) {
      if (s.phase !== 'ready' || !versionKnowsOp(s.protocolVersion, op)) continue;
      // v1 decoders refuse trailing bytes: a message that grew fields goes to them in its v1 form.
      s.enqueue(v1Bytes !== undefined && s.protocolVersion === 1 ? v1Bytes : bytes);
      outbox.mark(s);
    }
  }

  /** Shutting down: no HELLO deadline may fire any more. */
  stop(): void {
    for (const s of this.byId.values()) if (s.phase === 'awaitingHello' && s.helloTimer) clearTimeout(s.helloTimer);
  }
}

/**
 * The ONLINE count: this node's clients, or the canvas-wide count given them (several nodes), sent at most
 * once per interval and only when it changed. A timer wakes the tick for a change held back by the interval,
 * so an idle server does not tick just to wait for it. ONLINE also carries the overload level and its
 * cadence (docs/protocol.md); a change of level is sent at once, so browsers can say "busy — updates slowed".
 */
export class OnlineCount {
  private lastSent = -1;
  private lastLevel = 0;
  private lastAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly sessions: SessionRegistry,
    private readonly intervalMs: number,
    private readonly outbox: Outbox,
    private readonly wake: () => void,
    private readonly canvasWide?: (local: number) => number,
    private readonly level: () => number = () => 0,
  ) {}

  current(): number {
    return this.canvasWide?.(this.sessions.size) ?? this.sessions.size;
  }

  /** The tick's online stage. */
  send(t: number): void {
    const online = this.current();
    const level = this.level();
    if (online === this.lastSent && level === this.lastLevel) return;
    const wait = level !== this.lastLevel ? 0 : this.lastAt + this.intervalMs - t;
    if (wait <= 0) {
      this.lastSent = online;
      this.lastLevel = level;
      this.lastAt = t;
      this.sessions.toAllReady(encodeOnline(online, level, 1 << level), this.outbox, encodeOnline(online));
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.wake();
      }, wait);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}
