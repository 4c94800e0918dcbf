/**
 * Protocol version 1 stays served (docs/protocol.md, "Versions and compatibility"). Pinned twice: the v1
 * document's own vectors (HELLO, WELCOME), and golden transcripts — a recorded v1 session replayed against a
 * real server over a loopback socket, bytes in and bytes out. Only what the protocol leaves variable is
 * masked (`..`): the client id, the epoch and server clocks. Everything else, WELCOME's 60 + 3n byte layout
 * included, must match exactly; a v1 client never gets a byte it did not know (v1 decoders are strict).
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import {
  ErrorCode, encodeHello, encodeLodViewport, encodePing, encodeWelcome, decodeClientMessage, decodeServerMessages, type Welcome,
} from '../../src/net/protocol.js';
import { versionKnowsOp } from '../../src/net/protocol-versions.js';
import { V1_IMPLIED_BUDGET } from '../../src/net/welcome-codec.js';
import { MESSAGE_COSTS } from '../../src/limits/message-budget.js';
import type { RunningServer } from '../../src/server.js';
import { RawPeer, sleep, testResources } from '../helpers/server.js';

const t = testResources();
const wirePeers: WirePeer[] = [];
afterEach(() => { for (const p of wirePeers.splice(0)) p.ws.terminate(); });

/** '01 06 00 | …' → bytes. */
const bytesOf = (s: string): Uint8Array => Uint8Array.from(s.replace(/\|/g, ' ').trim().split(/\s+/), (g) => parseInt(g, 16));
const hexOf = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

/** A raw v1 peer: every server message, split by its header alone (no decoder of ours in the way). */
class WirePeer {
  readonly ws: WebSocket;
  readonly received: Uint8Array[] = [];
  readonly opened: Promise<void>;
  constructor(url: string) {
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    this.ws.on('error', () => {});
    this.ws.on('message', (data: Buffer) => {
      for (let at = 0; at < data.length;) {
        const end = at + 3 + data.readUInt16LE(at + 1);
        this.received.push(new Uint8Array(data.subarray(at, end)));
        at = end;
      }
    });
    this.opened = new Promise((resolve) => this.ws.once('open', () => resolve()));
    wirePeers.push(this);
  }
  send(hex: string | Uint8Array): void {
    this.ws.send(typeof hex === 'string' ? bytesOf(hex) : hex);
  }
  /** The next `n` messages not yet taken, once they are all there. */
  async take(n: number, timeoutMs = 3000): Promise<Uint8Array[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < n) {
      if (Date.now() > deadline) throw new Error(`expected ${n} messages, got ${this.received.map(hexOf).join(' / ')}`);
      await sleep(5);
    }
    return this.received.splice(0, n);
  }
}

/** Expected bytes with `..` for a masked byte; compares as hex so a failure shows both sides. */
function masked(actual: Uint8Array, expected: string): string {
  const want = expected.replace(/\|/g, ' ').trim().split(/\s+/);
  const got = hexOf(actual).split(' ');
  return got.map((g, i) => (want[i] === '..' ? '..' : g)).join(' ');
}
const norm = (s: string) => s.replace(/\|/g, ' ').trim().split(/\s+/).join(' ');

type Step = { send: string; expect: string[] };

/** Replays `steps`, then a PING barrier: its PONG must be the very next message (nothing unexpected in between). */
async function replay(s: RunningServer, steps: Step[]): Promise<void> {
  const peer = new WirePeer(s.wsUrl);
  await peer.opened;
  await sleep(100); // the connect's tick (online count) has run, so ONLINE comes only with WELCOME
  for (const step of steps) {
    peer.send(step.send);
    const got = await peer.take(step.expect.length);
    expect(got.map((m, i) => masked(m, step.expect[i]!)), `after ${step.send}`).toEqual(step.expect.map(norm));
  }
  peer.send('06 04 00 | 78 56 34 12');
  const [pong] = await peer.take(1);
  expect(masked(pong!, '88 0c 00 | 78 56 34 12 | .. .. .. .. .. .. .. ..')).toBe(norm('88 0c 00 | 78 56 34 12 | .. .. .. .. .. .. .. ..'));
  await sleep(100);
  expect(peer.received.map(hexOf)).toEqual([]);
}

