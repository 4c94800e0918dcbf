/**
 * Cursors at a bounded cost per viewer: however many cursors stand in its view, a viewer is shown at most
 * MAX_VIEW_CELLS × cellCap of them, at any zoom; what it is shown stays consistent (removed before moved,
 * members replaced as they leave); the cadence is the room's, not the pixel tick's.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULTS, type ServerConfig } from '../../src/config.js';
import { ChunkStore } from '../../src/chunks/chunk-store.js';
import { DEFAULT_PALETTE } from '../../src/chunks/palette.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { createMetrics } from '../../src/metrics.js';
import { createLogger } from '../../src/log.js';
import { CanvasRoom } from '../../src/realtime/canvas-room.js';
import type { Transport } from '../../src/realtime/transport.js';
import { MAX_VIEW_CELLS, cursorLevelFor } from '../../src/presence/cursor-cells.js';
import {
  PROTOCOL_VERSION, decodeServerMessages, encodeCursor, encodeHello, encodeLodViewport, encodeViewport, type ServerMessage,
} from '../../src/net/protocol.js';

class TestTransport implements Transport {
  readonly frames: Uint8Array[] = [];
  bufferedAmount = 0;
  send(bytes: Uint8Array): void { this.frames.push(bytes.slice()); }
  close(): void {}
  terminate(): void {}
  messages(): ServerMessage[] { return this.frames.flatMap((f) => decodeServerMessages(f)); }
}

function makeRoom(overrides: Partial<ServerConfig> = {}) {
  const config: ServerConfig = {
    ...DEFAULTS, inMemory: true, logLevel: 'silent', cursorHz: 1000, messageRate: 1e6, messageBurst: 1e6, ...overrides,
  };
  const store = new ChunkStore({ width: config.width, height: config.height, paletteSize: DEFAULT_PALETTE.length });
  const room = new CanvasRoom({ config, store, storage: new MemoryStorage(), palette: DEFAULT_PALETTE, metrics: createMetrics(), log: createLogger('silent') });
  let clock = performance.now() + 1000;
  const tick = (ms = 17) => room.tick((clock += ms));
  const join = (name: string, view?: [number, number, number, number], level = 0) => {
    const t = new TestTransport();
    const s = room.connect(t, '127.0.0.1');
    room.handleMessage(s, encodeHello(PROTOCOL_VERSION, name), true);
    if (view) room.handleMessage(s, level ? encodeLodViewport(level, ...view) : encodeViewport(...view), true);
    return { t, s };
  };
  return { room, tick, join, config };
}

/** Replays CURSORS messages (removed first; 0 = reset): what the client shows. */
function shown(t: TestTransport, from = 0): Map<number, { x: number; y: number }> {
  const m = new Map<number, { x: number; y: number }>();
  for (const f of t.frames.slice(from)) for (const msg of decodeServerMessages(f)) {
    if (msg.type !== 'cursors') continue;
    for (const id of msg.removed) if (id === 0) m.clear(); else m.delete(id);
    for (const c of msg.moved) m.set(c.id, { x: c.x, y: c.y });
  }
  return m;
}

describe('cursor levels', () => {
  it('a view touches at most MAX_VIEW_CELLS cells at its level', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 1, max: 4096 }),
      (x, y, w, h) => {
        w = Math.min(w, 4096 - x);
        h = Math.min(h, 4096 - y);
        const k = cursorLevelFor({ x, y, w, h }, 6);
        const s = 6 + k;
        const cells = (((x + w - 1) >> s) - (x >> s) + 1) * (((y + h - 1) >> s) - (y >> s) + 1);
        expect(cells).toBeLessThanOrEqual(MAX_VIEW_CELLS);
        if (k > 0) { // and the level is the finest that does it
          const f = s - 1;
          expect((((x + w - 1) >> f) - (x >> f) + 1) * (((y + h - 1) >> f) - (y >> f) + 1)).toBeGreaterThan(MAX_VIEW_CELLS);
        }
      }));
  });
});

