/**
 * Golden vectors: the exact bytes of one example of every message, written by hand from the layout in
 * docs/protocol.md (which shows the same hex). A change here is a wire-format change: bump PROTOCOL_VERSION.
 * The numeric tables (opcodes, error and close codes) are pinned too, because clients hard-code them.
 */
import { describe, expect, it } from 'vitest';
import { CHUNK_AREA, pixelOffset } from '../../src/chunks/geometry.js';
import {
  CloseCode,
  ERROR_CLOSE_CODE,
  ErrorCode,
  type Message,
  Op,
  PROTOCOL_VERSION,
  SnapshotEncoding,
  decodeClientMessage,
  decodeServerMessages,
  encodeChunkDelta,
  encodeChunkSnapshot,
  encodeMessage,
} from '../../src/net/protocol.js';

/** '01 06 00 …' (any whitespace, `|` allowed as a field separator) → bytes. */
function hex(s: string): Uint8Array {
  const groups = s.replace(/\|/g, ' ').trim().split(/\s+/);
  return Uint8Array.from(groups, (g) => {
    if (!/^[0-9a-f]{2}$/i.test(g)) throw new Error(`bad hex group ${JSON.stringify(g)}`);
    return parseInt(g, 16);
  });
}

/** Bytes → '01 06 00 …', for readable diffs. */
function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

// 1.5 × 2^40 ms = 1649267441664 (2022-04-06), exactly representable: f64 0x4278000000000000.
const SERVER_TIME = 1649267441664;

// DELTA example: pixels (133, 67) and (191, 127) lie in chunk (2, 1) at (lx, ly) = (5, 3) and (63, 63).
const DELTA_OFFSETS = Uint16Array.of(pixelOffset(133, 67), pixelOffset(191, 127));

interface Vector {
  name: string;
  message: Message;
  /** Fields separated by `|`, in layout order. */
  hex: string;
}

const CLIENT_VECTORS: Vector[] = [
  {
    name: 'HELLO v2 "Zoë", no token',
    message: { type: 'hello', version: 2, name: 'Zoë' },
    //    op len    | version | nameLen | 'Z' 'o' 'ë'(c3 ab)
    hex: '01 07 00 | 02 00 | 04 | 5a 6f c3 ab',
  },
  {
    name: 'HELLO v2 "", session token 00 01 … 0f',
    message: { type: 'hello', version: 2, name: '', token: Uint8Array.from({ length: 16 }, (_, i) => i) },
    //    op len    | version | nameLen | token (16 bytes)
    hex: '01 13 00 | 02 00 | 00 | 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f',
  },
  {
    name: 'VIEWPORT x=-64 y=128 w=1920 h=1080',
    message: { type: 'viewport', x: -64, y: 128, w: 1920, h: 1080 },
    hex: '02 10 00 | c0 ff ff ff | 80 00 00 00 | 80 07 00 00 | 38 04 00 00',
  },
  {
    name: 'PLACE seq=7, two pixels',
    message: { type: 'place', seq: 7, pixels: [{ x: 100, y: 200, color: 5 }, { x: 1000, y: 513, color: 31 }] },
    //    op len    | seq         | count | x     y     color | x     y     color
    hex: '03 10 00 | 07 00 00 00 | 02 00 | 64 00 c8 00 05 | e8 03 01 02 1f',
  },
  {
    name: 'CURSOR x=300 y=40 shown',
    message: { type: 'cursor', x: 300, y: 40, hidden: false },
    hex: '04 05 00 | 2c 01 | 28 00 | 00',
  },
  {
    name: 'CURSOR hidden',
    message: { type: 'cursor', x: 0, y: 0, hidden: true },
    hex: '04 05 00 | 00 00 | 00 00 | 01',
  },
  {
    name: 'RESUME two chunks',
    message: { type: 'resume', chunks: [{ cx: 1, cy: 2, version: 300 }, { cx: 15, cy: 0, version: 0x01020304 }] },
    //    op len    | count | cx    cy    version     | cx    cy    version
    hex: '05 12 00 | 02 00 | 01 00 02 00 2c 01 00 00 | 0f 00 00 00 04 03 02 01',
  },
  {
    name: 'PING nonce=0xdeadbeef',
    message: { type: 'ping', nonce: 0xdeadbeef },
    hex: '06 04 00 | ef be ad de',
  },
];

