/**
 * Hostile input against a live server: floods, garbage frames, caps, slow handshakes, foreign Origins.
 * The server must keep serving everyone else, lose nothing, and name every violation.
 */
import { describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import {
  ErrorCode, Op, PROTOCOL_VERSION, encodeCursor, encodeHello, encodePlace, encodeResume, encodeViewport, encodeLodViewport,
  type ErrorMessage, type PlaceResult, type ServerMessage,
} from '../../src/net/protocol.js';
import { clientAddress } from '../../src/net/client-address.js';
import type { RunningServer } from '../../src/server.js';
import { RawPeer, sleep, testResources, until } from '../helpers/server.js';
import { prng as rng } from '../../bench/prng.js';

const isResult = (m: ServerMessage): m is PlaceResult => m.type === 'placeResult';
const isError = (m: ServerMessage): m is ErrorMessage => m.type === 'error';

const resources = testResources();
const server = resources.server;

async function hello(s: RunningServer, opts: { localAddress?: string; origin?: string } = {}): Promise<RawPeer> {
  const p = resources.track(new RawPeer(s.wsUrl, opts));
  await p.opened;
  p.send(encodeHello(PROTOCOL_VERSION, ''));
  await p.waitFor((m) => m.type === 'welcome');
  return p;
}

/** Try a handshake; resolve with the HTTP status of a refusal, or 101 when it opened. */
function handshakeStatus(url: string, opts: { localAddress?: string; origin?: string } = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...opts });
    ws.on('open', () => { resolve(101); ws.terminate(); });
    ws.on('unexpected-response', (_req, res: IncomingMessage) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.on('error', () => resolve(-1));
  });
}