/** The default palette (32 colours), as WELCOME lists it. */
const PALETTE_HEX =
  'ff ff ff d4 d7 d9 89 8d 90 51 52 52 00 00 00 6d 00 1a be 00 39 ff 45 00 ff a8 00 ff d6 35 ff f8 b8 00 a3 68 ' +
  '00 cc 78 7e ed 56 00 75 6f 00 9e aa 00 cc c0 24 50 a4 36 90 ea 51 e9 f4 49 3a c1 6a 5c ff 94 b3 ff 81 1e 9f ' +
  'b4 4a c0 e4 ab ff de 10 7f ff 38 81 ff 99 aa 6d 48 2f 9c 69 26 ff b4 70';

/** A v1 WELCOME from a 256 × 256 server with the default flags: 60 + 3 × 32 = 156 = 0x9c body bytes, no more. */
const V1_WELCOME =
  '81 9c 00 | 01 00 | .. .. .. .. | .. .. .. .. | 00 01 00 00 | 00 01 00 00 | 40 00 | 3c 00 | .. .. .. .. .. .. .. .. | 00 ' +
  '| 00 00 00 00 00 00 f0 3f | 14 00 00 00 | 40 00 | 00 00 00 01 | 14 00 | 1e 00 | 20 | 0d 84 00 00 | 20 00 | ' + PALETTE_HEX;

/** A bot of the v1 document: HELLO v1 "b", watch chunk (0, 0), paint, move its cursor, make mistakes. */
const V1_SESSION: Step[] = [
  { send: '01 04 00 | 01 00 | 01 | 62', expect: [V1_WELCOME, '86 04 00 | 01 00 00 00'] },
  // VIEWPORT (0, 0) 64 × 64: a cursor snapshot (removed id 0 = forget all) and chunk (0, 0), EMPTY at version 0.
  {
    send: '02 10 00 | 00 00 00 00 | 00 00 00 00 | 40 00 00 00 | 40 00 00 00',
    expect: ['85 08 00 | 00 00 | 01 00 | 00 00 00 00', '82 09 00 | 00 00 | 00 00 | 00 00 00 00 | 00'],
  },
  // PLACE seq 1: (1, 2) colour 3 → accepted, and the DELTA in the same write (offset 2·64 + 1 = 0x81).
  {
    send: '03 0b 00 | 01 00 00 00 | 01 00 | 01 00 02 00 03',
    expect: ['84 0b 00 | 01 00 00 00 | 00 | 01 00 | 00 00 00 00', '83 0d 00 | 00 00 | 00 00 | 01 00 00 00 | 01 00 | 81 00 03'],
  },
  // PLACE seq 2 off the canvas: OUT_OF_BOUNDS (6), nothing applied.
  { send: '03 0b 00 | 02 00 00 00 | 01 00 | 00 10 00 00 03', expect: ['84 0b 00 | 02 00 00 00 | 06 | 01 00 | 00 00 00 00'] },
  // CURSOR at (5, 6): the client sees its own cursor (id masked) with its name.
  { send: '04 05 00 | 05 00 | 06 00 | 00', expect: ['85 0e 00 | 01 00 | .. .. .. .. 05 00 06 00 01 62 | 00 00'] },
  { send: '06 04 00 | ef be ad de', expect: ['88 0c 00 | ef be ad de | .. .. .. .. .. .. .. ..'] },
  // LOD_VIEWPORT (0x07) is not a v1 message: UNKNOWN_OPCODE, as a v1 server answered; the connection stays.
  {
    send: '07 11 00 | 01 | 00 00 00 00 | 00 00 00 00 | 00 01 00 00 | 00 01 00 00',
    expect: ['87 37 00 | 02 00 | 07 | 33 | ' + hexOf(new TextEncoder().encode('UNKNOWN_OPCODE: opcode 0x07 is not a client message'))],
  },
  {
    send: '01 04 00 | 01 00 | 01 | 62',
    expect: ['87 2f 00 | 0d 00 | 01 | 2b | ' + hexOf(new TextEncoder().encode('DUPLICATE_HELLO: HELLO was already received'))],
  },
];

