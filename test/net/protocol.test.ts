/**
 * Properties of the wire codec (src/net/protocol.ts): every message round-trips, and no input of any shape
 * makes a decoder throw anything but a ProtocolError whose codes agree with ErrorCode / ERROR_CLOSE_CODE.
 * The exact byte layout is pinned separately in protocol-golden.test.ts.
 *
 * fast-check prints the seed and the shrunk counter-example on failure; replay one with
 * `fc.assert(prop, { seed, path })` and pin it below as a named regression test.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHUNK_AREA } from '../../src/chunks/geometry.js';
import {
  type ClientMessage,
  type CursorEntry,
  ERROR_CLOSE_CODE,
  type ErrorCodeName,
  ErrorCode,
  HEADER_BYTES,
  MAX_BODY_BYTES,
  type Message,
  Op,
  ProtocolError,
  type ServerMessage,
  SnapshotEncoding,
  decodeClientMessage,
  decodeServerMessages,
  encodeChunkDelta,
  encodeCursors,
  encodeHello,
  encodeMessage,
  encodePlace,
  encodePlaceResult,
  errorName,
} from '../../src/net/protocol.js';

// ---- helpers -----------------------------------------------------------------------------------------

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Longest prefix of s, in whole code points, whose UTF-8 encoding fits in max bytes (independent of utf8Truncate). */
function fitUtf8(s: string, max: number): string {
  let out = '';
  let n = 0;
  for (const ch of s) {
    const b = utf8Length(ch);
    if (n + b > max) break;
    out += ch;
    n += b;
  }
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A message with the given opcode and body, its header written by hand. */
function rawMessage(op: number, body: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + body.length);
  out[0] = op;
  out[1] = body.length & 0xff;
  out[2] = body.length >>> 8;
  out.set(body, HEADER_BYTES);
  return out;
}

/**
 * The value with typed arrays replaced by `Type:hex` strings. Deep-equal means the same as before, but
 * vitest's element-by-element comparison of 4096-entry typed arrays was most of this suite's run time.
 */