describe('paint flood', () => {
  it('one address flooding 10,000 places/s gets exactly its bucket; another address is not held back', async () => {
    // A burst of ten seconds' refill: the bucket can only have lost tokens to its cap (and so the bounds below
    // be off) if the flood paused that long — a loaded machine pauses this process for a second or so.
    const rate = 200;
    const burst = 2000;
    const s = await server({ paintRate: rate, paintBurst: burst, messageRate: 5000, messageBurst: 5000, maxConnectionsPerIp: 20 });
    const flooders = await Promise.all(Array.from({ length: 10 }, () => hello(s, { localAddress: '127.0.0.2' })));
    const honest = await hello(s, { localAddress: '127.0.0.3' });
    honest.send(encodeViewport(0, 0, 64, 64));
    let firstAnswerAt = Number.POSITIVE_INFINITY; // when the first flood PLACE_RESULT arrived
    for (const f of flooders) f.ws.on('message', () => { if (firstAnswerAt === Number.POSITIVE_INFINITY && f.messages.some(isResult)) firstAnswerAt = performance.now(); });

    const started = performance.now();
    let seq = 0;
    let lastSendAt = started;
    // Paced by the clock, not the timer: 10,000 places per second from 127.0.0.2 over 10 connections,
    // catching up whenever a timer fires late — by at most 1000 at a time, so that a machine too busy to
    // keep up floods less instead of spending ever longer catching up (the flood shares this process).
    const flood = () => {
      lastSendAt = performance.now();
      const owed = Math.min(1000, Math.floor(((lastSendAt - started) / 1000) * 10_000) - seq);
      for (let k = 0; k < owed; k++) flooders[k % flooders.length]!.send(encodePlace(++seq, [{ x: 100 + (seq % 800), y: 500, color: 1 }]));
    };
    const timer = setInterval(flood, 5);
    // Meanwhile the honest client places 15 pixels, 200 ms apart. How long each took to be answered is
    // counted in server ticks (the server runs in this process): a machine that is merely busy makes ticks
    // slower, not more numerous, while a client queued behind the flood (its PLACE committed, or its write
    // made, only after the flood's) waits many ticks.
    const honestCount = 15;
    const honestTicks: number[] = [];
    let honestSent = 0;
    await new Promise<void>((resolve) => {
      const honestTimer = setInterval(() => {
        const hs = ++honestSent;
        const tick0 = s.room.tickNo;
        const mark = honest.messages.length;
        honest.send(encodePlace(hs, [{ x: hs % 64, y: 3, color: 2 + (hs % 5) }]));
        honest.waitFor((m) => isResult(m) && m.seq === hs, 30_000, mark).then(() => honestTicks.push(s.room.tickNo - tick0), () => {});
        if (hs === honestCount) {
          clearInterval(honestTimer);
          resolve();
        }
      }, 200);
    });
    flood();
    clearInterval(timer);
    const sentFor = (lastSendAt - started) / 1000;
    await until(() => flooders.reduce((n, f) => n + f.messages.filter(isResult).length, 0) >= seq, 30_000, 'every place answered');
    const answeredBy = (performance.now() - started) / 1000;

    let accepted = 0;
    let limited = 0;
    let sent = 0;
    for (const f of flooders) for (const m of f.messages) if (isResult(m)) {
      sent++;
      if (m.status === ErrorCode.OK) accepted++;
      else if (m.status === ErrorCode.RATE_LIMITED) {
        limited++;
        expect(m.retryAfterMs).toBeGreaterThan(0);
      }
    }
    // The flood really happened: 10,000 places a second over the 3 s the honest client took when the machine
    // keeps up; when it does not, 1000 a firing, and a firing precedes each of the honest client's 15.
    expect(seq).toBeGreaterThanOrEqual(14_000);
    expect(sent).toBe(seq); // and every place was answered
    expect(limited).toBe(sent - accepted);
    // The bucket (full at the first PLACE, then refilled at `rate`) is taken from as each PLACE arrives, and
    // every PLACE that finds a token takes it (each firing asks for more than has refilled since the last,
    // unless the process stood still for 5 s). So what is
    // accepted is the burst plus the refill between the first take and the last, which lie between the
    // first send and the first answer, and between the last send and the last answer.
    expect(accepted).toBeLessThanOrEqual(Math.ceil(burst + rate * answeredBy));
    expect(accepted).toBeGreaterThanOrEqual(burst + Math.floor((rate * (lastSendAt - firstAnswerAt)) / 1000) - 1); // it does not refuse what it owes

    await until(() => honestTicks.length === honestCount, 30_000, 'every honest place answered');
    const honestResults = honest.messages.filter(isResult);
    expect(honestResults.length).toBe(honestCount);
    expect(honestResults.every((m) => m.status === ErrorCode.OK)).toBe(true);
    // Every one answered as if there were no flood: its PLACE is read in the next poll, committed by the next
    // tick and answered in that tick's write. Around that, a tick may run before the read and one before the
    // answer is read, and the write may carry it one tick (the tick's budget, 11 clients marked, the honest
    // one last) — 4 at most. (What the flood costs in wall time is a benchmark's figure, not this test's:
    // bench/refusal-flood.bench.ts.)
    console.log(`honest places answered after [${honestTicks.join(' ')}] ticks; flood ${seq} places in ${sentFor.toFixed(2)} s, ${accepted} accepted`);
    expect(Math.max(...honestTicks)).toBeLessThanOrEqual(4);
  }, 120_000);
});