describe('a viewer in a crowd receives at most the cap', () => {
  for (const [label, view, level] of [
    ['zoomed in', [100, 100, 80, 45], 0],
    ['zoomed out', [0, 0, 1024, 1024], 0],
    ['zoomed out at level 2', [0, 0, 1024, 1024], 2],
  ] as const) {
    it(`${label}: N = 600 cursors moving in view for many flushes`, () => {
      const { room, tick, join } = makeRoom({ maxConnectionsPerIp: 100000, cursorCellCap: 6 });
      const viewer = join('viewer', [...view], level);
      tick();
      const cap = room.cursors.viewerCap;
      expect(cap).toBe(MAX_VIEW_CELLS * 6);
      const crowd = Array.from({ length: 600 }, (_, i) => join(`c${i}`));
      let seed = 7;
      const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
      let maxShown = 0;
      let maxRecords = 0;
      for (let step = 0; step < 40; step++) {
        // Most of the crowd inside the viewer's view, some wandering out; a few leave and come back hidden.
        for (const c of crowd) {
          if (rnd() < 0.5) continue;
          const x = view[0] + Math.floor(rnd() * view[2] * 1.2);
          const y = view[1] + Math.floor(rnd() * view[3] * 1.2);
          room.handleMessage(c.s, encodeCursor(Math.min(x, 1023), Math.min(y, 1023), rnd() < 0.02), true);
        }
        const mark = viewer.t.frames.length;
        tick(50);
        for (const f of viewer.t.frames.slice(mark)) for (const m of decodeServerMessages(f)) {
          if (m.type === 'cursors') maxRecords = Math.max(maxRecords, m.moved.length);
        }
        maxShown = Math.max(maxShown, shown(viewer.t).size);
      }
      expect(maxShown).toBeGreaterThan(0);
      expect(maxShown).toBeLessThanOrEqual(cap);
      expect(maxRecords).toBeLessThanOrEqual(cap);
      // What it shows is exactly the members of its cells: no ghost left behind by a cursor that moved on.
      const level0 = room.cursors.levelOf(viewer.s);
      const members = new Set<number>();
      const sz = 64 << level0;
      for (let y = Math.floor(view[1] / sz) * sz; y < view[1] + view[3]; y += sz) {
        for (let x = Math.floor(view[0] / sz) * sz; x < view[0] + view[2]; x += sz) {
          for (const id of room.cursors.membersAt(level0, x, y)) members.add(id);
        }
      }
      expect(new Set(shown(viewer.t).keys())).toEqual(members);
    });
  }

  it('without a crowd nothing is capped: every cursor in a zoomed-in view is shown, named', () => {
    const { room, tick, join } = makeRoom();
    const viewer = join('viewer', [0, 0, 128, 128]);
    const a = join('alice');
    const b = join('bob');
    tick();
    room.handleMessage(a.s, encodeCursor(10, 10), true);
    room.handleMessage(b.s, encodeCursor(100, 20), true);
    tick(50);
    expect(shown(viewer.t)).toEqual(new Map([[a.s.id, { x: 10, y: 10 }], [b.s.id, { x: 100, y: 20 }]]));
    const names = viewer.t.messages().flatMap((m) => (m.type === 'cursors' ? m.moved.map((c) => c.name) : []));
    expect(names.sort()).toEqual(['alice', 'bob']);
  });
});

describe('cursor cadence', () => {
  it('cursor updates go out at cursorBroadcastHz while pixel ticks run at tickHz', () => {
    const { room, tick, join } = makeRoom({ cursorBroadcastHz: 20 });
    const viewer = join('viewer', [0, 0, 256, 256]);
    const mover = join('mover');
    tick();
    let flushes = 0;
    for (let i = 0; i < 60; i++) { // one second of 60 Hz ticks, the mover moving every tick
      room.handleMessage(mover.s, encodeCursor(10 + (i % 50), 10), true);
      const mark = viewer.t.frames.length;
      tick(1000 / 60);
      if (viewer.t.frames.slice(mark).some((f) => decodeServerMessages(f).some((m) => m.type === 'cursors'))) flushes++;
    }
    expect(flushes).toBeGreaterThanOrEqual(17);
    expect(flushes).toBeLessThanOrEqual(21);
    tick(50); // the last move is flushed at the next cursor boundary
    expect(shown(viewer.t).get(mover.s.id)).toEqual({ x: 10 + (59 % 50), y: 10 });
  });
});

describe('what a viewer shows converges to the members of its cells', () => {
  it('through random moves, hides, leaves, pans across cursor levels and stalls (seeded)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
      const { room, tick, join } = makeRoom({ maxConnectionsPerIp: 100000, cursorCellCap: 3 });
      let x = seed;
      const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
      const int = (n: number) => Math.floor(rnd() * n);
      const viewers = [join('v0', [0, 0, 300, 200]), join('v1', [0, 0, 1024, 1024]), join('v2', [500, 500, 64, 64])];
      const movers = Array.from({ length: 40 }, (_, i) => join(`m${i}`));
      const alive = new Set(movers.map((m) => m.s.id));
      tick();
      for (let step = 0; step < 60; step++) {
        for (const m of movers) {
          if (!alive.has(m.s.id) || rnd() < 0.4) continue;
          const r = rnd();
          if (r < 0.02) {
            room.disconnect(m.s);
            alive.delete(m.s.id);
          } else {
            room.handleMessage(m.s, encodeCursor(int(1024), int(1024), r < 0.06), true);
          }
        }
        if (rnd() < 0.2) {
          const v = viewers[int(3)]!;
          const w = 32 + int(1000);
          room.handleMessage(v.s, encodeViewport(int(1024 - 32), int(1024 - 32), w, Math.max(32, w >> 1)), true);
        }
        if (rnd() < 0.1) viewers[int(3)]!.t.bufferedAmount = rnd() < 0.5 ? 300 * 1024 : 0; // stall (stale) / drain
        tick(17 + int(40));
      }
      for (const v of viewers) v.t.bufferedAmount = 0;
      for (let i = 0; i < 6; i++) tick(60);
      for (const v of viewers) {
        const level = room.cursors.levelOf(v.s);
        const rect = room.subs.indexes[0]!.rectOf(v.s)!;
        const sz = 64 << level;
        const want = new Map<number, { x: number; y: number }>();
        for (let y = Math.floor(rect.y / sz) * sz; y < rect.y + rect.h; y += sz) {
          for (let x0 = Math.floor(rect.x / sz) * sz; x0 < rect.x + rect.w; x0 += sz) {
            for (const id of room.cursors.membersAt(level, x0, y)) want.set(id, room.cursors.positionOf(id)!);
          }
        }
        const got = shown(v.t);
        expect(got, `seed ${seed}`).toEqual(want);
        expect(got.size).toBeLessThanOrEqual(room.cursors.viewerCap);
      }
    }), { numRuns: 25 });
  });
});
