/**
 * Golden vector of WELCOME's ALLOWANCE extension record (kind 2, docs/protocol.md): the address's paint
 * tokens and the ms to the next one, after the fixed fields (and after MUSIC when both are sent).
 */
import { describe, expect, it } from 'vitest';
import { decodeServerMessages, encodeWelcome, type Welcome } from '../../src/net/protocol.js';

const BASE: Omit<Welcome, 'type'> = {
  version: 2, clientId: 42, epoch: 1, width: 64, height: 64, chunkSize: 64, tickHz: 20, serverTime: 0, background: 0,
  limits: { paintRate: 1, paintBurst: 20, maxPlaceBatch: 16, maxViewportArea: 4096, cursorHz: 10, viewportHz: 20, maxNameBytes: 32, maxMessageBytes: 70000 },
  palette: [0xffffff, 0xe50000],
  budget: { rate: 200, burst: 400, costs: { place: 1, placePerPixel: 1, viewport: 2, cursor: 1, resume: 20, hello: 20, ping: 1 } },
  session: { known: false, lastSeq: 0 },
};

const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

describe('WELCOME ALLOWANCE record', () => {
  it('is kind 2, length 8, tokens u32, nextMs u32, after the fixed fields', () => {
    const bytes = encodeWelcome({ ...BASE, allowance: { tokens: 3, nextMs: 750 } });
    const fixed = 3 + 95 + 3 * 2;
    expect(bytes.length).toBe(fixed + 11);
    //                                  kind | len   | tokens = 3  | nextMs = 750 (0x2ee)
    expect(toHex(bytes.subarray(fixed))).toBe('02 08 00 03 00 00 00 ee 02 00 00');
    expect(toHex(bytes.subarray(1, 3))).toBe('70 00'); // 95 + 6 + 11 = 112
    const [w] = decodeServerMessages(bytes) as Welcome[];
    expect(w!.allowance).toEqual({ tokens: 3, nextMs: 750 });
  });

  it('is not sent to a version 1 client, nor when unknown', () => {
    expect(encodeWelcome({ ...BASE, version: 1, allowance: { tokens: 0, nextMs: 5 } }).length).toBe(3 + 60 + 6);
    const [w] = decodeServerMessages(encodeWelcome(BASE)) as Welcome[];
    expect(w!.allowance).toBeUndefined();
  });
});