describe('protocol version 1: the v1 document\'s vectors', () => {
  it('HELLO v1 is the v1 document\'s bytes, and a v1 WELCOME is exactly its 60 + 3n byte layout', () => {
    expect(hexOf(encodeHello(1, 'Zoë'))).toBe(norm('01 07 00 | 01 00 | 04 | 5a 6f c3 ab'));
    const w: Omit<Welcome, 'type'> = {
      version: 1, clientId: 42, epoch: 0x89abcdef, width: 1024, height: 512, chunkSize: 64, tickHz: 60,
      serverTime: 1649267441664, background: 0,
      limits: { paintRate: 1.5, paintBurst: 20, maxPlaceBatch: 16, maxViewportArea: 1048576, cursorHz: 10, viewportHz: 20, maxNameBytes: 32, maxMessageBytes: 70000 },
      palette: [0xffffff, 0xe50000],
      budget: { rate: 200, burst: 400, costs: { ...MESSAGE_COSTS } }, session: { known: true, lastSeq: 7 },
      music: { musicEpoch: 0, beatsPerBar: 4, tempoMap: [{ startBeat: 0, startTime: 0, bpm: 100 }], patterns: [] },
    };
    const v1 = encodeWelcome(w);
    // The v1 document's WELCOME example, byte for byte: budget, session and the music record are not sent.
    expect(hexOf(v1)).toBe(norm(`81 42 00 | 01 00 | 2a 00 00 00 | ef cd ab 89 | 00 04 00 00 | 00 02 00 00 | 40 00 | 3c 00
      | 00 00 00 00 00 00 78 42 | 00
      | 00 00 00 00 00 00 f8 3f | 14 00 00 00 | 10 00 | 00 00 10 00 | 0a 00 | 14 00 | 20 | 70 11 01 00
      | 02 00 | ff ff ff | e5 00 00`));
    const [back] = decodeServerMessages(v1);
    expect(back).toMatchObject({ type: 'welcome', version: 1, clientId: 42, palette: [0xffffff, 0xe50000], session: { known: false, lastSeq: 0 } });
    expect(back).not.toHaveProperty('music');
    // Version 2 keeps its own layout: the budget and session follow the palette.
    expect(encodeWelcome({ ...w, version: 2, music: undefined }).length).toBe(v1.length + 35);
  });

  it('a v1 WELCOME round-trips its v1 fields (the budget it implies is the v1 document\'s, the session unknown)', () => {
    const u16 = fc.integer({ min: 0, max: 0xffff });
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(fc.property(
      fc.record({
        clientId: u32, epoch: u32, width: u32, height: u32, chunkSize: u16, tickHz: u16, serverTime: fc.double({ noNaN: true }),
        background: fc.integer({ min: 0, max: 255 }),
        limits: fc.record({
          paintRate: fc.double({ noNaN: true }), paintBurst: u32, maxPlaceBatch: u16, maxViewportArea: u32,
          cursorHz: u16, viewportHz: u16, maxNameBytes: fc.integer({ min: 0, max: 255 }), maxMessageBytes: u32,
        }),
        palette: fc.array(fc.integer({ min: 0, max: 0xffffff }), { maxLength: 256 }),
      }),
      (f) => {
        const bytes = encodeWelcome({ ...f, version: 1, budget: { rate: 1, burst: 2, costs: { ...MESSAGE_COSTS } }, session: { known: true, lastSeq: 9 } });
        expect(bytes.length).toBe(3 + 60 + 3 * f.palette.length);
        expect(decodeServerMessages(bytes)).toEqual([{ type: 'welcome', version: 1, ...f, budget: V1_IMPLIED_BUDGET, session: { known: false, lastSeq: 0 } }]);
      },
    ), { seed: 24, numRuns: 200 });
  });

  it('a v1 connection knows only the v1 opcodes', () => {
    for (const op of [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88]) expect(versionKnowsOp(1, op)).toBe(true);
    for (const op of [0x07, 0x89, 0x8a, 0x90]) {
      expect(versionKnowsOp(1, op)).toBe(false);
      expect(versionKnowsOp(2, op)).toBe(true);
    }
    expect(() => decodeClientMessage(encodeLodViewport(1, 0, 0, 64, 64), 1)).toThrow(/UNKNOWN_OPCODE/);
    expect(decodeClientMessage(encodeLodViewport(1, 0, 0, 64, 64), 2)).toMatchObject({ type: 'lodViewport', level: 1 });
  });
});

