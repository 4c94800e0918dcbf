/**
 * Who gets a write, and when. Every stage that queues bytes for a client marks it here; the tick's write
 * stage (./client-write.ts) takes the marked clients and writes each once. Clients with work left over for
 * a later tick (snapshots still owed, a deferred viewport, stale) wait in the backlog, which the tick
 * revisits first. Once the room has stopped there are no more ticks: a marked client is written at once.
 */
import type { ClientSession } from './client-session.js';

export class Outbox {
  /** Ticks completed so far: what "once per tick" (a mark, the backpressure check) is counted against. */
  tick = 0;
  /** No more ticks: answers given while shutting down (refusals, errors, pongs) go out at once. */
  stopped = false;
  /** Sessions with work left over from an earlier tick: snapshots still to send, a deferred viewport, stale. */
  readonly backlog = new Set<ClientSession>();
  private marked: ClientSession[] = [];

  /** `s` has something queued (or owed): write it at this tick's end. */
  mark(s: ClientSession): void {
    if (this.stopped) {
      const bytes = s.takeOut();
      if (bytes && s.phase !== 'closed') s.transport.send(bytes);
      return;
    }
    if (s.markedTick !== this.tick) {
      s.markedTick = this.tick;
      this.marked.push(s);
    }
  }

  /** The sessions marked this tick, each once; the next mark starts a new list. */
  takeMarked(): ClientSession[] {
    const marked = this.marked;
    this.marked = [];
    return marked;
  }

  endTick(): void {
    this.tick++;
  }
}
