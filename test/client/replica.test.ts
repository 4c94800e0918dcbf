import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHUNK_AREA, CHUNK_SIZE, chunkKey } from '../../src/chunks/geometry.js';
import { Replica, viewChunkRange } from '../../src/client/replica.js';
import {
  type Delta,
  type ServerMessage,
  type Snapshot,
  ProtocolError,
  SnapshotEncoding,
  decodeServerMessages,
  encodeChunkDelta,
  encodeChunkSnapshot,
} from '../../src/net/protocol.js';

// A 4 × 3-chunk canvas: small enough that the fuzzer revisits chunks often.
const WIDTH = 4 * CHUNK_SIZE;
const HEIGHT = 3 * CHUNK_SIZE;
const BACKGROUND = 7;

/** Deterministic 4096 pixels from a seed (mulberry32), so snapshots need no 4 KB arbitrary each. */
function pixelsFromSeed(seed: number, colours: number): Uint8Array {
  const out = new Uint8Array(CHUNK_AREA);
  let a = seed >>> 0;
  for (let i = 0; i < CHUNK_AREA; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) % colours;
  }
  return out;
}

/** Through the real codec: encode, then decode as a client would. */
function wire(bytes: Uint8Array): ServerMessage {
  const [m] = decodeServerMessages(bytes);
  return m!;
}

function snapshot(cx: number, cy: number, version: number, pixels: Uint8Array | null): Snapshot {
  const m = pixels === null
    ? wire(encodeChunkSnapshot(cx, cy, version, SnapshotEncoding.EMPTY, new Uint8Array(0)))
    : wire(encodeChunkSnapshot(cx, cy, version, SnapshotEncoding.RAW, pixels));
  return m as Snapshot;
}

function delta(cx: number, cy: number, version: number, changes: readonly (readonly [number, number])[]): Delta {
  const offsets = changes.map((c) => c[0]);
  const colors = changes.map((c) => c[1]);
  return wire(encodeChunkDelta(cx, cy, version, offsets, colors, changes.length)) as Delta;
}

function fresh(): Replica {
  const r = new Replica();
  r.reset(WIDTH, HEIGHT, BACKGROUND, 42);
  return r;
}

// ---- naive model: a map of plain arrays, pixel-level overlap test for retainOnly ----

interface ModelChunk {
  pixels: number[];
  version: number;
}

function modelOverlaps(cx: number, cy: number, x: number, y: number, w: number, h: number): boolean {
  // Does any on-canvas pixel of the chunk lie inside the rect? (Pixel-level, shares no clamping code.)
  const px0 = Math.max(cx * CHUNK_SIZE, x);
  const py0 = Math.max(cy * CHUNK_SIZE, y);
  const px1 = Math.min((cx + 1) * CHUNK_SIZE, x + w, WIDTH);
  const py1 = Math.min((cy + 1) * CHUNK_SIZE, y + h, HEIGHT);
  return px1 > px0 && py1 > py0;
}

type Cmd =
  | { kind: 'snapshot'; cx: number; cy: number; version: number; seed: number | null }
  | { kind: 'delta'; cx: number; cy: number; version: number; changes: [number, number][] }
  | { kind: 'retain'; x: number; y: number; w: number; h: number };

const cxArb = fc.integer({ min: 0, max: WIDTH / CHUNK_SIZE - 1 });
const cyArb = fc.integer({ min: 0, max: HEIGHT / CHUNK_SIZE - 1 });
const versionArb = fc.integer({ min: 0, max: 12 });
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('snapshot' as const), cx: cxArb, cy: cyArb, version: versionArb, seed: fc.option(fc.integer(), { nil: null }) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('delta' as const),
      cx: cxArb,
      cy: cyArb,
      version: versionArb,
      // Small offset range too, so one delta often sets the same pixel twice (the last must win).
      changes: fc.array(fc.tuple(fc.oneof(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 0, max: 7 })), fc.integer({ min: 0, max: 31 })), { maxLength: 20 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('retain' as const),
      x: fc.integer({ min: -100, max: 300 }),
      y: fc.integer({ min: -100, max: 250 }),
      w: fc.integer({ min: 0, max: 300 }),
      h: fc.integer({ min: 0, max: 250 }),
    }),
  },
);

function checkAgainstModel(r: Replica, model: Map<number, ModelChunk>): void {
  expect(r.size).toBe(model.size);
  const held = r.heldVersions().map((e) => [chunkKey(e.cx, e.cy), e.version]).sort((a, b) => a[0]! - b[0]!);
  const expected = [...model].map(([k, c]) => [k, c.version]).sort((a, b) => a[0]! - b[0]!);
  expect(held).toEqual(expected);
  for (let cy = 0; cy < HEIGHT / CHUNK_SIZE; cy++) {
    for (let cx = 0; cx < WIDTH / CHUNK_SIZE; cx++) {
      const m = model.get(chunkKey(cx, cy));
      const c = r.chunk(cx, cy);
      if (m === undefined) {
        expect(c).toBeUndefined();
        expect(r.get(cx * CHUNK_SIZE + 5, cy * CHUNK_SIZE + 9)).toBeUndefined();
      } else {
        expect(c).toBeDefined();
        expect(c!.version).toBe(m.version);
        // Compare as plain arrays only when they differ, to keep the failure readable and the check fast.
        if (!c!.pixels.every((v, i) => v === m.pixels[i])) expect(Array.from(c!.pixels)).toEqual(m.pixels);
        expect(r.get(cx * CHUNK_SIZE + 5, cy * CHUNK_SIZE + 9)).toBe(m.pixels[9 * CHUNK_SIZE + 5]);
      }
    }
  }
}