describe('protocol version 1: golden transcripts against a real server', () => {
  it('a v1 bot\'s session: HELLO, VIEWPORT, PLACE, CURSOR, PING and two mistakes, byte for byte', async () => {
    await replay(await t.server({ width: 256, height: 256 }), V1_SESSION);
  });

  it('a v1 HELLO with a session token is MALFORMED (v1 HELLO ends after the name); a plain one then works', async () => {
    const s = await t.server({ width: 256, height: 256 });
    const malformed = hexOf(new TextEncoder().encode('MALFORMED: HELLO: a version 1 HELLO ends after the name (no session token)'));
    await replay(s, [
      {
        send: '01 14 00 | 01 00 | 01 | 62 | 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f',
        expect: [`87 ${(4 + malformed.split(' ').length).toString(16)} 00 | 01 00 | 01 | ${malformed.split(' ').length.toString(16)} | ${malformed}`],
      },
      { send: '01 04 00 | 01 00 | 01 | 62', expect: [V1_WELCOME, '86 04 00 | 01 00 00 00'] },
    ]);
  });

  it('on a music canvas a v1 client gets a v1 WELCOME (no MUSIC record) and no TEMPO; a v2 client gets both', async () => {
    const s = await t.server({ width: 256, height: 256, mode: 'music' });
    const v1 = new WirePeer(s.wsUrl);
      await v1.opened;
    await sleep(100);
    v1.send('01 04 00 | 01 00 | 01 | 62');
    const [welcome, online] = await v1.take(2);
    expect(welcome![0]).toBe(0x81);
    const n = welcome![61]! | (welcome![62]! << 8); // paletteCount
    expect(welcome!.length).toBe(3 + 60 + 3 * n); // nothing after the palette
    expect(welcome![3]).toBe(1);
    expect(online![0]).toBe(0x86);

    const v2 = t.track(new RawPeer(s.wsUrl));
    await v2.opened;
    v2.send(encodeHello(2, 'v2'));
    expect(await v2.waitFor((m): m is Welcome => m.type === 'welcome')).toHaveProperty('music');
    s.conductor!.changeTempo(120);
    await v2.waitFor((m) => m.type === 'tempo');
    // The v1 client: whatever it got (ONLINE counts) is v1; a PING's PONG comes after the TEMPO's write.
    v1.send(encodePing(9));
    await sleep(200);
    const ops = v1.received.map((m) => m[0]!);
    expect(ops).toContain(0x88);
    expect(ops.every((op) => versionKnowsOp(1, op))).toBe(true);
    expect(ops).not.toContain(0x90);
  });

  it('versions the server does not serve are still refused at once', async () => {
    const s = await t.server();
    for (const version of [0, 3]) {
      const p = t.track(new RawPeer(s.wsUrl));
      await p.opened;
      p.send(encodeHello(version, 'x'));
      expect(await p.closed).toBe(1002);
      expect(p.messages).toEqual([expect.objectContaining({ type: 'error', code: ErrorCode.UNSUPPORTED_VERSION })]);
    }
  });
});
