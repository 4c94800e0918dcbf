/**
 * The last step of the tick for one client: its owed snapshots, paced by the room the backpressure policy
 * leaves it, then everything queued for it this tick as ONE WebSocket message — framed and copied once by
 * the transport when it can (`sendParts`), else joined here and sent.
 */
import { keyCx, keyCy } from '../chunks/geometry.js';
import type { ChunkStore } from '../chunks/chunk-store.js';
import type { ClientSession } from './client-session.js';

/**
 * Queues snapshots from the client's `needSnapshot` set (chunks of `store`, its level) while `room` bytes
 * last. Returns false when it is owed snapshots and has no room at all: the caller marks it stale (with its
 * stall timeout) rather than revisit it forever.
 */
export function addSnapshots(s: ClientSession, store: ChunkStore, room: number): boolean {
  if (s.needSnapshot.size === 0) return true;
  if (room <= 0) return false;
  const need = s.needSnapshot;
  for (let i = 0; i < need.end && room > 0; i++) { // `end` shrinks to 0 when the last key is deleted
    const key = need.keyAt(i);
    if (key < 0) continue;
    const snap = store.snapshot(keyCx(key), keyCy(key));
    s.enqueue(snap);
    need.delete(key);
    room -= snap.length;
  }
  return true;
}

/** Writes what is queued for the client as one message; returns the payload bytes written (0: nothing). */
export function flushClient(s: ClientSession): number {
  const transport = s.transport;
  if (transport.sendParts) {
    if (s.outCount === 0) return 0;
    const total = s.outBytes;
    transport.sendParts(s.out, total, s.outCount);
    s.clearOut();
    return total;
  }
  const bytes = s.takeOut();
  if (bytes === null) return 0;
  transport.send(bytes);
  return bytes.length;
}
