/**
 * Cursors, both ways: this client's cursor sent at most at the server's cursorHz (the latest position
 * winning), and the others' cursors kept from CURSORS messages.
 */
import { type Cursors, type Welcome, encodeCursor } from '../net/protocol.js';
import type { CursorState, WebSocketLike } from './client-types.js';
import { now, throttleIntervalMs } from './throttle.js';

export class CursorSync {
  /** Others' cursors in and near the view (whole 64-px cells); cleared when the connection drops. */
  readonly cursors = new Map<number, CursorState>();
  private pending: { x: number; y: number; hidden: boolean } | null = null;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private timer: ReturnType<typeof setTimeout> | null = null;

  /** `openLink`: the open connection's socket and WELCOME, or null when not open. */
  constructor(private readonly openLink: () => { socket: WebSocketLike; welcome: Welcome } | null) {}

  /** Moves this client's cursor (clamped to the canvas), throttled. Ignored when not open. */
  move(x: number, y: number, hidden: boolean): void {
    const l = this.openLink();
    if (l === null) return;
    const { width, height } = l.welcome;
    x = Math.min(Math.max(Math.floor(x), 0), width - 1) || 0; // `|| 0`: NaN becomes 0
    y = Math.min(Math.max(Math.floor(y), 0), height - 1) || 0;
    this.pending = { x, y, hidden };
    if (this.timer !== null) return;
    const wait = this.lastSentAt + throttleIntervalMs(l.welcome.limits.cursorHz) - now();
    if (wait <= 0) this.flush();
    else this.timer = setTimeout(() => { this.timer = null; this.flush(); }, wait);
  }

  /**
   * Removed first (id 0 means "forget every cursor"), then moved. Entries may lie a little outside the view
   * (the server sends whole 64-px cursor cells); renderers show the ones inside it. `self`: our own id.
   */
  apply(m: Cursors, self: number): void {
    for (let i = 0; i < m.removed.length; i++) {
      const id = m.removed[i]!;
      if (id === 0) this.cursors.clear();
      else this.cursors.delete(id);
    }
    for (let i = 0; i < m.moved.length; i++) {
      const c = m.moved[i]!;
      if (c.id === self) continue;
      const known = this.cursors.get(c.id);
      if (known === undefined) {
        this.cursors.set(c.id, { x: c.x, y: c.y, name: c.name });
      } else {
        known.x = c.x;
        known.y = c.y;
        if (c.name !== '') known.name = c.name; // '' means "unchanged"
      }
    }
  }

  /** The connection is gone: nothing pending, nobody known. */
  reset(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
    this.lastSentAt = Number.NEGATIVE_INFINITY;
    this.cursors.clear();
  }

  private flush(): void {
    const l = this.openLink();
    const c = this.pending;
    if (l === null || c === null) return;
    this.pending = null;
    l.socket.send(encodeCursor(c.x, c.y, c.hidden));
    this.lastSentAt = now();
  }
}
