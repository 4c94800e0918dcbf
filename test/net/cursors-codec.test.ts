/** The one CURSORS encoder: entries with string names and pre-encoded blobs give the same bytes, and decode. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CURSOR_RECORD_BYTES, assemble, encodeCursors, writeCursorRecord } from '../../src/net/cursors-codec.js';
import { decodeServerMessages, utf8Truncate } from '../../src/net/protocol.js';

const entry = fc.record({
  id: fc.integer({ min: 1, max: 2 ** 32 - 1 }), x: fc.integer({ min: 0, max: 65535 }), y: fc.integer({ min: 0, max: 65535 }),
  name: fc.string({ maxLength: 12 }),
});

describe('CURSORS codec', () => {
  it('encodeCursors equals the blob path for the same records, and decodes to them', () => {
    fc.assert(fc.property(fc.array(entry, { maxLength: 20 }), fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { maxLength: 8 }), (moved, removed) => {
      const direct = encodeCursors(moved, removed);
      const names = moved.map((m) => utf8Truncate(m.name, 255));
      const records = new Uint8Array(names.reduce((n, b) => n + CURSOR_RECORD_BYTES + b.length, 0));
      let o = 0;
      moved.forEach((m, i) => { o = writeCursorRecord(records, o, m.id, m.x, m.y, names[i]!.length > 0 ? names[i]! : null); });
      expect(o).toBe(records.length);
      const viaBlob = assemble([{ records, recordCount: moved.length, removed: [...removed] }]);
      expect(Buffer.from(viaBlob).equals(Buffer.from(direct))).toBe(true);
      const [m] = decodeServerMessages(direct);
      expect(m).toEqual({ type: 'cursors', moved, removed });
    }), { numRuns: 200 });
  });

  it('refuses a message over the body limit', () => {
    const long = { id: 1, x: 0, y: 0, name: 'x'.repeat(255) };
    expect(() => encodeCursors(new Array(249).fill(long), [])).toThrow(RangeError);
  });
});