describe('Replica against a naive model', () => {
  it('agrees after every step of random snapshot / delta / retainOnly sequences', () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { maxLength: 60 }), (cmds) => {
        const r = fresh();
        const model = new Map<number, ModelChunk>();
        for (const cmd of cmds) {
          if (cmd.kind === 'snapshot') {
            const px = cmd.seed === null ? null : pixelsFromSeed(cmd.seed, 32);
            r.applySnapshot(snapshot(cmd.cx, cmd.cy, cmd.version, px));
            model.set(chunkKey(cmd.cx, cmd.cy), {
              pixels: px === null ? new Array<number>(CHUNK_AREA).fill(BACKGROUND) : Array.from(px),
              version: cmd.version,
            });
          } else if (cmd.kind === 'delta') {
            const applied = r.applyDelta(delta(cmd.cx, cmd.cy, cmd.version, cmd.changes));
            const m = model.get(chunkKey(cmd.cx, cmd.cy));
            const expectApplied = m !== undefined && cmd.version > m.version;
            expect(applied).toBe(expectApplied);
            if (expectApplied) {
              for (const [o, c] of cmd.changes) m.pixels[o] = c;
              m.version = cmd.version;
            }
          } else {
            const dropped = r.retainOnly(cmd.x, cmd.y, cmd.w, cmd.h);
            const expectDropped: number[] = [];
            for (const key of model.keys()) {
              const cx = key % 1024;
              const cy = Math.floor(key / 1024);
              if (!modelOverlaps(cx, cy, cmd.x, cmd.y, cmd.w, cmd.h)) expectDropped.push(key);
            }
            for (const key of expectDropped) model.delete(key);
            expect([...dropped].sort((a, b) => a - b)).toEqual(expectDropped.sort((a, b) => a - b));
          }
          checkAgainstModel(r, model);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('Replica', () => {
  it('ignores deltas that are not newer, and deltas for chunks it does not hold', () => {
    const r = fresh();
    r.applySnapshot(snapshot(1, 1, 5, null));
    expect(r.applyDelta(delta(1, 1, 5, [[0, 3]]))).toBe(false);
    expect(r.applyDelta(delta(1, 1, 4, [[0, 3]]))).toBe(false);
    expect(r.get(64, 64)).toBe(BACKGROUND);
    expect(r.applyDelta(delta(2, 1, 9, [[0, 3]]))).toBe(false);
    expect(r.chunk(2, 1)).toBeUndefined();
    expect(r.applyDelta(delta(1, 1, 7, [[0, 3], [65, 4]]))).toBe(true);
    expect(r.get(64, 64)).toBe(3);
    expect(r.get(65, 65)).toBe(4);
    expect(r.chunk(1, 1)!.version).toBe(7);
    // Versions may skip (a tick can cover several placements); 6 is now old.
    expect(r.applyDelta(delta(1, 1, 6, [[0, 9]]))).toBe(false);
    expect(r.get(64, 64)).toBe(3);
  });

  it('applies a snapshot whatever version it holds, reusing the chunk array', () => {
    const r = fresh();
    r.applySnapshot(snapshot(0, 0, 9, pixelsFromSeed(1, 16)));
    const before = r.chunk(0, 0)!.pixels;
    r.applySnapshot(snapshot(0, 0, 3, null));
    expect(r.chunk(0, 0)!.pixels).toBe(before);
    expect(r.chunk(0, 0)!.version).toBe(3);
    expect(before.every((v) => v === BACKGROUND)).toBe(true);
  });

  it('rejects a bad snapshot or delta with ProtocolError and leaves the chunk as it was', () => {
    const r = fresh();
    const px = pixelsFromSeed(2, 16);
    r.applySnapshot(snapshot(0, 0, 1, px));
    const bad = wire(encodeChunkSnapshot(0, 0, 2, SnapshotEncoding.RAW, new Uint8Array(100))) as Snapshot;
    expect(() => r.applySnapshot(bad)).toThrow(ProtocolError);
    expect(() => r.applySnapshot(wire(encodeChunkSnapshot(1, 0, 2, 9, new Uint8Array(0))) as Snapshot)).toThrow(ProtocolError);
    expect(r.chunk(1, 0)).toBeUndefined();
    expect(() => r.applyDelta(delta(0, 0, 2, [[1, 1], [4096, 1]]))).toThrow(ProtocolError);
    expect(() => r.applySnapshot(snapshot(4, 0, 1, null))).toThrow(ProtocolError); // off a 4-chunk-wide canvas
    expect(() => r.applySnapshot(snapshot(0, 3, 1, null))).toThrow(ProtocolError);
    expect(r.chunk(0, 0)!.version).toBe(1);
    expect(Array.from(r.chunk(0, 0)!.pixels)).toEqual(Array.from(px));
    expect(r.size).toBe(1);
  });

  it('get: undefined off the canvas and for chunks not held; row-major within a chunk', () => {
    const r = fresh();
    r.applySnapshot(snapshot(3, 2, 1, null));
    r.applyDelta(delta(3, 2, 2, [[2 * 64 + 1, 11]]));
    expect(r.get(3 * 64 + 1, 2 * 64 + 2)).toBe(11);
    expect(r.get(3 * 64 + 2, 2 * 64 + 1)).toBe(BACKGROUND);
    expect(r.get(-1, 130)).toBeUndefined();
    expect(r.get(WIDTH, 130)).toBeUndefined();
    expect(r.get(200, HEIGHT)).toBeUndefined();
    expect(r.get(0, 0)).toBeUndefined();
  });

  it('heldVersions lists every held chunk once with its version', () => {
    const r = fresh();
    r.applySnapshot(snapshot(0, 0, 4, null));
    r.applySnapshot(snapshot(2, 1, 8, null));
    r.applyDelta(delta(2, 1, 10, [[0, 1]]));
    expect(r.heldVersions().sort((a, b) => a.cx - b.cx)).toEqual([
      { cx: 0, cy: 0, version: 4 },
      { cx: 2, cy: 1, version: 10 },
    ]);
  });

  it('retainOnly clamps to the canvas; an empty or off-canvas rect drops everything', () => {
    const r = fresh();
    for (let cy = 0; cy < 3; cy++) for (let cx = 0; cx < 4; cx++) r.applySnapshot(snapshot(cx, cy, 1, null));
    expect(r.retainOnly(-1000, -1000, 1000 + 64, 1000 + 64)).toHaveLength(11); // only (0,0) is touched
    expect(r.chunk(0, 0)).toBeDefined();
    for (let cy = 0; cy < 3; cy++) for (let cx = 0; cx < 4; cx++) r.applySnapshot(snapshot(cx, cy, 1, null));
    // Touching one pixel of a chunk keeps it: x 63..64 covers chunks 0 and 1.
    r.retainOnly(63, 0, 2, 1);
    expect(r.heldVersions().map((e) => [e.cx, e.cy]).sort()).toEqual([[0, 0], [1, 0]]);
    r.retainOnly(10, 10, 0, 50);
    expect(r.size).toBe(0);
    r.applySnapshot(snapshot(3, 2, 1, null));
    r.retainOnly(WIDTH, 0, 100, 100);
    expect(r.size).toBe(0);
  });

  it('reports changes and drops through its hooks', () => {
    const r = fresh();
    const changes: string[] = [];
    r.onChange = (cx, cy, offsets) => changes.push(`${cx},${cy}:${offsets === null ? 'all' : Array.from(offsets).join('+')}`);
    r.onDrop = (cx, cy) => changes.push(`drop ${cx},${cy}`);
    r.applySnapshot(snapshot(1, 0, 1, null));
    r.applyDelta(delta(1, 0, 2, [[5, 1], [6, 2]]));
    r.applyDelta(delta(1, 0, 2, [[5, 1]])); // ignored: no call
    r.applySnapshot(snapshot(2, 0, 1, null));
    r.retainOnly(128, 0, 64, 64);
    r.reset(WIDTH, HEIGHT, BACKGROUND, 43);
    expect(changes).toEqual(['1,0:all', '1,0:5+6', '2,0:all', 'drop 1,0', 'drop 2,0']);
    expect(r.epoch).toBe(43);
    expect(r.size).toBe(0);
  });

  it('viewChunkRange matches the pixel-level overlap definition', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -100, max: 300 }),
        fc.integer({ min: -100, max: 250 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 250 }),
        (x, y, w, h) => {
          const range = viewChunkRange(x, y, w, h, WIDTH, HEIGHT);
          for (let cy = 0; cy < 3; cy++) {
            for (let cx = 0; cx < 4; cx++) {
              const inRange = range !== null && cx >= range.cx0 && cx <= range.cx1 && cy >= range.cy0 && cy <= range.cy1;
              expect(inRange).toBe(modelOverlaps(cx, cy, x, y, w, h));
            }
          }
        },
      ),
    );
  });
});

describe('version wrap', () => {
  it('a delta after the u32 version wrap (0xFFFFFFFF → 1) is newer; an old one is not', async () => {
    const { isNewerVersion } = await import('../../src/client/replica.js');
    expect(isNewerVersion(1, 0xffffffff)).toBe(true);
    expect(isNewerVersion(0xffffffff, 1)).toBe(false);
    expect(isNewerVersion(6, 5)).toBe(true);
    expect(isNewerVersion(5, 5)).toBe(false);
    expect(isNewerVersion(4, 5)).toBe(false);
  });
});
