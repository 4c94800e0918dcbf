/** The lean client's WebSocket framing (loadtest/ws-frame.ts), byte by byte. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  FrameParser, type FrameSink, WsOpcode, acceptFor, checkHandshake, clientFrameLength, writeClientFrame,
} from '../../loadtest/ws-frame.js';

/** A server frame as RFC 6455 lays it out (unmasked): the reference the parser is checked against. */
function serverFrame(opcode: number, payload: Uint8Array, fin = true, rsv = 0): Uint8Array {
  const n = payload.length;
  const head = n < 126 ? [n] : n < 0x10000 ? [126, n >> 8, n & 0xff] : [127, 0, 0, 0, 0, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(1 + head.length + n);
  out[0] = (fin ? 0x80 : 0) | rsv | opcode;
  out.set(head, 1);
  out.set(payload, 1 + head.length);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** Payloads as hex: comparing strings keeps the 64 KiB cases fast. */
const hex = (b: ArrayLike<number>): string => Buffer.from(Uint8Array.from(b)).toString('hex');

type Event = { kind: 'message'; bytes: string; binary: boolean } | { kind: 'ping'; bytes: string } | { kind: 'close'; code: number; reason: string } | { kind: 'fail'; code: number };

function recorder(): { sink: FrameSink; events: Event[] } {
  const events: Event[] = [];
  return {
    events,
    sink: {
      message: (b, s, e, binary) => events.push({ kind: 'message', bytes: hex(b.subarray(s, e)), binary }),
      ping: (p) => events.push({ kind: 'ping', bytes: hex(p) }),
      close: (code, reason) => events.push({ kind: 'close', code, reason }),
      fail: (code) => events.push({ kind: 'fail', code }),
    },
  };
}

/** Feeds `stream` cut at the given offsets; returns what the parser reported. */
function parseInPieces(stream: Uint8Array, cuts: number[]): Event[] {
  const r = recorder();
  const p = new FrameParser(r.sink);
  let from = 0;
  for (const c of [...cuts, stream.length]) {
    // Each read arrives in a fresh buffer that is overwritten afterwards, as with a shared read buffer.
    const read = stream.slice(from, c);
    p.feed(read, 0, read.length);
    read.fill(0xee);
    from = c;
  }
  return r.events;
}

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** Unmasks a client frame by the RFC's rules; returns opcode, fin, the key and the payload. */
function decodeClientFrame(f: Uint8Array): { fin: boolean; opcode: number; key: number[]; payload: Uint8Array } {
  expect(f[1]! & 0x80).toBe(0x80); // MASK bit: every client frame is masked
  let len = f[1]! & 0x7f;
  let at = 2;
  if (len === 126) { len = (f[2]! << 8) | f[3]!; at = 4; }
  else if (len === 127) { len = Number(new DataView(f.buffer, f.byteOffset).getBigUint64(2)); at = 10; }
  const key = Array.from(f.subarray(at, at + 4));
  const payload = f.subarray(at + 4).map((b, i) => b ^ key[i & 3]!);
  expect(payload.length).toBe(len);
  return { fin: (f[0]! & 0x80) !== 0, opcode: f[0]! & 0x0f, key, payload };
}

describe('client frames', () => {
  it.each([0, 1, 5, 125, 126, 1000, 65535, 65536, 70_000])('masks a %i-byte payload with the key and the right length field', (n) => {
    const payload = bytes(n, n);
    const mask = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);
    const out = new Uint8Array(clientFrameLength(n) + 3).fill(0xaa);
    const end = writeClientFrame(out, 3, WsOpcode.BINARY, payload, 0, n, mask);
    expect(end).toBe(3 + clientFrameLength(n));
    expect(Array.from(out.subarray(0, 3))).toEqual([0xaa, 0xaa, 0xaa]); // wrote nothing before `at`
    const f = decodeClientFrame(out.subarray(3, end));
    expect(f.fin).toBe(true);
    expect(f.opcode).toBe(WsOpcode.BINARY);
    expect(f.key).toEqual(Array.from(mask));
    expect(Array.from(f.payload)).toEqual(Array.from(payload));
    // The length field is the shortest form (RFC 6455 §5.2): 7 bits, then 16, then 64.
    expect(out[4]! & 0x7f).toBe(n < 126 ? n : n < 0x10000 ? 126 : 127);
    // And it is masked: with a non-zero key the bytes on the wire differ from the payload.
    if (n >= 4) expect(Array.from(out.subarray(end - n, end))).not.toEqual(Array.from(payload));
  });

  it('masks a slice of a larger buffer', () => {
    const big = bytes(50);
    const out = new Uint8Array(clientFrameLength(10));
    writeClientFrame(out, 0, WsOpcode.PONG, big, 7, 17, Uint8Array.of(1, 2, 3, 4));
    const f = decodeClientFrame(out);
    expect(f.opcode).toBe(WsOpcode.PONG);
    expect(Array.from(f.payload)).toEqual(Array.from(big.subarray(7, 17)));
  });
});

describe('server frame parser', () => {
  it('reads 7-bit, 16-bit and 64-bit lengths', () => {
    for (const n of [0, 125, 126, 65535, 65536, 200_000]) {
      const ev = parseInPieces(serverFrame(WsOpcode.BINARY, bytes(n)), []);
      expect(ev).toHaveLength(1);
      expect(ev[0]).toMatchObject({ kind: 'message', binary: true });
      expect((ev[0] as { bytes: string }).bytes).toBe(hex(bytes(n)));
    }
  });

  it('joins a fragmented message, with control frames interleaved between its fragments', () => {
    const stream = concat(
      serverFrame(WsOpcode.BINARY, bytes(10, 1), false),
      serverFrame(WsOpcode.PING, Uint8Array.of(9, 8, 7)),
      serverFrame(WsOpcode.CONTINUATION, bytes(300, 2), false),
      serverFrame(WsOpcode.PONG, Uint8Array.of()),
      serverFrame(WsOpcode.CONTINUATION, bytes(5, 3), true),
      serverFrame(WsOpcode.BINARY, Uint8Array.of(42)),
    );
    expect(parseInPieces(stream, [])).toEqual([
      { kind: 'ping', bytes: hex([9, 8, 7]) }, // a control frame is handled as it arrives, mid-message
      { kind: 'message', bytes: hex([...bytes(10, 1), ...bytes(300, 2), ...bytes(5, 3)]), binary: true },
      { kind: 'message', bytes: hex([42]), binary: true },
    ]);
  });

  it('gives the same result for a stream split across two reads at every byte offset, and byte by byte', () => {
    const stream = concat(
      serverFrame(WsOpcode.BINARY, bytes(3)),
      serverFrame(WsOpcode.BINARY, bytes(200, 5), false), // 16-bit length, fragmented
      serverFrame(WsOpcode.PING, Uint8Array.of(1, 2)),
      serverFrame(WsOpcode.CONTINUATION, bytes(130, 6)),
      serverFrame(WsOpcode.TEXT, Uint8Array.of(104, 105)),
      serverFrame(WsOpcode.CLOSE, Uint8Array.of(0x03, 0xe9, 0x62, 0x79, 0x65)),
    );
    const whole = parseInPieces(stream, []);
    expect(whole.map((e) => e.kind)).toEqual(['message', 'ping', 'message', 'message', 'close']);
    expect(whole[4]).toEqual({ kind: 'close', code: 1001, reason: 'bye' });
    for (let cut = 0; cut <= stream.length; cut++) expect(parseInPieces(stream, [cut])).toEqual(whole);
    expect(parseInPieces(stream, Array.from({ length: stream.length }, (_, i) => i))).toEqual(whole);
  });

  it('parses any stream of frames cut anywhere the same as whole (seeded)', () => {
    const frameArb = fc.record({
      n: fc.oneof(fc.integer({ min: 0, max: 130 }), fc.integer({ min: 65530, max: 65540 })),
      pieces: fc.integer({ min: 1, max: 3 }),
      ping: fc.boolean(),
    });
    const seed = Number(process.env.FC_SEED ?? Date.now() % 1e9);
    console.log(`ws-frame property seed ${seed}`);
    fc.assert(fc.property(fc.array(frameArb, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (frames, rawCuts) => {
      const parts: Uint8Array[] = [];
      const expected: Event[] = [];
      frames.forEach((f, k) => {
        const payload = bytes(f.n, k);
        const step = Math.ceil(f.n / f.pieces) || 1;
        for (let i = 0, first = true; first || i < f.n; i += step, first = false) {
          const last = i + step >= f.n;
          parts.push(serverFrame(first ? WsOpcode.BINARY : WsOpcode.CONTINUATION, payload.subarray(i, Math.min(f.n, i + step)), last));
          if (f.ping && !last) { parts.push(serverFrame(WsOpcode.PING, Uint8Array.of(k))); expected.push({ kind: 'ping', bytes: hex([k]) }); }
        }
        expected.push({ kind: 'message', bytes: hex(payload), binary: true });
      });
      const stream = concat(...parts);
      const cuts = [...new Set(rawCuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
      expect(parseInPieces(stream, cuts)).toEqual(expected);
    }), { seed, numRuns: 100 });
  });

  it.each([
    ['a masked server frame', Uint8Array.of(0x82, 0x81, 1, 2, 3, 4, 5), 1002],
    ['reserved bits', serverFrame(WsOpcode.BINARY, bytes(2), true, 0x40), 1002],
    ['a continuation outside a message', serverFrame(WsOpcode.CONTINUATION, bytes(2)), 1002],
    ['a new message inside a fragmented one', concat(serverFrame(WsOpcode.BINARY, bytes(2), false), serverFrame(WsOpcode.BINARY, bytes(2))), 1002],
    ['a fragmented control frame', serverFrame(WsOpcode.PING, bytes(2), false), 1002],
    ['a control frame over 125 bytes', serverFrame(WsOpcode.PING, bytes(126)), 1002],
    ['a close frame of one byte', serverFrame(WsOpcode.CLOSE, Uint8Array.of(3)), 1002],
    ['a reserved opcode', serverFrame(0x3, bytes(1)), 1002],
  ])('fails on %s, and parses nothing after', (_what, stream, code) => {
    const ev = parseInPieces(concat(stream, serverFrame(WsOpcode.BINARY, bytes(1))), []);
    expect(ev).toEqual([{ kind: 'fail', code }]);
  });

  it('refuses a message over its limit with 1009, before it has all arrived', () => {
    const r = recorder();
    const p = new FrameParser(r.sink, 1000);
    p.feed(serverFrame(WsOpcode.BINARY, bytes(1001)).subarray(0, 10));
    expect(r.events).toEqual([{ kind: 'fail', code: 1009 }]);
  });

  it('reports a close frame without a code as 1005', () => {
    expect(parseInPieces(serverFrame(WsOpcode.CLOSE, new Uint8Array(0)), [])).toEqual([{ kind: 'close', code: 1005, reason: '' }]);
  });
});

describe('handshake', () => {
  // RFC 6455 §1.3's own example.
  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  const good = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}`;

  it('computes the accept value of the RFC example', () => {
    expect(acceptFor(key)).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('accepts a proper 101 and refuses anything else', () => {
    expect(checkHandshake(good, key)).toBeNull();
    expect(checkHandshake(good.replace('101 Switching Protocols', '503 Service Unavailable'), key)).toBe('status 503');
    expect(checkHandshake(good.replace(acceptFor(key), acceptFor('AAAAAAAAAAAAAAAAAAAAAA==')), key)).toBe('wrong Sec-WebSocket-Accept');
    expect(checkHandshake(good.replace('Upgrade: websocket', 'Upgrade: h2c'), key)).toBe('no Upgrade: websocket');
    expect(checkHandshake(`${good}\r\nSec-WebSocket-Extensions: permessage-deflate`, key)).toBe('an extension we did not ask for');
  });
});
