/**
 * The pre-framed tick write: frameBinary produces exactly the bytes ws's own Sender frames for the same
 * payload (unmasked, FIN, binary), at every length-encoding boundary, whatever the split into parts.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import { frameBinary } from '../../src/net/ws-frame.js';

function wsFrame(payload: Buffer): Buffer {
  // ws's Sender is exported at runtime but not in its type declarations.
  const { Sender } = createRequire(import.meta.url)('ws') as { Sender: { frame(d: Buffer, o: object): Buffer[] } };
  const list = Sender.frame(payload, {
    fin: true, rsv1: false, opcode: 2, mask: false, readOnly: false,
  });
  return Buffer.concat(list);
}

describe('frameBinary', () => {
  it.each([0, 1, 125, 126, 127, 65535, 65536, 70000])('%i bytes: the same frame as ws', (n) => {
    const payload = Buffer.alloc(n, 7);
    const half = n >> 1;
    const framed = frameBinary([payload.subarray(0, half), payload.subarray(half)], n);
    expect(framed.equals(wsFrame(payload))).toBe(true);
  });

  it('any parts: the same frame as ws of their concatenation', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (parts) => {
      const payload = Buffer.concat(parts);
      expect(frameBinary(parts, payload.length).equals(wsFrame(payload))).toBe(true);
    }));
  });
});