const SERVER_VECTORS: Vector[] = [
  {
    name: 'WELCOME 1024×512, two colours',
    message: {
      type: 'welcome',
      version: 2,
      clientId: 42,
      epoch: 0x89abcdef,
      width: 1024,
      height: 512,
      chunkSize: 64,
      tickHz: 60,
      serverTime: SERVER_TIME,
      background: 0,
      limits: {
        paintRate: 1.5,
        paintBurst: 20,
        maxPlaceBatch: 16,
        maxViewportArea: 1048576,
        cursorHz: 10,
        viewportHz: 20,
        maxNameBytes: 32,
        maxMessageBytes: 70000,
      },
      palette: [0xffffff, 0xe50000],
      budget: { rate: 200, burst: 400, costs: { place: 1, placePerPixel: 1, viewport: 2, cursor: 1, resume: 20, hello: 20, ping: 1 } },
      session: { known: true, lastSeq: 7 },
    },
    hex: [
      '81 65 00', // op, body length 101
      '02 00', // version
      '2a 00 00 00', // clientId
      'ef cd ab 89', // epoch
      '00 04 00 00', // width
      '00 02 00 00', // height
      '40 00', // chunkSize
      '3c 00', // tickHz
      '00 00 00 00 00 00 78 42', // serverTime f64
      '00', // background
      '00 00 00 00 00 00 f8 3f', // limits.paintRate f64 1.5
      '14 00 00 00', // limits.paintBurst
      '10 00', // limits.maxPlaceBatch
      '00 00 10 00', // limits.maxViewportArea
      '0a 00', // limits.cursorHz
      '14 00', // limits.viewportHz
      '20', // limits.maxNameBytes
      '70 11 01 00', // limits.maxMessageBytes
      '02 00', // palette count
      'ff ff ff | e5 00 00', // palette, R G B each
      '00 00 00 00 00 00 69 40', // budget.rate f64 200
      '00 00 00 00 00 00 79 40', // budget.burst f64 400
      '01 00 | 01 00 | 02 00 | 01 00 | 14 00 | 14 00 | 01 00', // costs: place, per pixel, viewport, cursor, resume, hello, ping
      '01', // session.known
      '07 00 00 00', // session.lastSeq
    ].join(' | '),
  },
  {
    name: 'SNAPSHOT EMPTY chunk (3,4) v9',
    message: { type: 'snapshot', cx: 3, cy: 4, version: 9, encoding: SnapshotEncoding.EMPTY, data: new Uint8Array(0) },
    hex: '82 09 00 | 03 00 | 04 00 | 09 00 00 00 | 00',
  },
  {
    name: 'DELTA chunk (2,1) v77, two pixels',
    message: { type: 'delta', cx: 2, cy: 1, version: 77, offsets: DELTA_OFFSETS, colors: Uint8Array.of(7, 31) },
    //    op len    | cx    | cy    | version     | count | offset color | offset color
    hex: '83 10 00 | 02 00 | 01 00 | 4d 00 00 00 | 02 00 | c5 00 07 | ff 0f 1f',
  },
  {
    name: 'PLACE_RESULT accepted',
    message: { type: 'placeResult', seq: 7, status: ErrorCode.OK, count: 2, retryAfterMs: 0 },
    hex: '84 0b 00 | 07 00 00 00 | 00 | 02 00 | 00 00 00 00',
  },
  {
    // count is the refused PLACE's pixel count (here 3), as the server sends it; none of them was applied.
    name: 'PLACE_RESULT rate limited, 3 pixels, retry in 1500 ms',
    message: { type: 'placeResult', seq: 8, status: ErrorCode.RATE_LIMITED, count: 3, retryAfterMs: 1500 },
    hex: '84 0b 00 | 08 00 00 00 | 0b | 03 00 | dc 05 00 00',
  },
  {
    name: 'CURSORS two moved, one removed',
    message: {
      type: 'cursors',
      moved: [{ id: 5, x: 10, y: 20, name: 'ann' }, { id: 256, x: 512, y: 3, name: '' }],
      removed: [9],
    },
    //    op len    | moved | id          x     y     len name     | id          x     y     len | removed | id
    hex: '85 1d 00 | 02 00 | 05 00 00 00 0a 00 14 00 03 61 6e 6e | 00 01 00 00 00 02 03 00 00 | 01 00 | 09 00 00 00',
  },
  {
    name: 'ONLINE 1234',
    message: { type: 'online', count: 1234 },
    hex: '86 04 00 | d2 04 00 00',
  },
  {
    name: 'ONLINE 1234 with the overload fields: level 2, cadence 4 (busy)',
    message: { type: 'online', count: 1234, level: 2, cadence: 4 },
    //    op len    | count       | level | cadence
    hex: '86 06 00 | d2 04 00 00 | 02 | 04',
  },
  {
    name: 'ERROR VIEWPORT_TOO_LARGE for a VIEWPORT, "too big"',
    message: { type: 'error', code: ErrorCode.VIEWPORT_TOO_LARGE, op: Op.VIEWPORT, message: 'too big' },
    //    op len    | code  | op | len | t  o  o     b  i  g
    hex: '87 0b 00 | 09 00 | 02 | 07 | 74 6f 6f 20 62 69 67',
  },
  {
    name: 'PONG',
    message: { type: 'pong', nonce: 0xdeadbeef, serverTime: SERVER_TIME },
    hex: '88 0c 00 | ef be ad de | 00 00 00 00 00 00 78 42',
  },
];

