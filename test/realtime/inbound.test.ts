/**
 * Inbound messages through the composed room (./inbound.ts, ./handshake.ts, ./viewport-intake.ts,
 * ./client-errors.ts): decode, HELLO first, per-type budgets, errors answered through the tick, fatal ones closed.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULTS, type ServerConfig } from '../../src/config.js';
import { ChunkStore } from '../../src/chunks/chunk-store.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import {
  ErrorCode, PROTOCOL_VERSION, encodeHello, encodeLodViewport, encodePing, encodePlace, encodeViewport,
} from '../../src/net/protocol.js';
import { CanvasRoom } from '../../src/realtime/canvas-room.js';
import { sanitizeName } from '../../src/realtime/handshake.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { TestTransport } from './doubles.js';

function makeRoom(overrides: Partial<ServerConfig> = {}) {
  const config: ServerConfig = { ...DEFAULTS, inMemory: true, logLevel: 'silent', paintRate: 1e6, paintBurst: 1e6, ...overrides };
  const store = new ChunkStore({ width: config.width, height: config.height, paletteSize: DEFAULT_PALETTE.length });
  const room = new CanvasRoom({ config, store, storage: new MemoryStorage(), palette: DEFAULT_PALETTE, metrics: createMetrics(), log: createLogger('silent') });
  let clock = performance.now() + 1000;
  const tick = () => room.tick((clock += 16));
  const open = () => {
    const t = new TestTransport();
    return { t, s: room.connect(t, '127.0.0.1') };
  };
  return { room, tick, open };
}

describe('inbound messages', () => {
  it('answers a message before HELLO with HELLO_REQUIRED through the tick, then welcomes', () => {
    const { room, tick, open } = makeRoom();
    const { t, s } = open();
    room.handleMessage(s, encodePing(1), true);
    expect(t.frames).toEqual([]);
    tick();
    expect(t.messages()).toEqual([expect.objectContaining({ type: 'error', code: ErrorCode.HELLO_REQUIRED })]);
    room.handleMessage(s, encodeHello(PROTOCOL_VERSION, 'me'), true);
    expect(t.messages().map((m) => m.type)).toEqual(['error', 'welcome', 'online']); // sent at once
    expect(s.phase).toBe('ready');
    room.handleMessage(s, encodeHello(PROTOCOL_VERSION, 'me'), true);
    tick();
    expect(t.messages().at(-1)).toMatchObject({ type: 'error', code: ErrorCode.DUPLICATE_HELLO });
  });

  it('closes at once for an unsupported protocol version, with the error first', () => {
    const { room, open } = makeRoom();
    const { t, s } = open();
    room.handleMessage(s, encodeHello(PROTOCOL_VERSION + 1, 'me'), true);
    expect(t.messages()).toEqual([expect.objectContaining({ type: 'error', code: ErrorCode.UNSUPPORTED_VERSION })]);
    expect(t.closedWith).not.toBeNull();
    expect(s.phase).toBe('closed');
    expect(room.connections).toBe(0);
    room.handleMessage(s, encodePing(1), true); // a closed session's late message is ignored
    expect(t.messages()).toHaveLength(1);
  });

  it('refuses text frames, and closes once violations pile up', () => {
    const { room, tick, open } = makeRoom({ maxViolations: 3 });
    const { t, s } = open();
    room.handleMessage(s, encodeHello(PROTOCOL_VERSION, 'me'), true);
    for (let i = 0; i < 10 && t.closedWith === null; i++) {
      room.handleMessage(s, new TextEncoder().encode('hi'), false);
      tick();
    }
    expect(t.messages().filter((m) => m.type === 'error').every((m) => m.type === 'error' && m.code === ErrorCode.TEXT_FRAME)).toBe(true);
    expect(t.closedWith).not.toBeNull();
    expect(s.phase).toBe('closed');
  });

  it('answers PING at once, and a PLACE with its result after the commit', () => {
    const { room, tick, open } = makeRoom();
    const { t, s } = open();
    room.handleMessage(s, encodeHello(PROTOCOL_VERSION, 'me'), true);
    room.handleMessage(s, encodePing(42), true);
    room.handleMessage(s, encodePlace(5, [{ x: 1, y: 1, color: 2 }]), true);
    tick();
    const after = t.messages().slice(2);
    expect(after).toEqual(expect.arrayContaining([
      expect.objectContaining({ type: 'pong', nonce: 42 }),
      expect.objectContaining({ type: 'placeResult', seq: 5, status: ErrorCode.OK }),
    ]));
  });

  it('rejects a viewport past the area limit or at a level the canvas has not, at once', () => {
    const { room, tick, open } = makeRoom({ maxViewportArea: 64 * 64 });
    const { t, s } = open();
    room.handleMessage(s, encodeHello(PROTOCOL_VERSION, 'me'), true);
    room.handleMessage(s, encodeViewport(0, 0, 128, 128), true);
    room.handleMessage(s, encodeLodViewport(40, 0, 0, 64, 64), true);
    tick();
    const codes = t.messages().flatMap((m) => (m.type === 'error' ? [m.code] : []));
    expect(codes).toEqual([ErrorCode.VIEWPORT_TOO_LARGE, ErrorCode.BAD_VIEWPORT]);
  });

  it('defers a viewport over the viewport rate, keeping only the latest as one pending view', () => {
    const { room, tick, open } = makeRoom({ viewportHz: 1 });
    const { s } = open();
    room.handleMessage(s, encodeHello(PROTOCOL_VERSION, 'me'), true);
    room.handleMessage(s, encodeViewport(0, 0, 64, 64), true); // applied at once
    room.handleMessage(s, encodeViewport(128, 0, 64, 64), true); // deferred
    room.handleMessage(s, encodeViewport(256, 0, 64, 64), true); // replaces it
    expect(s.pendingViewport).toMatchObject({ rect: { x: 256, y: 0, w: 64, h: 64 }, level: 0, keep: null });
    expect(room.index.rangeOf(s)).toEqual({ cx0: 0, cy0: 0, cx1: 0, cy1: 0 });
    tick(); // the tick clock runs ahead of the bucket: the rate allows the pending view now
    expect(s.pendingViewport).toBeNull();
    expect(room.index.rangeOf(s)).toEqual({ cx0: 4, cy0: 0, cx1: 4, cy1: 0 });
  });
});

describe('sanitizeName', () => {
  it('strips control and format characters, trims, and caps the UTF-8 length', () => {
    expect(sanitizeName(' a\u202Eb\u200Bc\n ', 32)).toBe('abc');
    expect(new TextEncoder().encode(sanitizeName('é'.repeat(20), 7)).length).toBeLessThanOrEqual(7);
  });
});
