/**
 * The lean client over real loopback sockets: its WebSocket side against the ws package's server (which
 * refuses unmasked client frames), and its protocol side against the real pixel-canvas server, where after
 * one seeded run it must see exactly the canvas the project's client library sees.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { CanvasClient, type WebSocketLike, effectiveViewport } from '../../src/client/canvas-client.js';
import { decodeSnapshotPixels } from '../../src/chunks/snapshot-codec.js';
import {
  Op, PROTOCOL_VERSION, decodeClientMessage, encodeCursor, encodeLodViewport, encodePlace, encodeViewport, encodeWelcome,
} from '../../src/net/protocol.js';
import { LeanLink } from '../../loadtest/lean-link.js';
import { LeanSocket } from '../../loadtest/lean-socket.js';
import type { DeltaPairs, LinkHandler, WelcomeInfo } from '../../loadtest/sim-link.js';
import { prng } from '../../loadtest/view-walk.js';
import { testResources, until } from '../helpers/server.js';

const t = testResources();
const closers: Array<() => void> = [];
afterEach(() => { for (const c of closers.splice(0)) c(); });

describe('LeanSocket against the ws server', () => {
  it('handshakes, sends masked frames, joins fragments around a ping, answers the ping and reports the close code', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    closers.push(() => wss.close());
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const port = (wss.address() as AddressInfo).port;
    const received: Buffer[] = [];
    const pongs: string[] = [];
    let serverSide: WebSocket | null = null;
    wss.on('connection', (ws) => {
      serverSide = ws;
      ws.on('message', (data: Buffer) => {
        received.push(data);
        if (received.length === 2) {
          // Echo the second message in three fragments with a ping in the middle.
          ws.send(data.subarray(0, 100), { fin: false, binary: true });
          ws.ping(Buffer.from('hi'));
          ws.send(data.subarray(100, 70_000), { fin: false, binary: true });
          ws.send(data.subarray(70_000), { fin: true, binary: true });
        }
      });
      ws.on('pong', (d: Buffer) => pongs.push(d.toString()));
    });

    const messages: Buffer[] = [];
    let closed: { code: number; reason: string } | null = null;
    let opened = false;
    const small = Buffer.from('hello lean');
    const big = Buffer.alloc(70_100, 0);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    const sock = new LeanSocket({ url: `ws://127.0.0.1:${port}/ws` }, {
      open: () => { opened = true; sock.send(small); sock.send(big); },
      message: (b, s, e) => messages.push(Buffer.from(b.subarray(s, e))),
      close: (code, reason) => { closed = { code, reason }; },
    });
    await until(() => messages.length === 1 && pongs.length === 1, 5000, 'the echo and the pong');
    expect(opened).toBe(true);
    // ws closes with 1002 on an unmasked client frame: both arriving intact means they were masked properly.
    expect(received.map((b) => b.length)).toEqual([small.length, big.length]);
    expect(received[0]!.equals(small)).toBe(true);
    expect(received[1]!.equals(big)).toBe(true);
    expect(messages[0]!.equals(big)).toBe(true);
    expect(pongs).toEqual(['hi']);
    serverSide!.close(4001, 'bye');
    await until(() => closed !== null, 3000, 'the close');
    expect(closed).toEqual({ code: 4001, reason: 'bye' });
  });

  it('reports 1006 when the handshake is refused', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', verifyClient: () => false });
    closers.push(() => wss.close());
    await new Promise<void>((r) => wss.once('listening', () => r()));
    let code = 0;
    let opened = false;
    new LeanSocket({ url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws` }, {
      open: () => { opened = true; }, message: () => {}, close: (c) => { code = c; },
    });
    await until(() => code !== 0, 3000, 'the failure');
    expect(code).toBe(1006);
    expect(opened).toBe(false);
  });
});

describe('LeanLink sends what the project client sends', () => {
  it('HELLO, then views fitted to the canvas, cursors clamped and throttled, PLACEs with growing seqs', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    closers.push(() => wss.close());
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const got: Buffer[] = [];
    wss.on('connection', (ws) => {
      ws.on('message', (d: Buffer) => {
        got.push(Buffer.from(d));
        if (d[0] === Op.HELLO) {
          ws.send(encodeWelcome({
            version: PROTOCOL_VERSION, clientId: 7, epoch: 1, width: 512, height: 256, chunkSize: 64, tickHz: 60, serverTime: 0, background: 0,
            limits: { paintRate: 10, paintBurst: 10, maxPlaceBatch: 64, maxViewportArea: 128 * 128, cursorHz: 20, viewportHz: 30, maxNameBytes: 32, maxMessageBytes: 65536 },
            palette: [0, 0xffffff], budget: { rate: 1e6, burst: 1e6, costs: { place: 1, placePerPixel: 0, viewport: 1, cursor: 1, resume: 1, hello: 1, ping: 1 } },
            session: { known: false, lastSeq: 0 },
          }));
        }
      });
    });
    let open = false;
    const h: LinkHandler<null> = { open: () => { open = true; }, closed() {}, snapshot() {}, delta() {}, placeResult() {}, error: (_u, k) => { throw new Error(k); } };
    const link = new LeanLink({ url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`, name: 'bot1' }, null, h);
    closers.push(() => link.close());
    link.connect();
    await until(() => open, 3000, 'WELCOME');
    link.setViewport(-10.5, 20, 1000, 100, 0); // clamped to the canvas, then shrunk about its centre to 128²
    link.moveCursor(600.7, -3);
    link.moveCursor(5, 5); // within 1/cursorHz of the last one: held, the latest wins
    expect(link.placeMany([{ x: 1, y: 2, color: 1 }])).toBe(1);
    expect(link.placeMany([{ x: 3, y: 4, color: 0 }, { x: 5, y: 6, color: 1 }])).toBe(2);
    await new Promise((r) => setTimeout(r, 70));
    link.poll(performance.now());
    link.setViewport(0, 0, 512, 256, 2); // a level of detail: its area limit counts level pixels
    await until(() => got.length === 7, 3000, 'seven messages');
    expect(decodeClientMessage(got[0]!)).toMatchObject({ type: 'hello', version: PROTOCOL_VERSION, name: 'bot1' });
    expect(got[0]!.length).toBe(3 + 3 + 4 + 16); // with a session token, as CanvasClient sends
    expect(link.viewport).toEqual({ x: 0, y: 0, w: 512, h: 256 });
    const fitted = effectiveViewport({ x: -10.5, y: 20, w: 1000, h: 100 }, 512, 256, 128 * 128);
    expect(fitted).toEqual({ x: 111, y: 42, w: 289, h: 56 });
    expect(got.slice(1).map((b) => b.toString('hex'))).toEqual([
      encodeViewport(fitted.x, fitted.y, fitted.w, fitted.h), encodeCursor(511, 0), encodePlace(1, [{ x: 1, y: 2, color: 1 }]),
      encodePlace(2, [{ x: 3, y: 4, color: 0 }, { x: 5, y: 6, color: 1 }]), encodeCursor(5, 5), encodeLodViewport(2, 0, 0, 512, 256),
    ].map((b) => Buffer.from(b).toString('hex')));
  });
});

/** What a lean user sees, kept as the project's client would: the chunks of the view, decoded. */
class LeanWatcher implements LinkHandler<null> {
  readonly chunks = new Map<string, Uint8Array>();
  background = 0;
  paletteSize = 0;
  open(_u: null, w: WelcomeInfo): void { this.background = w.background; this.paletteSize = w.paletteSize; }
  closed(): void {}
  snapshot(_u: null, cx: number, cy: number, encoding: number, data: Uint8Array, at: number, end: number): void {
    const px = new Uint8Array(4096);
    decodeSnapshotPixels(encoding, data.subarray(at, end), this.background, px);
    this.chunks.set(`${cx},${cy}`, px);
  }
  delta(_u: null, cx: number, cy: number, p: DeltaPairs): void {
    const px = this.chunks.get(`${cx},${cy}`);
    if (px === undefined) return;
    for (let i = 0; i < p.count; i++) px[p.offset(i)] = p.color(i);
  }
  placeResult(): void {}
  error(_u: null, kind: string): void { throw new Error(`lean watcher: ${kind}`); }
}