describe('golden vectors', () => {
  it.each([...CLIENT_VECTORS, ...SERVER_VECTORS])('$name: encodes to the pinned bytes', ({ message, hex: h }) => {
    expect(toHex(encodeMessage(message))).toBe(toHex(hex(h)));
  });

  it.each(CLIENT_VECTORS)('$name: the pinned bytes decode to the message', ({ message, hex: h }) => {
    expect(decodeClientMessage(hex(h))).toEqual(message);
  });

  it.each(SERVER_VECTORS)('$name: the pinned bytes decode to the message', ({ message, hex: h }) => {
    expect(decodeServerMessages(hex(h))).toEqual([message]);
  });

  it('CURSOR flags: only bit 0 (hidden) is read; the other bits are reserved and ignored', () => {
    expect(decodeClientMessage(hex('04 05 00 | 2c 01 | 28 00 | 03'))).toEqual({ type: 'cursor', x: 300, y: 40, hidden: true });
    expect(decodeClientMessage(hex('04 05 00 | 2c 01 | 28 00 | fe'))).toEqual({ type: 'cursor', x: 300, y: 40, hidden: false });
  });

  it('DELTA offsets are ly*64 + lx', () => {
    expect(Array.from(DELTA_OFFSETS)).toEqual([3 * 64 + 5, 63 * 64 + 63]);
  });

  it('SNAPSHOT RAW: 9 fixed bytes, then 4096 palette indices row-major', () => {
    const data = Uint8Array.from({ length: CHUNK_AREA }, (_, i) => i % 32);
    const bytes = encodeChunkSnapshot(3, 4, 9, SnapshotEncoding.RAW, data);
    // body length 9 + 4096 = 4105 = 0x1009
    expect(toHex(bytes.subarray(0, 12))).toBe(toHex(hex('82 09 10 | 03 00 | 04 00 | 09 00 00 00 | 01')));
    expect(bytes.length).toBe(12 + CHUNK_AREA);
    expect(toHex(bytes.subarray(12, 12 + 33))).toBe(toHex(Uint8Array.from({ length: 33 }, (_, i) => i % 32)));
    const [snap] = decodeServerMessages(bytes);
    expect(snap).toEqual({ type: 'snapshot', cx: 3, cy: 4, version: 9, encoding: 1, data });
  });

  it('a tick frame: DELTA, PLACE_RESULT and ONLINE back to back in one WebSocket message', () => {
    const frame = hex(
      '83 10 00 02 00 01 00 4d 00 00 00 02 00 c5 00 07 ff 0f 1f | 84 0b 00 07 00 00 00 00 02 00 00 00 00 00 | 86 04 00 d2 04 00 00',
    );
    const expected = [SERVER_VECTORS[2]!.message, SERVER_VECTORS[3]!.message, SERVER_VECTORS[6]!.message];
    expect(expected.map((m) => m.type)).toEqual(['delta', 'placeResult', 'online']);
    expect(decodeServerMessages(frame)).toEqual(expected);
  });

  it('encodeChunkDelta with count < array length (scratch buffers) gives the same bytes as the exact arrays', () => {
    const offsets = new Uint16Array(CHUNK_AREA);
    const colors = new Uint8Array(CHUNK_AREA);
    offsets.set(DELTA_OFFSETS);
    colors.set([7, 31]);
    expect(toHex(encodeChunkDelta(2, 1, 77, offsets, colors, 2))).toBe(toHex(hex(SERVER_VECTORS[2]!.hex)));
  });
});

