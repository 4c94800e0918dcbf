/**
 * In-memory doubles for the realtime modules' unit tests: a Transport whose buffer the test sets, sessions,
 * and time that moves only when the test moves it.
 */
import { DEFAULTS } from '../../src/config.js';
import { decodeServerMessages, type ServerMessage } from '../../src/net/protocol.js';
import { openSession, welcomeSession, type AwaitingHello, type ReadySession } from '../../src/realtime/client-session.js';
import type { TickTimers } from '../../src/realtime/tick-loop.js';
import type { Transport } from '../../src/realtime/transport.js';

export class TestTransport implements Transport {
  readonly frames: Uint8Array[] = [];
  bufferedAmount = 0;
  closedWith: number | null = null;
  send(bytes: Uint8Array): void {
    this.frames.push(bytes.slice());
  }
  close(code: number): void {
    this.closedWith = code;
  }
  terminate(): void {
    this.closedWith = 1006;
  }
  messages(): ServerMessage[] {
    return this.frames.flatMap((f) => decodeServerMessages(f));
  }
}

let nextId = 1;

export function awaiting(limits: Partial<typeof DEFAULTS> = {}): { s: AwaitingHello; t: TestTransport } {
  const t = new TestTransport();
  return { s: openSession(nextId++, '192.0.2.1', t, { ...DEFAULTS, ...limits }, performance.now()), t };
}

export function ready(name = 'n', limits: Partial<typeof DEFAULTS> = {}): { s: ReadySession; t: TestTransport } {
  const { s, t } = awaiting(limits);
  return { s: welcomeSession(s, name, null), t };
}

interface HandTimer { at: number; seq: number; fn: () => void; live: boolean }

/**
 * Hand-driven time for the TickLoop. `schedule` queues a callback for now + ms plus `lateBy()` — how late a
 * real timer fires behind other work (reading sockets, a descheduled process) — and `advance` runs what falls
 * due, in order, each at its own instant. A callback may move the clock itself (`t += 6`: a tick that works
 * 6 ms). Nothing here depends on how busy the machine is.
 */
export class HandTimers implements TickTimers {
  t = 0;
  private queue: HandTimer[] = [];
  private seq = 0;

  constructor(private readonly lateBy: () => number = () => 0) {}

  now(): number {
    return this.t;
  }

  schedule(ms: number, fn: () => void): () => void {
    const e: HandTimer = { at: this.t + Math.max(0, ms) + this.lateBy(), seq: this.seq++, fn, live: true };
    this.queue.push(e);
    return () => { e.live = false; };
  }

  /** Runs every callback due in the next `ms` (earliest first, ties in scheduling order), then stops there. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.queue = this.queue.filter((e) => e.live);
      let next: HandTimer | undefined;
      for (const e of this.queue) if (next === undefined || e.at < next.at || (e.at === next.at && e.seq < next.seq)) next = e;
      if (next === undefined || next.at > end) break;
      next.live = false;
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = Math.max(this.t, end);
  }

  /** Callbacks scheduled and not yet run or cancelled. */
  get pending(): number {
    return this.queue.filter((e) => e.live).length;
  }
}
