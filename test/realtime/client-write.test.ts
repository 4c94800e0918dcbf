/**
 * The tick's last step for one client: owed snapshots paced by the room backpressure leaves, then one write
 * of everything queued — through `sendParts` when the transport has it, else joined and sent.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChunkStore } from '../../src/chunks/chunk-store.js';
import { chunkKey, keyCx, keyCy } from '../../src/chunks/geometry.js';
import { addSnapshots, flushClient } from '../../src/realtime/client-write.js';
import { MemoryTransport, session } from '../helpers/memory-transport.js';
import { fcParams } from '../helpers/fuzz-seed.js';

const SIDE = 256; // 4×4 chunks

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

const arbPaint = fc.array(fc.record({ x: fc.nat(SIDE - 1), y: fc.nat(SIDE - 1), c: fc.nat(15) }), { maxLength: 200 });
const arbKeys = fc.uniqueArray(fc.tuple(fc.nat(3), fc.nat(3)).map(([cx, cy]) => chunkKey(cx, cy)), { maxLength: 16 });

describe('addSnapshots', () => {
  it('with nothing owed: true, and nothing is queued whatever the room', () => {
    const store = new ChunkStore({ width: SIDE, height: SIDE, paletteSize: 16 });
    const s = session();
    for (const room of [-5, 0, 1_000_000]) expect(addSnapshots(s, store, room)).toBe(true);
    expect(s.outCount).toBe(0);
  });

  it('owed but no room: false, and the owed set and the queue are untouched', () => {
    const store = new ChunkStore({ width: SIDE, height: SIDE, paletteSize: 16 });
    const s = session();
    s.needSnapshot.add(chunkKey(1, 2));
    for (const room of [0, -1]) expect(addSnapshots(s, store, room)).toBe(false);
    expect([...s.needSnapshot]).toEqual([chunkKey(1, 2)]);
    expect(s.outCount).toBe(0);
  });

  it('queues the current snapshot of owed chunks until the room is spent; the rest stay owed', () => {
    fc.assert(fc.property(arbPaint, arbKeys, fc.integer({ min: 1, max: 20_000 }), (paint, keys, room) => {
      const store = new ChunkStore({ width: SIDE, height: SIDE, paletteSize: 16 });
      for (const p of paint) store.set(p.x, p.y, p.c);
      const s = session();
      for (const k of keys) s.needSnapshot.add(k);
      expect(addSnapshots(s, store, room)).toBe(true);
      const queued = s.out.slice(0, s.outCount);
      const left = new Set(s.needSnapshot);
      // Every owed chunk is either queued (once) or still owed, never both.
      expect(queued.length + left.size).toBe(keys.length);
      const sent = keys.filter((k) => !left.has(k));
      expect(sent.length).toBe(queued.length);
      // Each queued message is that chunk's snapshot now (order: the set's, so match as a multiset of bytes).
      const expected = sent.map((k) => Buffer.from(store.snapshot(keyCx(k), keyCy(k))).toString('hex')).sort();
      expect(queued.map((b) => Buffer.from(b).toString('hex')).sort()).toEqual(expected);
      const bytes = queued.reduce((n, b) => n + b.length, 0);
      expect(s.outBytes).toBe(bytes);
      // Paced: it starts one only while room is left, and stops once it is spent.
      if (queued.length > 0) expect(bytes - queued[queued.length - 1]!.length).toBeLessThan(room);
      if (left.size > 0) expect(bytes).toBeGreaterThanOrEqual(room);
      else expect(queued.length).toBe(keys.length);
    }), fcParams());
  });
});

describe('flushClient', () => {
  for (const parts of [false, true]) {
    it(`${parts ? 'sendParts' : 'send'}: everything queued goes as ONE message, the queue is emptied, the byte count returned`, () => {
      fc.assert(fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 20 }), (msgs) => {
        const t = new MemoryTransport({ parts });
        const s = session(t);
        for (const m of msgs) s.enqueue(m);
        const total = msgs.reduce((n, m) => n + m.length, 0);
        expect(flushClient(s)).toBe(total);
        if (msgs.length === 0) {
          expect(t.messages).toEqual([]);
        } else {
          expect(t.messages.length).toBe(1);
          expect(Buffer.from(t.messages[0]!).equals(Buffer.from(concat(msgs)))).toBe(true);
          expect(t.calls[0]!.via).toBe(parts ? 'parts' : 'send');
          if (parts) expect(t.calls[0]!.count).toBe(msgs.length);
        }
        expect(s.outCount).toBe(0);
        expect(s.outBytes).toBe(0);
        expect(flushClient(s)).toBe(0); // nothing twice
        expect(t.messages.length).toBe(msgs.length === 0 ? 0 : 1);
      }), fcParams());
    });
  }

  it('snapshots queued by addSnapshots arrive in the one write, byte for byte', () => {
    const store = new ChunkStore({ width: SIDE, height: SIDE, paletteSize: 16 });
    store.set(3, 3, 7);
    const t = new MemoryTransport({ parts: true });
    const s = session(t);
    s.needSnapshot.add(chunkKey(0, 0)).add(chunkKey(3, 3));
    expect(addSnapshots(s, store, 1_000_000)).toBe(true);
    const n = flushClient(s);
    expect(t.messages.length).toBe(1);
    expect(n).toBe(t.messages[0]!.length);
    const a = store.snapshot(0, 0);
    const b = store.snapshot(3, 3);
    const got = Buffer.from(t.messages[0]!);
    expect(got.equals(Buffer.concat([a, b])) || got.equals(Buffer.concat([b, a]))).toBe(true);
  });
});
