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
  /** Sessions held for the next tick (not their turn, or the budget ran out): first in its marked list. */
  private held: ClientSession[] = [];

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

  /**
   * Keep `s`'s queued bytes for the next tick's write, where it comes before anything marked then (so a
   * client the budget did not reach is reached first next time: round-robin, never the same ones last).
   */
  hold(s: ClientSession): void {
    s.markedTick = this.tick + 1;
    this.held.push(s);
  }

  /** No more ticks: what held or marked sessions still have goes out now, and later marks at once. */
  stop(): void {
    this.stopped = true;
    for (const list of [this.held, this.marked]) for (const s of list) {
      const bytes = s.takeOut();
      if (bytes && s.phase !== 'closed') s.transport.send(bytes);
    }
    this.held = [];
    this.marked = [];
  }

  /** Sessions held for the next tick. */
  get heldCount(): number {
    return this.held.length;
  }

  endTick(): void {
    this.tick++;
    // Marks made from now until the next tick's write (answers to messages, that tick's stages) join after
    // the held ones; a held session is already stamped with this tick, so it is not listed twice.
    const held = this.held;
    for (const s of this.marked) held.push(s); // (empty: the write stage took them)
    this.marked = held;
    this.held = [];
  }
}