const wsFactory = (u: string) => new WebSocket(u, { perMessageDeflate: false }) as unknown as WebSocketLike;

describe('lean client and CanvasClient against the real server', () => {
  it('see the same canvas after the same seeded run', async () => {
    const seed = Number(process.env.SEED ?? Date.now() % 1e6);
    console.log(`lean-vs-canvas-client seed ${seed}`);
    const rand = prng(seed);
    const server = await t.server({ width: 256, height: 256, paintRate: 1e6, paintBurst: 1e6 });
    const watcher = new LeanWatcher();
    const lean = new LeanLink({ url: server.wsUrl, name: 'lean' }, null, watcher);
    closers.push(() => lean.close());
    const reference = t.track(new CanvasClient({ url: server.wsUrl, name: 'ref', socketFactory: wsFactory, reconnect: false }));
    // Two painters, one of each kind, on disjoint pixels (even and odd columns) so the end state is known.
    const errors: string[] = [];
    const painterEvents: LinkHandler<null> = {
      open() {}, closed() {}, snapshot() {}, delta() {}, error: (_u, kind) => { errors.push(kind); },
      placeResult: (_u, _seq, status) => { if (status !== 0) errors.push(`place status ${status}`); },
    };
    const leanPainter = new LeanLink({ url: server.wsUrl, name: 'lean-painter' }, null, painterEvents);
    closers.push(() => leanPainter.close());
    const wsPainter = t.track(new CanvasClient({ url: server.wsUrl, name: 'ws-painter', socketFactory: wsFactory, reconnect: false }));
    lean.connect();
    reference.connect();
    leanPainter.connect();
    wsPainter.connect();
    lean.setViewport(0, 0, 256, 256, 0);
    reference.setViewport(0, 0, 256, 256);
    await until(() => lean.state === 'open' && reference.state === 'open' && leanPainter.state === 'open' && wsPainter.state === 'open', 5000, 'open');
    await until(() => watcher.chunks.size === 16 && reference.replica.size === 16, 5000, 'the first snapshots');

    const expected = new Map<number, number>();
    const palette = watcher.paletteSize;
    for (let round = 0; round < 30; round++) {
      for (const [painter, parity] of [[leanPainter, 0], [wsPainter, 1]] as const) {
        const pixels = Array.from({ length: 1 + Math.floor(rand() * 20) }, () => {
          const x = (Math.floor(rand() * 128) * 2) + parity;
          const y = Math.floor(rand() * 256);
          return { x, y, color: Math.floor(rand() * palette) };
        });
        for (const p of pixels) expected.set(p.y * 256 + p.x, p.color);
        expect(painter.placeMany(pixels)).toBeGreaterThan(0);
      }
      // Now and then both watchers look away and back: the chunks they come back to arrive as snapshots.
      if (round % 10 === 5) {
        const x = Math.floor(rand() * 128);
        lean.setViewport(x, 0, 64, 64, 0);
        reference.setViewport(x, 0, 64, 64);
        await new Promise((r) => setTimeout(r, 60));
        lean.setViewport(0, 0, 256, 256, 0);
        reference.setViewport(0, 0, 256, 256);
      }
      await new Promise((r) => setTimeout(r, 5 + rand() * 20));
    }
    const canvasOf = (get: (cx: number, cy: number) => Uint8Array | undefined): number[] => {
      const out: number[] = [];
      for (let y = 0; y < 256; y++) for (let x = 0; x < 256; x++) out.push(get(x >> 6, y >> 6)?.[((y & 63) << 6) | (x & 63)] ?? -1);
      return out;
    };
    const want = canvasOf(() => undefined).map((_, pos) => expected.get(pos) ?? watcher.background);
    const leanCanvas = () => canvasOf((cx, cy) => watcher.chunks.get(`${cx},${cy}`));
    const refCanvas = () => canvasOf((cx, cy) => reference.replica.chunk(cx, cy)?.pixels);
    const same = (a: number[], b: number[]) => a.every((v, i) => v === b[i]);
    await until(() => same(leanCanvas(), want) && same(refCanvas(), want), 5000, 'both watchers to show every placement');
    expect(expected.size).toBeGreaterThan(100);
    expect(errors).toEqual([]);
    expect(same(leanCanvas(), refCanvas())).toBe(true);
    // Both counted the same kind of traffic: every WebSocket message and its bytes.
    expect(lean.framesReceived).toBeGreaterThan(10);
    expect(lean.bytesReceived).toBeGreaterThan(lean.framesReceived * 3);
  });
});
