/**
 * CanvasClient over real loopback sockets against a scripted ws server: the script sends exact frames and
 * checks what the client sends, in order. No mocks.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { CHUNK_AREA } from '../../src/chunks/geometry.js';
import {
  type CanvasClientEvents,
  type CanvasClientOptions,
  type WebSocketLike,
  CanvasClient,
  effectiveViewport,
} from '../../src/client/canvas-client.js';
import {
  type ClientMessage,
  type Limits,
  type Welcome,
  PROTOCOL_VERSION,
  SnapshotEncoding,
  decodeClientMessage,
  encodeChunkDelta,
  encodeChunkSnapshot,
  encodeCursors,
  encodeLodDelta,
  encodeLodSnapshot,
  encodeOnline,
  encodePlaceResult,
  encodePong,
  encodeWelcome,
} from '../../src/net/protocol.js';
import { until } from '../helpers/server.js';

// ---- a tiny async inbox: what arrived, awaited in order ----

class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((t: T) => void)[] = [];
  push(t: T): void {
    const w = this.waiters.shift();
    if (w) w(t);
    else this.items.push(t);
  }
  next(what: string, timeoutMs = 2000): Promise<T> {
    const t = this.items.shift();
    if (t !== undefined) return Promise.resolve(t);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.waiters.push((v) => {
        clearTimeout(timer);
        resolve(v);
      });
    });
  }
  get pending(): number {
    return this.items.length;
  }
}

// ---- scripted server ----

interface ServerConn {
  ws: WebSocket;
  received: Inbox<ClientMessage>;
  closed: Promise<{ code: number; reason: string }>;
  send(...messages: Uint8Array[]): void;
}

interface ScriptServer {
  url: string;
  conns: Inbox<ServerConn>;
  stop(): Promise<void>;
}

async function startServer(): Promise<ScriptServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws' });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const conns = new Inbox<ServerConn>();
  wss.on('connection', (ws) => {
    const received = new Inbox<ClientMessage>();
    ws.on('message', (data, isBinary) => {
      expect(isBinary).toBe(true);
      received.push(decodeClientMessage(new Uint8Array(data as Buffer)));
    });
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    conns.push({
      ws,
      received,
      closed,
      // Several protocol messages in one WebSocket message, as the server's tick writes them.
      send: (...messages) => ws.send(Buffer.concat(messages)),
    });
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    conns,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

const LIMITS: Limits = {
  paintRate: 10,
  paintBurst: 50,
  maxPlaceBatch: 100,
  maxViewportArea: 512 * 512,
  cursorHz: 1000,
  viewportHz: 1000,
  maxNameBytes: 32,
  maxMessageBytes: 65536,
};

function welcome(epoch: number, over: Partial<Omit<Welcome, 'type'>> = {}): Uint8Array {
  return encodeWelcome({
    version: PROTOCOL_VERSION,
    clientId: 1,
    epoch,
    width: 512,
    height: 256,
    chunkSize: 64,
    tickHz: 60,
    serverTime: Date.now(),
    background: 0,
    limits: LIMITS,
    palette: [0xffffff, 0x000000, 0xff0000, 0x00ff00],
    budget: { rate: 200, burst: 400, costs: { place: 1, placePerPixel: 1, viewport: 2, cursor: 1, resume: 20, hello: 20, ping: 1 } },
    session: { known: false, lastSeq: 0 },
    ...over,
  });
}

const nodeSocket = (url: string): WebSocketLike => new WebSocket(url) as unknown as WebSocketLike;

// ---- client helpers ----

const clients: CanvasClient[] = [];
const servers: ScriptServer[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.stop();
});

async function setup(opts: Partial<CanvasClientOptions> = {}): Promise<{ server: ScriptServer; client: CanvasClient; events: Inbox<[string, unknown]> }> {
  const server = await startServer();
  servers.push(server);
  const client = new CanvasClient({ url: server.url, name: 'ada', socketFactory: nodeSocket, minBackoffMs: 5, maxBackoffMs: 20, ...opts });
  clients.push(client);
  const events = new Inbox<[string, unknown]>();
  const names: (keyof CanvasClientEvents)[] = ['open', 'close', 'snapshot', 'delta', 'placeResult', 'cursors', 'online', 'error', 'protocolError', 'pong'];
  for (const name of names) client.on(name, (v) => events.push([name, v]));
  return { server, client, events };
}

async function nextEvent(events: Inbox<[string, unknown]>, name: string): Promise<unknown> {
  for (;;) {
    const [n, v] = await events.next(`event ${name}`);
    if (n === name) return v;
  }
}

const tokens = new WeakMap<ScriptServer, Uint8Array>();

/** HELLO, then WELCOME; returns the connection. */
async function handshake(server: ScriptServer, epoch: number): Promise<ServerConn> {
  const conn = await server.conns.next('connection');
  const hello = await conn.received.next('HELLO');
  expect(hello).toMatchObject({ type: 'hello', version: PROTOCOL_VERSION, name: 'ada' });
  // Every HELLO of one client carries the same session token (the server keys PLACE seqs by it).
  const token = (hello as { token?: Uint8Array }).token;
  expect(token).toHaveLength(16);
  const seen = tokens.get(server);
  if (seen) expect([...token!]).toEqual([...seen]);
  else tokens.set(server, token!);
  conn.send(welcome(epoch));
  return conn;
}

