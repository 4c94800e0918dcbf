/**
 * What presence knows of the people behind cursors: not sessions (src/realtime), only what a cursor shows.
 * A local client's session is both an owner and a viewer; another node's cursor is an owner only.
 */

/** Whose cursor it is: the id clients know it by, and the name shown beside it (UTF-8, at most 255 bytes). */
export interface CursorOwner {
  readonly id: number;
  readonly nameBytes: Uint8Array;
}

/** Who is shown cursors: anything past its handshake ('ready'); others are skipped until they are. */
export interface CursorViewer {
  readonly phase: string;
}

/** Told of every change a table records, so another part can mirror it (src/cluster publishes them). */
export interface CursorObserver {
  moved(owner: CursorOwner, x: number, y: number, hidden: boolean): void;
  removed(owner: CursorOwner): void;
}
