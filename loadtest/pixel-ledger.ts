/**
 * A fleet's record of the pixels it owns: the colour the server holds at each (known, because only this
 * fleet paints them), and the placements pending on them until their user sees them in a DELTA. Per user it
 * also counts pending pixels per chunk, so a DELTA is read only when its chunk holds one of them.
 */
import type { Pending, SimUser } from './fleet-types.js';
import { COLOR_ARRAY_MAX, UNSEEN_TIMEOUT_MS } from './fleet-types.js';
import { CHUNK_SHIFT, chunkKey } from '../src/chunks/geometry.js';

export class PixelLedger {
  /** Pixel (y * width + x) → its pending placement. */
  readonly pending = new Map<number, Pending>();
  private colorsArr: Uint8Array | null = null;
  private readonly colorsMap = new Map<number, number>();
  private width = 0;
  private background = 0;

  /** Adopts the canvas (from the first WELCOME). */
  init(width: number, height: number, background: number): void {
    this.width = width;
    this.background = background;
    if (width * height <= COLOR_ARRAY_MAX) this.colorsArr = new Uint8Array(width * height).fill(background);
  }

  colorAt(pos: number): number {
    return this.colorsArr !== null ? this.colorsArr[pos]! : this.colorsMap.get(pos) ?? this.background;
  }

  setColor(pos: number, c: number): void {
    if (this.colorsArr !== null) this.colorsArr[pos] = c;
    else this.colorsMap.set(pos, c);
  }

  private chunkOf(pos: number): number {
    const x = pos % this.width;
    return chunkKey(x >>> CHUNK_SHIFT, ((pos - x) / this.width) >>> CHUNK_SHIFT);
  }

  /** The PLACE holding pos was sent: pos is pending for u until seen. */
  addToUser(u: SimUser, pos: number): void {
    u.pendingPos.add(pos);
    const key = this.chunkOf(pos);
    u.pendingChunks.set(key, (u.pendingChunks.get(key) ?? 0) + 1);
  }

  /** Forgets one pending pixel of u's (it was seen, refused, expired, or its chunk left the view). */
  drop(u: SimUser, pos: number): void {
    this.pending.delete(pos);
    if (!u.pendingPos.delete(pos)) return;
    const key = this.chunkOf(pos);
    const n = u.pendingChunks.get(key)! - 1;
    if (n > 0) u.pendingChunks.set(key, n);
    else u.pendingChunks.delete(key);
  }

  /** Forgets everything pending of a user whose connection ended. */
  dropUser(u: SimUser): void {
    for (const pos of u.pendingPos) this.pending.delete(pos);
    u.pendingPos.clear();
    u.pendingChunks.clear();
  }

  /** Drops placements not seen within UNSEEN_TIMEOUT_MS; returns how many of them were measured. */
  expire(now: number): number {
    let unseen = 0;
    for (const [pos, p] of this.pending) {
      if (p.sentAt > 0 && now - p.sentAt > UNSEEN_TIMEOUT_MS) {
        this.drop(p.user, pos);
        if (p.measured) unseen++;
      }
    }
    return unseen;
  }
}