function plain(v: unknown): unknown {
  if (ArrayBuffer.isView(v)) {
    return `${v.constructor.name}:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  }
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** The only codes a decoder can produce; the others are for the connection layer. */
const DECODE_CODES: readonly ErrorCodeName[] = ['MALFORMED', 'UNKNOWN_OPCODE', 'BAD_UTF8'];

function expectProtocolError(e: unknown, code?: ErrorCodeName): void {
  expect(e).toBeInstanceOf(ProtocolError);
  const pe = e as ProtocolError;
  expect(pe.name).toBe('ProtocolError');
  expect(DECODE_CODES).toContain(pe.code);
  expect(pe.wireCode).toBe(ErrorCode[pe.code]);
  expect(pe.closeCode).toBe(ERROR_CLOSE_CODE[pe.code]);
  expect(errorName(pe.wireCode)).toBe(pe.code);
  expect(pe.message.startsWith(`${pe.code}: `)).toBe(true);
  if (code !== undefined) expect(pe.code).toBe(code);
}

/** Runs fn; it may return, but if it throws it must be a well-formed ProtocolError. */
function decodesOrProtocolError(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    expectProtocolError(e);
  }
}

/** Runs fn, which must throw; returns the error after checking it is a ProtocolError with `code`. */
function protocolErrorOf(fn: () => unknown, code: ErrorCodeName): ProtocolError {
  let caught: unknown = undefined;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected the decoder to throw').toBeDefined();
  expectProtocolError(caught, code);
  return caught as ProtocolError;
}

// ---- arbitraries: every field within its wire range ---------------------------------------------------

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const f64 = fc.double({ noNaN: true, noDefaultInfinity: true });

/**
 * UTF-8 text of at most maxBytes bytes: short strings of any code point, plus near-limit ones.
 */
const text = (maxBytes: number): fc.Arbitrary<string> =>
  fc
    .oneof(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: 'grapheme', maxLength: maxBytes }),
      fc.string({ unit: 'binary', minLength: Math.floor(maxBytes / 4), maxLength: maxBytes, size: 'max' }),
      fc.string({ unit: 'binary-ascii', minLength: maxBytes - 3, maxLength: maxBytes + 3 }),
    )
    .map((s) => fitUtf8(s, maxBytes));

const pixel = fc.record({ x: u16, y: u16, color: u8 });

const helloArb = fc.record({
  type: fc.constant('hello' as const), version: u16, name: text(255),
  token: fc.option(fc.uint8Array({ minLength: 16, maxLength: 16 }), { nil: undefined }),
});
const viewportArb = fc.record({ type: fc.constant('viewport' as const), x: i32, y: i32, w: u32, h: u32 });
const placeArb = fc.record({ type: fc.constant('place' as const), seq: u32, pixels: fc.array(pixel, { maxLength: 64 }) });
const cursorArb = fc.record({ type: fc.constant('cursor' as const), x: u16, y: u16, hidden: fc.boolean() });
const resumeArb = fc.record({
  type: fc.constant('resume' as const),
  chunks: fc.array(fc.record({ cx: u16, cy: u16, version: u32 }), { maxLength: 64 }),
});
const pingArb = fc.record({ type: fc.constant('ping' as const), nonce: u32 });

const lodViewportArb = fc.record({ type: fc.constant('lodViewport' as const), level: u8, x: i32, y: i32, w: u32, h: u32 });

const clientMessageArb: fc.Arbitrary<ClientMessage> = fc.oneof(helloArb, viewportArb, placeArb, cursorArb, resumeArb, pingArb, lodViewportArb);

const welcomeArb = fc.record({
  type: fc.constant('welcome' as const),
  // Version 1 has its own, shorter layout (no budget or session fields): test/net/v1-golden.test.ts.
  version: fc.integer({ min: 2, max: 0xffff }),
  clientId: u32,
  epoch: u32,
  width: u32,
  height: u32,
  chunkSize: u16,
  tickHz: u16,
  serverTime: f64,
  background: u8,
  limits: fc.record({
    paintRate: f64,
    paintBurst: u32,
    maxPlaceBatch: u16,
    maxViewportArea: u32,
    cursorHz: u16,
    viewportHz: u16,
    maxNameBytes: u8,
    maxMessageBytes: u32,
  }),
  palette: fc.array(fc.integer({ min: 0, max: 0xffffff }), { maxLength: 256 }),
  budget: fc.record({
    rate: f64,
    burst: f64,
    costs: fc.record({ place: u16, placePerPixel: u16, viewport: u16, cursor: u16, resume: u16, hello: u16, ping: u16 }),
  }),
  session: fc.record({ known: fc.boolean(), lastSeq: u32 }),
});

/** Generating 4096 independent values is slow; a random tile repeated over the chunk exercises the codec as well. */
const rawChunk = fc.uint8Array({ minLength: 1, maxLength: 97 }).map((tile) => Uint8Array.from({ length: CHUNK_AREA }, (_, i) => tile[i % tile.length]!));

/** Large deltas (up to a whole chunk changed), built from a seed for the same reason. */
const bigDeltaEntries = fc
  .tuple(fc.integer({ min: 1000, max: CHUNK_AREA }), fc.integer({ min: 1, max: CHUNK_AREA - 1 }), u8)
  .map(([count, step, c0]) => Array.from({ length: count }, (_, i): [number, number] => [(i * step) % CHUNK_AREA, (c0 + i) & 0xff]));

const snapshotArb = fc
  .tuple(
    u16,
    u16,
    u32,
    fc.oneof(
      fc.constant({ encoding: SnapshotEncoding.EMPTY as number, data: new Uint8Array(0) }),
      fc.record({ encoding: fc.constant(SnapshotEncoding.RAW as number), data: rawChunk }),
      fc.record({ encoding: u8, data: fc.uint8Array({ maxLength: 512 }) }),
    ),
  )
  .map(([cx, cy, version, { encoding, data }]) => ({ type: 'snapshot' as const, cx, cy, version, encoding, data }));

const deltaArb = fc
  .tuple(
    u16,
    u16,
    u32,
    fc.oneof(
      fc.array(fc.tuple(fc.integer({ min: 0, max: CHUNK_AREA - 1 }), u8), { maxLength: 64 }),
      bigDeltaEntries,
    ),
  )
  .map(([cx, cy, version, entries]) => ({
    type: 'delta' as const,
    cx,
    cy,
    version,
    offsets: Uint16Array.from(entries, (e) => e[0]),
    colors: Uint8Array.from(entries, (e) => e[1]),
  }));

const placeResultArb = fc.record({ type: fc.constant('placeResult' as const), seq: u32, status: u8, count: u16, retryAfterMs: u32 });
const cursorEntryArb: fc.Arbitrary<CursorEntry> = fc.record({ id: u32, x: u16, y: u16, name: text(255) });
const cursorsArb = fc.record({
  type: fc.constant('cursors' as const),
  moved: fc.array(cursorEntryArb, { maxLength: 32 }),
  removed: fc.array(u32, { maxLength: 64 }),
});
const onlineArb = fc.oneof(
  fc.record({ type: fc.constant('online' as const), count: u32 }),
  fc.record({ type: fc.constant('online' as const), count: u32, level: fc.integer({ min: 0, max: 255 }), cadence: fc.integer({ min: 0, max: 255 }) }),
);
const errorArb = fc.record({ type: fc.constant('error' as const), code: u16, op: u8, message: text(200) });
const pongArb = fc.record({ type: fc.constant('pong' as const), nonce: u32, serverTime: f64 });

const lodSnapshotArb = fc.tuple(u8, snapshotArb).map(([level, m]) => ({ ...m, type: 'lodSnapshot' as const, level }));
const lodDeltaArb = fc.tuple(u8, deltaArb).map(([level, m]) => ({ ...m, type: 'lodDelta' as const, level }));

const serverMessageArb: fc.Arbitrary<ServerMessage> = fc.oneof(
  lodSnapshotArb,
  lodDeltaArb,
  welcomeArb,
  snapshotArb,
  deltaArb,
  placeResultArb,
  cursorsArb,
  onlineArb,
  errorArb,
  pongArb,
);

// ---- round trips -----------------------------------------------------------------------------------

describe('round trip', () => {
  const perType: [string, fc.Arbitrary<Message>][] = [
    ['HELLO', helloArb],
    ['VIEWPORT', viewportArb],
    ['LOD_VIEWPORT', lodViewportArb],
    ['LOD_SNAPSHOT', lodSnapshotArb],
    ['LOD_DELTA', lodDeltaArb],
    ['PLACE', placeArb],
    ['CURSOR', cursorArb],
    ['RESUME', resumeArb],
    ['PING', pingArb],
    ['WELCOME', welcomeArb],
    ['SNAPSHOT', snapshotArb],
    ['DELTA', deltaArb],
    ['PLACE_RESULT', placeResultArb],
    ['CURSORS', cursorsArb],
    ['ONLINE', onlineArb],
    ['ERROR', errorArb],
    ['PONG', pongArb],
  ];

  it.each(perType)('%s: decode(encode(m)) equals m', (_name, arb) => {
    fc.assert(
      fc.property(arb, (m) => {
        const bytes = encodeMessage(m);
        expect(bytes.length).toBe(HEADER_BYTES + (bytes[1]! | (bytes[2]! << 8)));
        if (isClient(m)) expect(decodeClientMessage(bytes)).toEqual(m);
        else expect(plain(decodeServerMessages(bytes))).toEqual(plain([m]));
      }),
    );
  });

  it('client messages: decodeClientMessage(encode(m)) equals m', () => {
    fc.assert(
      fc.property(clientMessageArb, (m) => {
        expect(decodeClientMessage(encodeMessage(m))).toEqual(m);
      }),
    );
  });

  it('server messages concatenated in one frame decode to the list, in order', () => {
    fc.assert(
      fc.property(fc.array(serverMessageArb, { minLength: 1, maxLength: 8 }), (ms) => {
        expect(plain(decodeServerMessages(concat(ms.map(encodeMessage))))).toEqual(plain(ms));
      }),
    );
  });

  it('decodes from a Buffer view at a non-zero byteOffset (how ws hands over pooled memory)', () => {
    fc.assert(
      fc.property(fc.array(serverMessageArb, { minLength: 1, maxLength: 4 }), u8, (ms, pad) => {
        const frame = concat(ms.map(encodeMessage));
        const pool = new Uint8Array(pad + frame.length + 7).fill(0xee);
        pool.set(frame, pad);
        const view = pool.subarray(pad, pad + frame.length);
        expect(plain(decodeServerMessages(view))).toEqual(plain(ms));
      }),
    );
    fc.assert(
      fc.property(clientMessageArb, u8, (m, pad) => {
        const bytes = encodeMessage(m);
        const pool = Buffer.alloc(pad + bytes.length + 5, 0xee);
        pool.set(bytes, pad);
        expect(decodeClientMessage(pool.subarray(pad, pad + bytes.length))).toEqual(m);
      }),
    );
  });

  it('DELTA encodes only the first `count` entries of its arrays (the tick reuses scratch buffers)', () => {
    fc.assert(
      fc.property(deltaArb, fc.nat(), (d, k) => {
        const count = d.offsets.length === 0 ? 0 : k % (d.offsets.length + 1);
        const [back] = decodeServerMessages(encodeChunkDelta(d.cx, d.cy, d.version, d.offsets, d.colors, count));
        expect(plain(back)).toEqual(plain({ ...d, offsets: d.offsets.slice(0, count), colors: d.colors.slice(0, count) }));
      }),
    );
  });
});

function isClient(m: Message): m is ClientMessage {
  return ['hello', 'viewport', 'place', 'cursor', 'resume', 'ping', 'lodViewport'].includes(m.type);
}

// ---- encoder edges -------------------------------------------------------------------------------------

describe('encoders', () => {
  it('cut over-long text at a character boundary: HELLO name ≤ 255 bytes, ERROR text ≤ 200, a prefix of the original', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 40, maxLength: 400, size: 'max' }), (s) => {
        const hello = decodeClientMessage(encodeHello(1, s));
        if (hello.type !== 'hello') throw new Error('not a hello');
        expect(hello.name).toBe(fitUtf8(s, 255));
        const [err] = decodeServerMessages(encodeMessage({ type: 'error', code: 1, op: 0, message: s }));
        if (err!.type !== 'error') throw new Error('not an error');
        expect(err.message).toBe(fitUtf8(s, 200));
      }),
    );
  });

  it('PLACE_RESULT rounds retryAfterMs up and clamps it to a u32', () => {
    const retry = (ms: number): number => {
      const [r] = decodeServerMessages(encodePlaceResult(1, ErrorCode.RATE_LIMITED, 0, ms));
      return r!.type === 'placeResult' ? r.retryAfterMs : NaN;
    };
    expect(retry(0.2)).toBe(1);
    expect(retry(1499.5)).toBe(1500);
    expect(retry(-5)).toBe(0);
    expect(retry(2 ** 40)).toBe(0xffffffff);
  });

  it('refuse a body over 65535 bytes with a RangeError (largest PLACE: 13105 pixels)', () => {
    const px = { x: 1, y: 2, color: 3 };
    const biggest = encodePlace(0, new Array<typeof px>(13105).fill(px));
    expect(biggest.length).toBe(HEADER_BYTES + MAX_BODY_BYTES - 4);
    expect(() => encodePlace(0, new Array<typeof px>(13106).fill(px))).toThrow(RangeError);
    const longName: CursorEntry = { id: 1, x: 0, y: 0, name: 'n'.repeat(255) };
    expect(() => encodeCursors(new Array<CursorEntry>(249).fill(longName), [])).toThrow(RangeError);
  });

  // Regression: the decoder once stripped a leading U+FEFF from every decoded text.
  it('keeps a leading U+FEFF in a name', () => {
    expect(decodeClientMessage(encodeHello(1, '\uFEFFbob'))).toEqual({ type: 'hello', version: 1, name: '\uFEFFbob' });
  });
});

// ---- bad input ---------------------------------------------------------------------------------------

const allOps = Object.values(Op) as number[];

/** A message with a known or random opcode, a consistent length and a random body: reaches the body decoders. */
const framedGarbage = fc
  .tuple(fc.oneof(fc.constantFrom(...allOps), u8), fc.uint8Array({ maxLength: 300 }))
  .map(([op, body]) => rawMessage(op, body));

/** A valid message, then damaged: truncated, a byte overwritten, bytes inserted or appended. */
const mutated = (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> =>
  fc
    .tuple(valid, fc.nat(), u8, fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.constantFrom('truncate', 'overwrite', 'insert', 'append'))
    .map(([bytes, at, value, extra, how]) => {
      const i = at % (bytes.length + 1);
      switch (how) {
        case 'truncate':
          return bytes.slice(0, i);
        case 'overwrite': {
          const out = bytes.slice();
          if (i < out.length) out[i] = value;
          return out;
        }
        case 'insert':
          return concat([bytes.subarray(0, i), extra, bytes.subarray(i)]);
        case 'append':
          return concat([bytes, extra]);
      }
    });

const validClientBytes = clientMessageArb.map(encodeMessage);
const validServerBytes = fc.array(serverMessageArb, { minLength: 1, maxLength: 3 }).map((ms) => concat(ms.map(encodeMessage)));

describe('decoders on bad input', () => {
  const decoders: [string, (b: Uint8Array) => unknown][] = [
    ['decodeClientMessage', decodeClientMessage],
    ['decodeServerMessages', decodeServerMessages],
  ];

  it.each(decoders)('%s: arbitrary bytes never throw anything but ProtocolError', (_n, decode) => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => decodesOrProtocolError(() => decode(b))), { numRuns: 300 });
    fc.assert(fc.property(framedGarbage, (b) => decodesOrProtocolError(() => decode(b))), { numRuns: 600 });
  });

  it.each(decoders)('%s: mutated valid messages never throw anything but ProtocolError', (_n, decode) => {
    fc.assert(fc.property(mutated(validClientBytes), (b) => decodesOrProtocolError(() => decode(b))), { numRuns: 300 });
    fc.assert(fc.property(mutated(validServerBytes), (b) => decodesOrProtocolError(() => decode(b))), { numRuns: 300 });
  });

  it('any strict truncation of a message is MALFORMED', () => {
    fc.assert(
      fc.property(clientMessageArb, fc.nat(), (m, k) => {
        const bytes = encodeMessage(m);
        protocolErrorOf(() => decodeClientMessage(bytes.subarray(0, k % bytes.length)), 'MALFORMED');
      }),
    );
    fc.assert(
      fc.property(serverMessageArb, fc.nat(), (m, k) => {
        const bytes = encodeMessage(m);
        protocolErrorOf(() => decodeServerMessages(bytes.subarray(0, k % bytes.length)), 'MALFORMED');
      }),
    );
  });

  it('an empty frame is MALFORMED for both decoders', () => {
    protocolErrorOf(() => decodeClientMessage(new Uint8Array(0)), 'MALFORMED');
    protocolErrorOf(() => decodeServerMessages(new Uint8Array(0)), 'MALFORMED');
  });

  it('trailing bytes in a client message are MALFORMED, after the message or inside its body', () => {
    fc.assert(
      fc.property(clientMessageArb, fc.uint8Array({ minLength: 1, maxLength: 16 }), (m, extra) => {
        const bytes = encodeMessage(m);
        // A second message (or garbage) after the first in the same WebSocket message.
        protocolErrorOf(() => decodeClientMessage(concat([bytes, extra])), 'MALFORMED');
        // The length field covers extra bytes the body does not use.
        const padded = rawMessage(bytes[0]!, concat([bytes.subarray(HEADER_BYTES), extra]));
        protocolErrorOf(() => decodeClientMessage(padded), 'MALFORMED');
      }),
    );
    protocolErrorOf(() => decodeClientMessage(concat([encodeMessage({ type: 'ping', nonce: 1 }), encodeMessage({ type: 'ping', nonce: 2 })])), 'MALFORMED');
  });

  // Since protocol 2: a later version may append fields to a server message, so a client steps over bytes
  // after the fields it knows (by the body length) instead of failing; client messages stay strict.
  it('bytes after the known fields of a server body are ignored (SNAPSHOT and LOD_SNAPSHOT data run to the end), and the next message still decodes', () => {
    fc.assert(
      fc.property(serverMessageArb, fc.uint8Array({ minLength: 1, maxLength: 16 }), (m, extra) => {
        const bytes = encodeMessage(m);
        // WELCOME's tail is a list of extension records: unknown kinds (here 0xfe) are stepped over.
        if (m.type === 'welcome') extra[0] = 0xfe;
        const padded = rawMessage(bytes[0]!, concat([bytes.subarray(HEADER_BYTES), extra]));
        const next = encodeMessage({ type: 'online', count: 7 });
        const decoded = decodeServerMessages(concat([padded, next]));
        if (m.type === 'snapshot' || m.type === 'lodSnapshot') {
          expect(plain(decoded)).toEqual(plain([{ ...m, data: concat([m.data, extra]) }, { type: 'online', count: 7 }]));
        } else if (m.type === 'online' && m.level === undefined && extra.length >= 2) {
          // ONLINE grew `level u8, cadence u8` (the overload policy): the first two bytes are those fields.
          expect(plain(decoded)).toEqual(plain([{ ...m, level: extra[0], cadence: extra[1] }, { type: 'online', count: 7 }]));
        } else {
          expect(plain(decoded)).toEqual(plain([m, { type: 'online', count: 7 }]));
        }
      }),
    );
  });

  describe('absurd counts are refused before anything is allocated for them', () => {
    // The body is short; the count claims far more items than could fit. "do not fit" is the message of the
    // up-front check (BodyReader.expectItems), as opposed to a read running off the end mid-loop.
    const u16le = (n: number): number[] => [n & 0xff, n >>> 8];
    const cases: [string, Uint8Array, (b: Uint8Array) => unknown][] = [
      ['PLACE count 65535 in a 10-byte body', rawMessage(Op.PLACE, [1, 0, 0, 0, ...u16le(65535), 1, 2, 3, 4]), decodeClientMessage],
      ['RESUME count 65535', rawMessage(Op.RESUME, [...u16le(65535), 0, 0, 0, 0, 0, 0, 0, 0]), decodeClientMessage],
      ['DELTA count 65535', rawMessage(Op.DELTA, [0, 0, 0, 0, 1, 0, 0, 0, ...u16le(65535), 1, 2, 3]), decodeServerMessages],
      ['CURSORS moved 65535', rawMessage(Op.CURSORS, [...u16le(65535), 0, 0]), decodeServerMessages],
      ['CURSORS removed 65535', rawMessage(Op.CURSORS, [0, 0, ...u16le(65535), 1, 2, 3, 4]), decodeServerMessages],
      ['WELCOME palette 65535', rawMessage(Op.WELCOME, [...new Array<number>(58).fill(0), ...u16le(65535), 1, 2, 3]), decodeServerMessages],
    ];
    it.each(cases)('%s → MALFORMED', (_name, bytes, decode) => {
      const e = protocolErrorOf(() => decode(bytes), 'MALFORMED');
      expect(e.message).toMatch(/do not fit/);
      expect(e.closeCode).toBe(1002);
    });
  });

  it('invalid UTF-8 in a HELLO name is BAD_UTF8, close 1007', () => {
    const badNames = [
      [0xff], // never valid
      [0xc3, 0x28], // lead byte then a non-continuation
      [0xc0, 0x80], // overlong NUL
      [0xed, 0xa0, 0x80], // UTF-16 surrogate half
      [0x62, 0xf0, 0x9f, 0x98], // a 4-byte sequence cut short
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    ];
    for (const name of badNames) {
      const e = protocolErrorOf(() => decodeClientMessage(rawMessage(Op.HELLO, [1, 0, name.length, ...name])), 'BAD_UTF8');
      expect(e.wireCode).toBe(5);
      expect(e.closeCode).toBe(1007);
    }
  });

  it('invalid UTF-8 in a CURSORS name or ERROR text is BAD_UTF8', () => {
    const cursors = rawMessage(Op.CURSORS, [1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0]);
    protocolErrorOf(() => decodeServerMessages(cursors), 'BAD_UTF8');
    const error = rawMessage(Op.ERROR, [1, 0, 3, 2, 0xc3, 0x28]);
    protocolErrorOf(() => decodeServerMessages(error), 'BAD_UTF8');
  });

  it('an opcode the decoder does not know is UNKNOWN_OPCODE, close 1003', () => {
    const clientOps = [Op.HELLO, Op.VIEWPORT, Op.PLACE, Op.CURSOR, Op.RESUME, Op.PING, Op.LOD_VIEWPORT] as number[];
    fc.assert(
      fc.property(u8.filter((op) => !clientOps.includes(op)), (op) => {
        const e = protocolErrorOf(() => decodeClientMessage(rawMessage(op, [])), 'UNKNOWN_OPCODE');
        expect(e.wireCode).toBe(2);
        expect(e.closeCode).toBe(1003);
      }),
    );
    fc.assert(
      fc.property(u8.filter((op) => !allOps.includes(op) || clientOps.includes(op)), (op) => {
        protocolErrorOf(() => decodeServerMessages(rawMessage(op, [1, 2, 3])), 'UNKNOWN_OPCODE');
      }),
    );
  });

  it('the two directions do not share opcodes: a client message is UNKNOWN_OPCODE to the server decoder and back', () => {
    fc.assert(fc.property(clientMessageArb, (m) => void protocolErrorOf(() => decodeServerMessages(encodeMessage(m)), 'UNKNOWN_OPCODE')));
    fc.assert(fc.property(serverMessageArb, (m) => void protocolErrorOf(() => decodeClientMessage(encodeMessage(m)), 'UNKNOWN_OPCODE')));
  });
});

describe('ProtocolError', () => {
  it('carries wire and close codes from ErrorCode / ERROR_CLOSE_CODE for every code', () => {
    for (const code of Object.keys(ErrorCode) as ErrorCodeName[]) {
      const e = new ProtocolError(code, 'detail');
      expect(e).toBeInstanceOf(Error);
      expect(e.wireCode).toBe(ErrorCode[code]);
      expect(e.closeCode).toBe(ERROR_CLOSE_CODE[code]);
      expect(errorName(e.wireCode)).toBe(code);
    }
    expect(errorName(200)).toBeUndefined();
  });
});

describe('skipping server messages', () => {
  it('steps over skipped opcodes by their length and decodes the rest', () => {
    const frame = new Uint8Array([
      ...encodeMessage({ type: 'online', count: 3 }),
      ...encodeMessage({ type: 'cursors', moved: [{ id: 1, x: 2, y: 3, name: 'n' }], removed: [4] }),
      ...encodeMessage({ type: 'pong', nonce: 9, serverTime: 1.5 }),
    ]);
    expect(decodeServerMessages(frame, new Set([Op.CURSORS]))).toEqual([
      { type: 'online', count: 3 }, { type: 'pong', nonce: 9, serverTime: 1.5 },
    ]);
    // A skipped message must still fit: a lying length is MALFORMED, skipped or not.
    const bad = frame.slice(0, frame.length - 13);
    expect(() => decodeServerMessages(bad.subarray(0, 10), new Set([Op.CURSORS]))).toThrow(ProtocolError);
  });
});