const raw = (fill: number): Uint8Array => new Uint8Array(CHUNK_AREA).fill(fill);

describe('CanvasClient over a real socket', () => {
  it('handshakes, applies a multi-message frame, and resumes after a drop only within one epoch', async () => {
    const { server, client, events } = await setup();
    const states: string[] = [];
    client.on('stateChange', (s) => states.push(s));
    const bytes: number[] = [];
    client.on('frame', (n) => bytes.push(n));
    client.setViewport(0, 0, 128, 128); // before connecting: remembered and sent after WELCOME
    client.connect();
    expect(client.state).toBe('connecting');

    let conn = await handshake(server, 777);
    expect(await conn.received.next('VIEWPORT')).toEqual({ type: 'viewport', x: 0, y: 0, w: 128, h: 128 });
    await nextEvent(events, 'open');
    expect(client.state).toBe('open');
    expect(client.welcome?.epoch).toBe(777);

    const frame = [
      encodeChunkSnapshot(0, 0, 5, SnapshotEncoding.RAW, raw(2)),
      encodeChunkSnapshot(1, 1, 3, SnapshotEncoding.EMPTY, new Uint8Array(0)),
      encodeChunkDelta(0, 0, 6, [0, 65], [1, 3], 2),
      encodeChunkDelta(0, 0, 6, [1], [3], 1), // same version again: ignored
      encodeOnline(3),
      encodeCursors([{ id: 9, x: 10, y: 11, name: 'bob' }, { id: 1, x: 1, y: 1, name: 'me' }], []),
    ];
    conn.send(...frame);
    await nextEvent(events, 'cursors');
    expect(bytes).toEqual([welcome(777).length, frame.reduce((n, m) => n + m.length, 0)]); // WELCOME, then the tick frame
    expect(client.replica.get(0, 0)).toBe(1);
    expect(client.replica.get(1, 1)).toBe(3);
    expect(client.replica.get(1, 0)).toBe(2);
    expect(client.replica.get(64, 64)).toBe(0);
    expect(client.replica.chunk(0, 0)?.version).toBe(6);
    expect(client.online).toBe(3);
    expect([...client.cursors]).toEqual([[9, { x: 10, y: 11, name: 'bob' }]]); // own id 1 left out

    // '' keeps the known name; removed ids go.
    conn.send(encodeCursors([{ id: 9, x: 20, y: 21, name: '' }, { id: 4, x: 5, y: 5, name: 'cy' }], []));
    await nextEvent(events, 'cursors');
    expect(client.cursors.get(9)).toEqual({ x: 20, y: 21, name: 'bob' });
    conn.send(encodeCursors([], [4]));
    await nextEvent(events, 'cursors');
    expect([...client.cursors.keys()]).toEqual([9]);

    // Drop the connection: same epoch → RESUME with what is held, before VIEWPORT.
    conn.ws.terminate();
    const closed = (await nextEvent(events, 'close')) as { code: number; willReconnect: boolean };
    expect(closed.willReconnect).toBe(true);
    expect(client.cursors.size).toBe(0);
    expect(client.state).toBe('connecting');
    conn = await handshake(server, 777);
    expect(await conn.received.next('RESUME')).toEqual({
      type: 'resume',
      chunks: expect.arrayContaining([{ cx: 0, cy: 0, version: 6 }, { cx: 1, cy: 1, version: 3 }]),
    });
    expect(await conn.received.next('VIEWPORT')).toEqual({ type: 'viewport', x: 0, y: 0, w: 128, h: 128 });
    await nextEvent(events, 'open');
    expect(client.replica.size).toBe(2);

    // Another epoch: versions mean nothing any more, so no RESUME and an empty replica.
    conn.ws.terminate();
    conn = await handshake(server, 778);
    expect(await conn.received.next('VIEWPORT')).toMatchObject({ type: 'viewport' });
    await nextEvent(events, 'open');
    expect(client.replica.size).toBe(0);
    expect(client.replica.epoch).toBe(778);

    client.close();
    expect(client.state).toBe('closed');
    expect((await conn.closed).code).toBe(1000);
    expect(states).toEqual(['connecting', 'open', 'connecting', 'open', 'connecting', 'open', 'closed']);
  });

  it('drops chunks that leave the view, and ignores their in-flight snapshots and deltas', async () => {
    const { server, client, events } = await setup();
    client.setViewport(0, 0, 128, 64);
    client.connect();
    const conn = await handshake(server, 1);
    await conn.received.next('VIEWPORT');
    conn.send(
      encodeChunkSnapshot(0, 0, 1, SnapshotEncoding.EMPTY, new Uint8Array(0)),
      encodeChunkSnapshot(1, 0, 1, SnapshotEncoding.EMPTY, new Uint8Array(0)),
      encodeChunkSnapshot(5, 2, 1, SnapshotEncoding.EMPTY, new Uint8Array(0)), // not in view: not held
    );
    await nextEvent(events, 'snapshot');
    await nextEvent(events, 'snapshot');
    await nextEvent(events, 'snapshot');
    expect(client.replica.heldVersions().map((e) => e.cx).sort()).toEqual([0, 1]);

    client.setViewport(0, 0, 64, 64);
    expect(await conn.received.next('VIEWPORT')).toEqual({ type: 'viewport', x: 0, y: 0, w: 64, h: 64 });
    expect(client.replica.chunk(1, 0)).toBeUndefined();
    // Sent by the server before it saw the new view:
    conn.send(encodeChunkDelta(1, 0, 2, [0], [1], 1), encodeChunkSnapshot(1, 0, 2, SnapshotEncoding.EMPTY, new Uint8Array(0)));
    await nextEvent(events, 'snapshot');
    expect(client.replica.chunk(1, 0)).toBeUndefined();
    expect(client.replica.size).toBe(1);

    // The same view again sends nothing; a view hanging off the canvas is sent clamped.
    client.setViewport(0, 0, 64, 64);
    client.setViewport(-50, 200, 100, 1000);
    expect(await conn.received.next('VIEWPORT')).toEqual({ type: 'viewport', x: 0, y: 200, w: 50, h: 56 });
    expect(client.viewport).toEqual({ x: 0, y: 200, w: 50, h: 56 });
  });

  it('zooms out to a level of detail and back: LOD_VIEWPORT, the level replica, and in-flight chunks of the other level ignored', async () => {
    const { server, client } = await setup();
    const levels: number[] = [];
    client.on('levelChange', (l) => levels.push(l));
    client.setViewport(0, 0, 128, 128);
    client.connect();
    const conn = await handshake(server, 5);
    expect(await conn.received.next('VIEWPORT')).toEqual({ type: 'viewport', x: 0, y: 0, w: 128, h: 128 });
    conn.send(encodeChunkSnapshot(0, 0, 1, SnapshotEncoding.RAW, raw(2)));
    await until(() => client.replica.size === 1);

    client.setViewport(0, 0, 512, 256, 2); // the whole 512×256 canvas at level 2: 128×64 values, two level chunks
    expect(await conn.received.next('LOD_VIEWPORT')).toEqual({ type: 'lodViewport', level: 2, x: 0, y: 0, w: 512, h: 256 });
    expect(client.level).toBe(2);
    expect(levels).toEqual([2]);
    expect(client.replica.size).toBe(0); // full resolution is no longer kept fresh
    conn.send(
      encodeChunkSnapshot(1, 0, 1, SnapshotEncoding.RAW, raw(3)), // in flight from before: dropped
      encodeLodSnapshot(2, 0, 0, 4, SnapshotEncoding.RAW, raw(1)),
      encodeLodSnapshot(2, 1, 0, 1, SnapshotEncoding.EMPTY, new Uint8Array(0)),
      encodeLodSnapshot(3, 0, 0, 1, SnapshotEncoding.RAW, raw(3)), // another level: ignored
      encodeLodDelta(2, 0, 0, 5, [65], [3], 1),
    );
    await until(() => client.lod?.size === 2 && client.lod.chunk(0, 0)?.version === 5);
    expect(client.replica.size).toBe(0);
    expect(client.lod!.get(1, 1)).toBe(3);
    expect(client.lod!.get(0, 0)).toBe(1);
    expect(client.lod!.width).toBe(128);

    client.setViewport(0, 0, 128, 128, 0);
    expect(await conn.received.next('VIEWPORT')).toEqual({ type: 'viewport', x: 0, y: 0, w: 128, h: 128 });
    expect(client.lod).toBe(null);
    expect(levels).toEqual([2, 0]);
  });

  it('throttles viewport messages to viewportHz, sending only the latest', async () => {
    const { server, client } = await setup();
    client.setViewport(0, 0, 64, 64);
    client.connect();
    const conn = await server.conns.next('connection');
    await conn.received.next('HELLO');
    conn.send(welcome(1, { limits: { ...LIMITS, viewportHz: 10 } }));
    await conn.received.next('VIEWPORT');
    const t0 = performance.now();
    client.setViewport(64, 0, 64, 64);
    client.setViewport(128, 0, 64, 64);
    client.setViewport(192, 0, 64, 64);
    expect(await conn.received.next('VIEWPORT')).toEqual({ type: 'viewport', x: 192, y: 0, w: 64, h: 64 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
    await new Promise((r) => setTimeout(r, 150));
    expect(conn.received.pending).toBe(0);
  });

  it('sends PLACE with increasing seqs, reports PLACE_RESULT and PONG with a round trip', async () => {
    const { server, client, events } = await setup();
    expect(client.place(1, 1, 1)).toBe(0); // not open: nothing sent
    client.connect();
    const conn = await handshake(server, 1);
    await nextEvent(events, 'open');
    const s1 = client.place(3, 4, 2);
    const s2 = client.placeMany([{ x: 5, y: 6, color: 1 }, { x: 7, y: 8, color: 3 }]);
    expect(s2).toBe(s1 + 1);
    expect(await conn.received.next('PLACE')).toEqual({ type: 'place', seq: s1, pixels: [{ x: 3, y: 4, color: 2 }] });
    expect(await conn.received.next('PLACE')).toMatchObject({ type: 'place', seq: s2 });
    conn.send(encodePlaceResult(s2, 11, 0, 1500));
    expect(await nextEvent(events, 'placeResult')).toEqual({ type: 'placeResult', seq: s2, status: 11, count: 0, retryAfterMs: 1500 });

    client.ping();
    const ping = await conn.received.next('PING');
    expect(ping.type).toBe('ping');
    conn.send(encodePong((ping as { nonce: number }).nonce, 1234));
    const pong = (await nextEvent(events, 'pong')) as { serverTime: number; rttMs: number };
    expect(pong.serverTime).toBe(1234);
    expect(pong.rttMs).toBeGreaterThanOrEqual(0);

    client.moveCursor(-5, 9999);
    expect(await conn.received.next('CURSOR')).toEqual({ type: 'cursor', x: 0, y: 255, hidden: false });
  });

  it('closes with 1002 on bytes it cannot decode, and reconnects', async () => {
    const { server, client, events } = await setup();
    client.connect();
    let conn = await handshake(server, 1);
    await nextEvent(events, 'open');
    conn.ws.send(new Uint8Array([0x83, 5, 0, 1])); // DELTA claiming 5 body bytes, 1 present
    const err = (await nextEvent(events, 'protocolError')) as { code: string };
    expect(err.code).toBe('MALFORMED');
    expect((await conn.closed).code).toBe(1002);
    conn = await handshake(server, 1);
    await nextEvent(events, 'open');

    // A snapshot before WELCOME is a protocol error too; so is a text frame.
    conn.ws.send('hello?');
    expect(((await nextEvent(events, 'protocolError')) as { code: string }).code).toBe('TEXT_FRAME');
    conn = await server.conns.next('connection');
    await conn.received.next('HELLO');
    conn.send(encodeChunkSnapshot(0, 0, 1, SnapshotEncoding.EMPTY, new Uint8Array(0)));
    expect(((await nextEvent(events, 'protocolError')) as Error).message).toMatch(/before WELCOME/);
    expect((await conn.closed).code).toBe(1002);
  });

  it('a handler that throws does not break the connection', async () => {
    const { server, client, events } = await setup();
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): void => void uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      client.on('online', () => {
        throw new Error('handler bug');
      });
      client.connect();
      const conn = await handshake(server, 1);
      await nextEvent(events, 'open');
      conn.send(encodeOnline(5), encodeOnline(6));
      await nextEvent(events, 'online');
      expect(await nextEvent(events, 'online')).toBe(6);
      await new Promise((r) => setTimeout(r, 10));
      expect(client.state).toBe('open');
      expect(uncaught).toHaveLength(2);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('close() stops reconnecting, also while waiting to reconnect', async () => {
    const { server, client, events } = await setup({ minBackoffMs: 200, maxBackoffMs: 200 });
    client.connect();
    const conn = await handshake(server, 1);
    await nextEvent(events, 'open');
    conn.ws.terminate();
    expect(((await nextEvent(events, 'close')) as { willReconnect: boolean }).willReconnect).toBe(true);
    client.close();
    expect(client.state).toBe('closed');
    await expect(server.conns.next('connection', 400)).rejects.toThrow(/timed out/);
  });

  it('without reconnect the client ends closed when the server goes away', async () => {
    const { server, client, events } = await setup({ reconnect: false, keepReplica: false });
    client.setViewport(0, 0, 64, 64);
    client.connect();
    const conn = await handshake(server, 1);
    await conn.received.next('VIEWPORT');
    conn.send(encodeChunkSnapshot(0, 0, 1, SnapshotEncoding.EMPTY, new Uint8Array(0)));
    await nextEvent(events, 'snapshot');
    expect(client.replica.size).toBe(0); // keepReplica: false
    conn.ws.close(1001, 'bye');
    expect(await nextEvent(events, 'close')).toEqual({ code: 1001, reason: 'bye', willReconnect: false });
    expect(client.state).toBe('closed');
  });
});

describe('effectiveViewport', () => {
  it('clamps to the canvas and shrinks about the centre to the area limit', () => {
    expect(effectiveViewport({ x: -10.5, y: 3.2, w: 20, h: 10 }, 512, 256, 1e6)).toEqual({ x: 0, y: 3, w: 10, h: 11 });
    const big = effectiveViewport({ x: 0, y: 0, w: 512, h: 256 }, 512, 256, 10_000);
    expect(big.w * big.h).toBeLessThanOrEqual(10_000);
    expect(big.w * big.h).toBeGreaterThan(9_000);
    expect(big.x + big.w / 2).toBeCloseTo(256, -1);
    expect(effectiveViewport({ x: 600, y: 0, w: 10, h: 10 }, 512, 256, 1e6)).toMatchObject({ w: 0, h: 0 });
  });
});
