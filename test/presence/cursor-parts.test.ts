/** A flush's CURSORS message written in parts (shared record blobs) is byte for byte the assembled one. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CursorTable } from '../../src/presence/cursor-table.js';
import { assemble, assembleParts, type CursorBlob as Blob } from '../../src/net/cursors-codec.js';
import type { ClientSession } from '../../src/realtime/client-session.js';
import { decodeServerMessages } from '../../src/net/protocol.js';

const blob = fc.array(fc.record({ id: fc.integer({ min: 1, max: 2 ** 32 - 1 }), x: fc.integer({ min: 0, max: 65535 }), y: fc.integer({ min: 0, max: 65535 }), name: fc.string({ maxLength: 8 }).map((t) => new TextEncoder().encode(t)) }), { maxLength: 8 })
  .chain((recs) => fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { maxLength: 6 }).map((removed): Blob => {
    const size = recs.reduce((n, r) => n + 9 + r.name.length, 0);
    const b = new Uint8Array(size);
    let o = 0;
    for (const r of recs) {
      new DataView(b.buffer).setUint32(o, r.id, true);
      b[o + 4] = r.x & 0xff; b[o + 5] = r.x >>> 8; b[o + 6] = r.y & 0xff; b[o + 7] = r.y >>> 8; b[o + 8] = r.name.length;
      b.set(r.name, o + 9);
      o += 9 + r.name.length;
    }
    return { records: b, recordCount: recs.length, removed };
  }));

function join(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

describe('CURSORS in parts', () => {
  it('equals the assembled message, and decodes', () => {
    fc.assert(fc.property(fc.array(blob, { maxLength: 9 }), (blobs) => {
      // A reused array holding an earlier viewer's parts: only the first `count` slots are this message.
      const parts: Uint8Array[] = Array.from({ length: 24 }, () => Uint8Array.of(0xee));
      parts.length = assembleParts(blobs, blobs.length, parts);
      const joined = join(parts);
      expect(Buffer.from(joined).equals(Buffer.from(assemble(blobs)))).toBe(true);
      // Shared heads and cached tails: a second viewer with the same blobs gets the same bytes.
      const again: Uint8Array[] = [];
      again.length = assembleParts(blobs, blobs.length, again);
      expect(Buffer.from(join(again)).equals(Buffer.from(joined))).toBe(true);
      const msgs = decodeServerMessages(joined);
      expect(msgs).toHaveLength(1);
      const m = msgs[0] as unknown as { type: string; moved: unknown[]; removed: number[] };
      expect(m.type).toBe('cursors');
      expect(m.moved.length).toBe(blobs.reduce((n, b) => n + b.recordCount, 0));
      expect(m.removed).toEqual(blobs.flatMap((b) => b.removed));
      // the record bytes are the blobs' own, not copies
      for (const b of blobs) if (b.records.length > 0) expect(parts).toContain(b.records);
    }), { numRuns: 300 });
  });
});

describe('CursorTable.flush with a sink that throws', () => {
  it('leaves no viewer holding that flush’s blobs: the next flush sends only its own', () => {
    const session = (id: number) => ({ id, phase: 'ready', nameBytes: new TextEncoder().encode(`u${id}`) }) as unknown as ClientSession;
    const table = new CursorTable(1024, 1024);
    const viewer = session(1);
    const mover = session(2);
    table.setViewer(viewer, { x: 0, y: 0, w: 256, h: 256 });
    const lookup = { isStale: () => false };
    table.flush(lookup, [], true, () => {}); // settle the view
    table.move(mover, 10, 10, false);
    expect(() => table.flush(lookup, [], true, () => { throw new Error('sink failed'); })).toThrow('sink failed');
    table.move(mover, 20, 20, false);
    const got: Uint8Array[] = [];
    table.flush(lookup, [], true, (v, parts, count) => { if (v === viewer) got.push(join(parts.slice(0, count))); });
    expect(got).toHaveLength(1);
    const msgs = decodeServerMessages(got[0]!) as unknown as { type: string; moved: { id: number; x: number; y: number }[] }[];
    expect(msgs).toHaveLength(1);
    // One record per level the viewer watches at most, all of the second move; none of the first.
    expect(msgs[0]!.moved.length).toBeGreaterThan(0);
    for (const m of msgs[0]!.moved) expect([m.id, m.x, m.y]).toEqual([2, 20, 20]);
  });
});