describe('garbage frames', () => {
  it('100,000 hostile frames: the server stays up, others keep receiving deltas, the canvas holds exactly the valid placements', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const random = rng(seed);
    const int = (n: number) => Math.floor(random() * n);
    const size = 256;
    const s = await server({
      width: size, height: size, paintRate: 1e6, paintBurst: 1e6, messageRate: 1e7, messageBurst: 1e7,
      maxViolations: 1e6, maxConnectionsPerIp: 100,
    });
    const watcher = await hello(s);
    watcher.send(encodeViewport(0, 0, size, size));
    const painter = await hello(s);

    const conns = 20;
    const framesPerConn = 5000;
    const expected = new Uint8Array(size * size); // background 0
    const fuzzers = await Promise.all(Array.from({ length: conns }, () => hello(s, { localAddress: `127.0.0.${10 + int(20)}` })));
    try {
      let sentFrames = 0;
      for (let round = 0; round < framesPerConn; round += 250) {
        for (const [ci, f] of fuzzers.entries()) {
          for (let k = 0; k < 250; k++) {
            const kind = int(10);
            let frame: Uint8Array | string;
            if (kind === 0) frame = Uint8Array.from({ length: int(40) }, () => int(256)); // noise
            else if (kind === 1) { const v = encodePlace(1, [{ x: 1, y: 1, color: 1 }]); frame = v.subarray(0, int(v.length)); } // truncated
            else if (kind === 2) { const v = encodePlace(1, [{ x: 1, y: 1, color: 1 }]); v[7] = 0xff; v[8] = 0xff; frame = v; } // absurd count
            else if (kind === 3) frame = encodePlace(2, [{ x: size + int(60000), y: int(size), color: 1 }]); // out of bounds
            else if (kind === 4) frame = encodePlace(3, [{ x: int(size), y: int(size), color: 32 + int(200) }]); // bad colour
            else if (kind === 5) {
              // Absurd viewports, at full resolution or at any level of detail (valid levels here: 0..2); some truncated.
              const v = int(2) ? encodeViewport(-int(1e9), -int(1e9), 0xffffffff, int(2 ** 32))
                : encodeLodViewport(int(256), int(2) ? int(size) : -int(1e9), int(size), int(2) ? int(size) : 0xffffffff, int(2 ** 32));
              frame = int(4) ? v : v.subarray(0, int(v.length));
            }
            else if (kind === 6) frame = int(2) ? 'text frame' : new Uint8Array(0);
            else if (kind === 7) { const v = encodeResume([{ cx: 1, cy: 1, version: 1 }]); v[0] = 0x40 + int(0x40); frame = v; } // unknown op
            else if (kind === 8) frame = encodeCursor(int(70000) & 0xffff, int(70000) & 0xffff);
            else {
              // A valid placement inside this connection's own column band: order within a connection is kept.
              const x = ci * 12 + int(12);
              const y = int(size);
              const color = int(32);
              expected[y * size + x] = color;
              frame = encodePlace(4, [{ x, y, color }]);
            }
            f.ws.send(frame);
            sentFrames++;
          }
        }
        // Meanwhile an honest painter's pixels keep reaching the watcher.
        const px = 250;
        const py = round % size;
        const mark = watcher.messages.length;
        painter.send(encodePlace(round, [{ x: px, y: py, color: 7 }]));
        expected[py * size + px] = 7;
        await watcher.waitFor((m) => m.type === 'delta' && m.cx === 3 && m.cy === py >> 6, 5000, mark);
      }
      expect(sentFrames).toBe(conns * framesPerConn);
      for (const f of fuzzers) await until(() => f.messages.filter(isResult).length + f.messages.filter(isError).length > 0, 3000);
      await sleep(300);
      expect(s.room.connections).toBe(conns + 2); // nobody was dropped: violations were answered, not fatal here
      for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
        if (s.store.get(x, y) !== expected[y * size + x]) throw new Error(`seed ${seed}: pixel (${x},${y}) is ${s.store.get(x, y)}, expected ${expected[y * size + x]}`);
      }
      const codes = new Set(fuzzers.flatMap((f) => f.messages.filter(isError).map((m) => m.code)));
      for (const c of ['MALFORMED', 'UNKNOWN_OPCODE', 'TEXT_FRAME'] as const) expect(codes).toContain(ErrorCode[c]);
    } catch (err) {
      console.error(`garbage-frame fuzz failed: FUZZ_SEED=${seed} reproduces it`);
      throw err;
    }
  }, 120_000);

  it('repeated violations close the socket with the fitting close code', async () => {
    const s = await server({ maxViolations: 2, maxViewportArea: 128 * 128 });
    const cases: [string, (p: RawPeer) => void, number][] = [
      ['malformed', (p) => p.send(Uint8Array.of(Op.PLACE, 0xff)), 1002],
      ['unknown opcode', (p) => p.send(Uint8Array.of(0x7f, 0, 0)), 1003],
      ['text frames', (p) => p.ws.send('hello?'), 1003],
      ['too large a viewport', (p) => p.send(encodeViewport(0, 0, 1024, 1024 * 64)), 1008],
    ];
    for (const [what, bad, code] of cases) {
      const p = await hello(s);
      for (let i = 0; i < 3; i++) bad(p);
      expect(await p.closed, what).toBe(code);
      expect(p.messages.filter(isError).length, what).toBeGreaterThanOrEqual(1);
    }
    // Invalid UTF-8 in the name: 1007 on repetition (before HELLO succeeds every attempt is a violation).
    const u = new RawPeer(s.wsUrl);
    resources.track(u);
    await u.opened;
    for (let i = 0; i < 3; i++) u.send(Uint8Array.of(Op.HELLO, 5, 0, 1, 0, 2, 0xc3, 0x28));
    expect(await u.closed).toBe(1007);
    expect(u.messages.find(isError)?.code).toBe(ErrorCode.BAD_UTF8);
  });

  it('an unsupported protocol version is refused at once; messages before HELLO are refused', async () => {
    const s = await server();
    const a = new RawPeer(s.wsUrl);
    resources.track(a);
    await a.opened;
    a.send(encodePlace(1, [{ x: 1, y: 1, color: 1 }]));
    expect((await a.waitFor(isError)).code).toBe(ErrorCode.HELLO_REQUIRED);
    a.send(encodeHello(PROTOCOL_VERSION + 1, 'x'));
    expect(await a.closed).toBe(1002);
    expect(a.messages.filter(isError).map((m) => m.code)).toContain(ErrorCode.UNSUPPORTED_VERSION);
  });

  it('refuses an oversized message with 1009 and a batch over the cap as a whole', async () => {
    const s = await server({ maxPlaceBatch: 4 });
    const p = await hello(s);
    p.send(encodePlace(9, [0, 1, 2, 3, 4].map((x) => ({ x, y: 0, color: 1 }))));
    const r = await p.waitFor(isResult);
    expect(r).toMatchObject({ seq: 9, status: ErrorCode.BATCH_TOO_LARGE, count: 5 });
    p.send(encodePlace(10, [{ x: 1, y: 0, color: 1 }, { x: 5000, y: 0, color: 1 }]));
    expect(await p.waitFor((m): m is PlaceResult => isResult(m) && m.seq === 10)).toMatchObject({ status: ErrorCode.OUT_OF_BOUNDS });
    await sleep(50);
    expect(s.store.get(1, 0)).toBe(0); // never half-applied
    p.send(new Uint8Array(s.room['deps'].config.maxMessageBytes + 1));
    expect(await p.closed).toBe(1009);
  });
});