describe('pinned numbers (clients hard-code these; docs/protocol.md lists them)', () => {
  it('protocol version', () => {
    expect(PROTOCOL_VERSION).toBe(2);
  });

  it('opcodes', () => {
    expect(Op).toEqual({
      HELLO: 0x01, VIEWPORT: 0x02, PLACE: 0x03, CURSOR: 0x04, RESUME: 0x05, PING: 0x06,
      WELCOME: 0x81, SNAPSHOT: 0x82, DELTA: 0x83, PLACE_RESULT: 0x84, CURSORS: 0x85, ONLINE: 0x86, ERROR: 0x87, PONG: 0x88,
      LOD_VIEWPORT: 0x07, LOD_SNAPSHOT: 0x89, LOD_DELTA: 0x8a, TEMPO: 0x90,
    });
  });

  it('snapshot encodings', () => {
    expect(SnapshotEncoding).toEqual({ EMPTY: 0, RAW: 1, RLE: 2 });
  });

  it('error codes and the close code each one uses', () => {
    const table = Object.entries(ErrorCode).map(([name, code]) => [code, name, ERROR_CLOSE_CODE[name as keyof typeof ErrorCode]]);
    expect(table).toEqual([
      [0, 'OK', 1000],
      [1, 'MALFORMED', 1002],
      [2, 'UNKNOWN_OPCODE', 1003],
      [3, 'UNSUPPORTED_VERSION', 1002],
      [4, 'HELLO_REQUIRED', 1002],
      [5, 'BAD_UTF8', 1007],
      [6, 'OUT_OF_BOUNDS', 1008],
      [7, 'BAD_COLOR', 1008],
      [8, 'BAD_VIEWPORT', 1008],
      [9, 'VIEWPORT_TOO_LARGE', 1008],
      [10, 'BATCH_TOO_LARGE', 1009],
      [11, 'RATE_LIMITED', 1008],
      [12, 'TEXT_FRAME', 1003],
      [13, 'DUPLICATE_HELLO', 1002],
      [14, 'TOO_MANY_ERRORS', 1008],
      [15, 'NAME_TOO_LONG', 1008],
      [16, 'INTERNAL', 1011],
      [17, 'TOO_SLOW', 4001],
      [18, 'PLACEMENTS_UNAVAILABLE', 1013],
      [19, 'BANNED', 1008],
      [20, 'READ_ONLY', 1013],
    ]);
  });

  it('close codes', () => {
    expect(CloseCode).toEqual({
      NORMAL: 1000,
      GOING_AWAY: 1001,
      PROTOCOL_ERROR: 1002,
      UNSUPPORTED_DATA: 1003,
      INVALID_PAYLOAD: 1007,
      POLICY_VIOLATION: 1008,
      MESSAGE_TOO_BIG: 1009,
      INTERNAL_ERROR: 1011,
      TRY_AGAIN_LATER: 1013,
      TOO_SLOW: 4001,
    });
  });
});
