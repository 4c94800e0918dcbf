/**
 * A tiny typed event emitter for the client library. Runs in Node and the browser (no imports).
 *
 * Handler lists are copy-on-write: `on` and the returned unsubscribe replace the array, so `emit`
 * iterates a stable list without copying it, and a handler may unsubscribe itself (or others)
 * mid-emit without skipping anyone.
 */

export type Handler<T> = (value: T) => void;

export class Emitter<Events extends { [K in keyof Events]: unknown }> {
  private readonly handlers: { [K in keyof Events]?: readonly Handler<Events[K]>[] } = {};

  /** Adds a handler; returns the function that removes it (idempotent). */
  on<K extends keyof Events>(event: K, handler: Handler<Events[K]>): () => void {
    this.handlers[event] = [...(this.handlers[event] ?? []), handler];
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      const list = this.handlers[event];
      if (!list) return;
      const i = list.indexOf(handler);
      if (i < 0) return;
      const next = list.slice();
      next.splice(i, 1);
      this.handlers[event] = next.length > 0 ? next : undefined;
    };
  }

  /** True when at least one handler listens; lets hot paths skip building a value nobody reads. */
  has<K extends keyof Events>(event: K): boolean {
    return this.handlers[event] !== undefined;
  }

  /**
   * Calls every handler in order. A throwing handler does not stop the others nor the caller (the client
   * emits from socket callbacks it must not break); its exception is rethrown on a microtask so it still
   * surfaces as an uncaught error, the way EventTarget reports listener exceptions.
   */
  emit<K extends keyof Events>(event: K, value: Events[K]): void {
    const list = this.handlers[event];
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!(value);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  /** Removes every handler of every event. */
  clear(): void {
    for (const k of Object.keys(this.handlers)) delete this.handlers[k as keyof Events];
  }
}
