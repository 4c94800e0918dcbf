/**
 * The backpressure policy (docs/architecture.md), applied once per client per tick before anything big is
 * queued for it. Above the high-water mark a client gets no deltas or cursors and its changed chunks are
 * remembered (one entry per chunk, never a queue); once under the low-water mark it gets the current state
 * of what it still sees; past the hard limit, or stale for too long, it is closed with 4001.
 *
 * The high-water mark is also bounded globally: it is min(highWaterBytes, globalBufferBytes / clients), so
 * a crowd of slow clients can hold at most about globalBufferBytes between them (plus one tick's messages
 * each), never high-water × clients.
 */
import type { ClientSession } from './client-session.js';
import type { Outbox } from './outbox.js';

export interface BackpressureLimits {
  highWaterBytes: number;
  lowWaterBytes: number;
  hardLimitBytes: number;
  stallTimeoutMs: number;
  globalBufferBytes: number;
}

/** What the policy decided for a client this tick. */
export type Pressure =
  /** Send it everything. */
  | 'ok'
  /** Just went above the high-water mark: stale from now on. */
  | 'stale'
  /** Stale: nothing but small answers until it drains. */
  | 'hold'
  /** Was stale and has drained: send it the current state of what it sees (snapshots, a cursor snapshot). */
  | 'caughtUp'
  /** Close it with 4001 at this tick's write. */
  | 'drop';

export class BackpressurePolicy {
  constructor(private readonly limits: BackpressureLimits) {}

  /** The high-water mark with `clients` connected. */
  highWater(clients: number): number {
    const { highWaterBytes, globalBufferBytes } = this.limits;
    return Math.min(highWaterBytes, Math.floor(globalBufferBytes / Math.max(1, clients)));
  }

  /** The low-water mark with `clients` connected (a quarter of the high-water mark at most). */
  lowWater(clients: number): number {
    return Math.min(this.limits.lowWaterBytes, Math.floor(this.highWater(clients) / 4));
  }

  /** Applies the policy to a client's current buffer; updates its stale/dropping state. */
  assess(s: ClientSession, buffered: number, t: number, clients: number): Pressure {
    const { hardLimitBytes, stallTimeoutMs } = this.limits;
    if (buffered > hardLimitBytes || (s.stale && t - s.staleSince > stallTimeoutMs)) {
      s.dropping = true;
      return 'drop';
    }
    if (s.stale) {
      if (buffered > this.lowWater(clients)) return 'hold';
      s.stale = false;
      return 'caughtUp';
    }
    if (buffered > this.highWater(clients)) {
      s.stale = true;
      s.staleSince = t;
      return 'stale';
    }
    return 'ok';
  }

  /** Bytes that may still be queued for a client (for snapshots), given what is buffered and queued. */
  room(buffered: number, queued: number, clients: number): number {
    return this.highWater(clients) - buffered - queued;
  }
}

/** What the gate does besides deciding, for the room to wire: a caught-up client's cursor resync, a metric. */
export interface PressureEffects {
  caughtUp(s: ClientSession): void;
  becameStale(s: ClientSession): void;
}

/**
 * The policy applied once per client per tick, before anything big is queued for it (deltas, cursors,
 * snapshots). `check` returns true when the client must get no deltas or cursors now; a client to drop is
 * marked, so it is closed at this tick's write.
 */
export class PressureGate {
  constructor(
    readonly policy: BackpressurePolicy,
    private readonly outbox: Outbox,
    private readonly clients: () => number,
    private readonly effects: PressureEffects,
  ) {}

  check(s: ClientSession, t: number): boolean {
    if (s.pressureTick === this.outbox.tick) return s.stale || s.dropping;
    s.pressureTick = this.outbox.tick;
    switch (this.policy.assess(s, s.transport.bufferedAmount, t, this.clients())) {
      case 'ok':
        return false;
      case 'drop':
        this.outbox.mark(s); // closed at this tick's write
        return true;
      case 'caughtUp':
        this.effects.caughtUp(s);
        return false;
      case 'stale':
        this.effects.becameStale(s);
        this.outbox.mark(s); // so the write stage files it in the backlog, where its recovery is watched
        return true;
      case 'hold':
        return true;
    }
  }

  /** Bytes that may still be queued for `s` this tick (for snapshots). */
  room(s: ClientSession): number {
    return this.policy.room(s.transport.bufferedAmount, s.outBytes, this.clients());
  }
}