describe('caps and handshakes', () => {
  it('caps connections per address (429) and in total (503)', async () => {
    const s = await server({ maxConnectionsPerIp: 3, maxConnections: 5 });
    for (let i = 0; i < 3; i++) await hello(s, { localAddress: '127.0.0.5' });
    expect(await handshakeStatus(s.wsUrl, { localAddress: '127.0.0.5' })).toBe(429);
    await hello(s, { localAddress: '127.0.0.6' });
    await hello(s, { localAddress: '127.0.0.7' });
    expect(await handshakeStatus(s.wsUrl, { localAddress: '127.0.0.8' })).toBe(503);
    resources.untrackLast()!.ws.terminate();
    await until(() => s.room.connections === 4);
    await sleep(20);
    expect(await handshakeStatus(s.wsUrl, { localAddress: '127.0.0.8' })).toBe(101); // a freed slot is reusable
  });

  it('checks the Origin when a list is configured', async () => {
    const s = await server({ allowedOrigins: ['https://canvas.example'] });
    expect(await handshakeStatus(s.wsUrl, { origin: 'https://evil.example' })).toBe(403);
    expect(await handshakeStatus(s.wsUrl, { origin: 'https://canvas.example' })).toBe(101);
  });

  it('closes a connection that never finishes its headers, and one that never says HELLO', async () => {
    const s = await server({ headersTimeoutMs: 300, helloTimeoutMs: 300 });
    const sock = connect(s.port, '127.0.0.1');
    sock.write('GET /ws HTTP/1.1\r\nHost: x\r\n'); // and then nothing
    sock.on('error', () => {});
    const t0 = Date.now();
    let reply = '';
    sock.on('data', (d: Buffer) => { reply += d.toString('latin1'); }); // reading lets 'close' fire
    await new Promise<void>((resolve) => sock.on('close', () => resolve()));
    expect(reply).toMatch(/^HTTP\/1.1 408/);
    expect(Date.now() - t0).toBeLessThan(3000);
    const silent = new RawPeer(s.wsUrl);
    resources.track(silent);
    await silent.opened;
    expect(await silent.closed).toBe(1002);
    expect(s.room.connections).toBe(0);
  });

  it('takes the address from X-Forwarded-For only with --trust-proxy, and then only its last hop', () => {
    const req = { headers: { 'x-forwarded-for': '6.6.6.6, 10.0.0.1' }, socket: { remoteAddress: '::ffff:127.0.0.9' } } as unknown as IncomingMessage;
    expect(clientAddress(req, false)).toBe('127.0.0.9');
    expect(clientAddress(req, true)).toBe('10.0.0.1');
  });
});
