/**
 * ChunkStore against a naive model (a flat Uint8Array plus a set of pixels changed since the last drain),
 * and a replica fed by snapshots and deltas that must converge with the store. fast-check prints the seed and
 * path on failure; replay with `fc.assert(prop, { seed, path })` and pin the case as a named regression test.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CanvasError, ChunkStore } from '../../src/chunks/chunk-store.js';
import { CHUNK_AREA, CHUNK_SIZE, chunkKey, pixelOffset } from '../../src/chunks/geometry.js';
import { decodeSnapshotPixels } from '../../src/chunks/snapshot-codec.js';
import { type Delta, type Snapshot, SnapshotEncoding, decodeServerMessages } from '../../src/net/protocol.js';

const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

/** Index of the first difference, or -1 (cheaper than expect().toEqual on 4096-byte arrays, run many times). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function decodeOne<T extends 'delta' | 'snapshot'>(bytes: Uint8Array, type: T): T extends 'delta' ? Delta : Snapshot {
  const msgs = decodeServerMessages(bytes);
  expect(msgs.length).toBe(1);
  expect(msgs[0]!.type).toBe(type);
  return msgs[0] as T extends 'delta' ? Delta : Snapshot;
}

function thrownBy(f: () => void): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

// ---- generators ----

interface Canvas { width: number; height: number; paletteSize: number; background: number }

const canvas: fc.Arbitrary<Canvas> = fc
  .record({
    width: fc.constantFrom(64, 128, 192, 256),
    height: fc.constantFrom(64, 128, 192, 256),
    paletteSize: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 256 })),
  })
  .chain((c) => fc.record({ width: fc.constant(c.width), height: fc.constant(c.height), paletteSize: fc.constant(c.paletteSize), background: fc.integer({ min: 0, max: c.paletteSize - 1 }) }));

type Op =
  | { kind: 'set'; x: number; y: number; color: number }
  | { kind: 'drain' }
  | { kind: 'snapshot'; cx: number; cy: number };

/** Sets, biased to a small hot area so pixels are painted several times between drains. */
function setOp(c: Canvas): fc.Arbitrary<Op> {
  const hot = fc.record({ x: fc.integer({ min: 60, max: 67 }), y: fc.integer({ min: 0, max: 5 }) }).map((p) => ({ x: p.x % c.width, y: p.y }));
  const anywhere = fc.record({ x: fc.integer({ min: 0, max: c.width - 1 }), y: fc.integer({ min: 0, max: c.height - 1 }) });
  const color = fc.oneof(fc.constant(c.background), fc.integer({ min: 0, max: c.paletteSize - 1 }));
  return fc.tuple(fc.oneof(hot, anywhere), color).map(([p, color]) => ({ kind: 'set' as const, x: p.x, y: p.y, color }));
}

function ops(c: Canvas): fc.Arbitrary<Op[]> {
  const drain = fc.constant<Op>({ kind: 'drain' });
  // Often one of the chunks the hot area of setOp() touches, so snapshots meet recent changes.
  const anyChunk = fc.record({ cx: fc.integer({ min: 0, max: c.width / CHUNK_SIZE - 1 }), cy: fc.integer({ min: 0, max: c.height / CHUNK_SIZE - 1 }) });
  const hotChunk = fc.record({ cx: fc.constantFrom(0, Math.min(1, c.width / CHUNK_SIZE - 1)), cy: fc.constant(0) });
  const snapshot = fc.oneof(hotChunk, anyChunk).map((p): Op => ({ kind: 'snapshot', ...p }));
  return fc.array(fc.oneof({ arbitrary: setOp(c), weight: 8 }, { arbitrary: drain, weight: 1 }, { arbitrary: snapshot, weight: 2 }), {
    maxLength: 300,
    size: 'max', // fast-check's default size keeps arrays to about 10 items: too short to reach interesting states
  });
}

/** Values that must be refused as coordinates or colours. */
const badNumber = fc.constantFrom(-1, 1.5, -0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 32, 65536);

// ---- model ----

class Model {
  readonly pixels: Uint8Array;
  /** chunk key → offsets changed since the last drain */
  readonly dirty = new Map<number, Set<number>>();
  readonly versions = new Map<number, number>();
  readonly allocated = new Set<number>();
  constructor(readonly c: Canvas) {
    this.pixels = new Uint8Array(c.width * c.height).fill(c.background);
  }
  set(x: number, y: number, color: number): void {
    const i = y * this.c.width + x;
    if (this.pixels[i] === color) return;
    this.pixels[i] = color;
    const key = chunkKey(x >> 6, y >> 6);
    this.allocated.add(key);
    let d = this.dirty.get(key);
    if (d === undefined) this.dirty.set(key, (d = new Set()));
    d.add(pixelOffset(x, y));
  }
  /** The model's pixel at an in-chunk offset. */
  at(cx: number, cy: number, offset: number): number {
    return this.pixels[(cy * CHUNK_SIZE + (offset >> 6)) * this.c.width + cx * CHUNK_SIZE + (offset & 63)]!;
  }
  /** A copy of one chunk's pixels, offset ly * 64 + lx. */
  chunk(cx: number, cy: number): Uint8Array {
    const out = new Uint8Array(CHUNK_AREA);
    for (let ly = 0; ly < CHUNK_SIZE; ly++) {
      const row = (cy * CHUNK_SIZE + ly) * this.c.width + cx * CHUNK_SIZE;
      out.set(this.pixels.subarray(row, row + CHUNK_SIZE), ly * CHUNK_SIZE);
    }
    return out;
  }
}

/** Drains the store and checks the result against the model (then clears the model's dirty sets). */
function checkDrain(store: ChunkStore, model: Model): void {
  const before = new Map<number, number>();
  for (let cy = 0; cy < store.chunksY; cy++) for (let cx = 0; cx < store.chunksX; cx++) before.set(chunkKey(cx, cy), store.version(cx, cy));
  expect(store.dirtyChunkCount).toBe(model.dirty.size);
  const drained = store.drain();
  expect(store.dirtyChunkCount).toBe(0);
  expect(drained.map((d) => d.key).sort((a, b) => a - b)).toEqual([...model.dirty.keys()].sort((a, b) => a - b));
  for (const d of drained) {
    expect(d.key).toBe(chunkKey(d.cx, d.cy));
    const msg = decodeOne(d.bytes, 'delta');
    expect([msg.cx, msg.cy, msg.version]).toEqual([d.cx, d.cy, d.version]);
    expect(msg.offsets.length).toBe(d.count);
    // Each offset once (coalesced), exactly the pixels that changed, each with its final colour.
    const offsets = [...msg.offsets];
    expect(new Set(offsets).size).toBe(offsets.length);
    expect(offsets.sort((a, b) => a - b)).toEqual([...model.dirty.get(d.key)!].sort((a, b) => a - b));
    expect([...msg.colors]).toEqual(Array.from(msg.offsets, (o) => model.at(d.cx, d.cy, o)));
    expect(d.version).toBe(before.get(d.key)! + 1);
    model.versions.set(d.key, d.version);
  }
  // Chunks that did not change keep their version.
  for (const [key, v] of before) {
    if (!model.dirty.has(key)) expect(store.version(key % 1024, Math.floor(key / 1024))).toBe(v);
  }
  model.dirty.clear();
}

function checkAllPixels(store: ChunkStore, model: Model): void {
  const { width, height } = model.c;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (store.get(x, y) !== model.pixels[y * width + x]) expect(`(${x}, ${y}) = ${store.get(x, y)}`).toBe(`(${x}, ${y}) = ${model.pixels[y * width + x]}`);
    }
  }
  expect(store.allocatedChunks).toBe(model.allocated.size);
  expect(store.pixelBytes).toBe(model.allocated.size * CHUNK_AREA);
}

// ---- tests ----

describe('ChunkStore vs a flat-array model', () => {
  it('agrees on every pixel, coalesces each drain, and bumps versions only for changed chunks', () => {
    fc.assert(
      fc.property(canvas.chain((c) => fc.tuple(fc.constant(c), ops(c))), ([c, opList]) => {
        const store = new ChunkStore(c);
        const model = new Model(c);
        for (const op of opList) {
          if (op.kind === 'set') {
            expect(store.check(op.x, op.y, op.color)).toBe(null);
            store.set(op.x, op.y, op.color);
            model.set(op.x, op.y, op.color);
            expect(store.get(op.x, op.y)).toBe(op.color);
            expect(store.dirtyChunkCount).toBe(model.dirty.size);
          } else if (op.kind === 'drain') {
            checkDrain(store, model);
          } else {
            const s = decodeOne(store.snapshot(op.cx, op.cy), 'snapshot');
            expect(s.version).toBe(model.versions.get(chunkKey(op.cx, op.cy)) ?? 0);
            const pixels = new Uint8Array(CHUNK_AREA);
            decodeSnapshotPixels(s.encoding, s.data, c.background, pixels);
            expect(firstDifference(pixels, model.chunk(op.cx, op.cy))).toBe(-1);
          }
        }
        checkAllPixels(store, model);
        checkDrain(store, model);
        expect(store.drain()).toEqual([]);
      }),
      { numRuns: 120 },
    );
  });

  it('refuses bad coordinates and colours with CanvasError and writes nothing', () => {
    const badPixel = canvas.chain((c) =>
      fc.tuple(
        fc.constant(c),
        fc.array(setOp(c), { maxLength: 20 }),
        fc.oneof(
          // bad x or y, good colour
          fc.record({ x: fc.oneof(badNumber, fc.constant(c.width)), y: fc.integer({ min: 0, max: c.height - 1 }), color: fc.constant(0), code: fc.constant('OUT_OF_BOUNDS') }),
          fc.record({ x: fc.integer({ min: 0, max: c.width - 1 }), y: fc.oneof(badNumber, fc.constant(c.height)), color: fc.constant(0), code: fc.constant('OUT_OF_BOUNDS') }),
          // good pixel, bad colour
          fc.record({ x: fc.integer({ min: 0, max: c.width - 1 }), y: fc.integer({ min: 0, max: c.height - 1 }), color: fc.oneof(badNumber, fc.constant(c.paletteSize)), code: fc.constant('BAD_COLOR') }),
          // both bad: bounds are reported first
          fc.record({ x: badNumber, y: fc.constant(0), color: badNumber, code: fc.constant('OUT_OF_BOUNDS') }),
        ),
      ),
    );
    fc.assert(
      fc.property(badPixel, ([c, before, bad]) => {
        const store = new ChunkStore(c);
        const model = new Model(c);
        for (const op of before) {
          if (op.kind !== 'set') continue;
          store.set(op.x, op.y, op.color);
          model.set(op.x, op.y, op.color);
        }
        const dirtyBefore = store.dirtyChunkCount;
        expect(store.check(bad.x, bad.y, bad.color)).toBe(bad.code);
        const e = thrownBy(() => store.set(bad.x, bad.y, bad.color));
        expect(e).toBeInstanceOf(CanvasError);
        expect((e as CanvasError).code).toBe(bad.code);
        if (bad.code === 'OUT_OF_BOUNDS') expect((thrownBy(() => store.get(bad.x, bad.y)) as CanvasError).code).toBe('OUT_OF_BOUNDS');
        expect(store.dirtyChunkCount).toBe(dirtyBefore);
        checkAllPixels(store, model);
        checkDrain(store, model);
      }),
      { numRuns: 100 },
    );
  });
});

describe('a replica built from snapshots and later deltas', () => {
  it('converges with the store, whenever the snapshots were taken', () => {
    fc.assert(
      fc.property(canvas.chain((c) => fc.tuple(fc.constant(c), ops(c))), ([c, opList]) => {
        const store = new ChunkStore(c);
        const replica = new Map<number, { version: number; pixels: Uint8Array }>();
        const applyDrain = (): void => {
          for (const d of store.drain()) {
            const msg = decodeOne(d.bytes, 'delta');
            const held = replica.get(chunkKey(msg.cx, msg.cy));
            if (held === undefined || msg.version <= held.version) continue;
            for (let i = 0; i < msg.offsets.length; i++) held.pixels[msg.offsets[i]!] = msg.colors[i]!;
            held.version = msg.version;
          }
        };
        for (const op of opList) {
          if (op.kind === 'set') store.set(op.x, op.y, op.color);
          else if (op.kind === 'drain') applyDrain();
          else {
            const s = decodeOne(store.snapshot(op.cx, op.cy), 'snapshot');
            expect([s.cx, s.cy]).toEqual([op.cx, op.cy]);
            const pixels = new Uint8Array(CHUNK_AREA);
            decodeSnapshotPixels(s.encoding, s.data, c.background, pixels);
            replica.set(chunkKey(s.cx, s.cy), { version: s.version, pixels });
          }
        }
        applyDrain();
        for (const [key, held] of replica) {
          const cx = key % 1024;
          const cy = Math.floor(key / 1024);
          expect(held.version).toBe(store.version(cx, cy));
          const live = store.chunkPixels(cx, cy) ?? new Uint8Array(CHUNK_AREA).fill(c.background);
          expect(firstDifference(held.pixels, live)).toBe(-1);
        }
      }),
      { numRuns: 120 },
    );
  });
});

describe('ChunkStore', () => {
  it('validates its size, palette and background', () => {
    const code = (opts: ConstructorParameters<typeof ChunkStore>[0]): unknown => (thrownBy(() => new ChunkStore(opts)) as CanvasError | undefined)?.code;
    for (const side of [0, 32, 100, 65600, 96.5, Number.NaN, -64]) {
      expect(code({ width: side, height: 64, paletteSize: 16 })).toBe('BAD_SIZE');
      expect(code({ width: 64, height: side, paletteSize: 16 })).toBe('BAD_SIZE');
    }
    for (const paletteSize of [0, 257, 1.5]) expect(code({ width: 64, height: 64, paletteSize })).toBe('BAD_SIZE');
    expect(code({ width: 64, height: 64, paletteSize: 16, background: 16 })).toBe('BAD_COLOR');
    expect(code({ width: 64, height: 64, paletteSize: 16, snapshotCacheBytes: -1 })).toBe('BAD_SIZE');
    const big = new ChunkStore({ width: 65536, height: 64, paletteSize: 256, background: 255 });
    expect([big.chunksX, big.chunksY, big.background]).toEqual([1024, 1, 255]);
  });

  it('costs no pixel memory until a pixel is painted a colour other than the background', () => {
    const store = new ChunkStore({ width: 65536, height: 65536, paletteSize: 32, background: 3 });
    store.set(65535, 65535, 3);
    expect([store.allocatedChunks, store.pixelBytes, store.dirtyChunkCount]).toEqual([0, 0, 0]);
    expect(store.get(65535, 65535)).toBe(3);
    store.set(65535, 65535, 4);
    expect([store.allocatedChunks, store.pixelBytes, store.dirtyChunkCount]).toEqual([1, CHUNK_AREA, 1]);
    // A new chunk is filled with the background, not zeros.
    expect(store.get(65534, 65535)).toBe(3);
    expect(store.chunkPixels(1023, 1023)!.filter((p) => p === 3).length).toBe(CHUNK_AREA - 1);
  });

  it('golden bytes: the SNAPSHOT and DELTA of one painted pixel', () => {
    const store = new ChunkStore({ width: 128, height: 128, paletteSize: 32 });
    store.set(65, 2, 5); // chunk (1, 0), offset 2 * 64 + 1 = 129
    //  op len   | cx    | cy    | version     | enc | W  | 129×0: f8, v=97 | 1×5 | 3966×0: f8, v=3934 → de 1e
    expect(toHex(store.snapshot(1, 0))).toBe('82 10 00 01 00 00 00 00 00 00 00 02 03 f8 61 05 f8 de 1e');
    const [d] = store.drain();
    //  op len   | cx    | cy    | version     | count | offset 129, colour 5
    expect(toHex(d!.bytes)).toBe('83 0d 00 01 00 00 00 01 00 00 00 01 00 81 00 05');
    expect(toHex(store.snapshot(1, 0))).toBe('82 10 00 01 00 00 00 01 00 00 00 02 03 f8 61 05 f8 de 1e');
  });

  it('caches snapshots until the chunk changes or is drained', () => {
    const store = new ChunkStore({ width: 128, height: 128, paletteSize: 32 });
    const empty = decodeOne(store.snapshot(0, 1), 'snapshot');
    expect([empty.version, empty.encoding, empty.data.length]).toEqual([0, SnapshotEncoding.EMPTY, 0]);
    // A never-painted chunk's snapshot is cached too, and painting it replaces the cached empty one.
    const e = store.snapshot(1, 1);
    expect(store.snapshot(1, 1)).toBe(e);
    store.set(64 + 3, 64 + 4, 7);
    const painted = decodeOne(store.snapshot(1, 1), 'snapshot');
    expect(painted.encoding).not.toBe(SnapshotEncoding.EMPTY);
    store.drain();
    expect(decodeOne(store.snapshot(1, 1), 'snapshot').version).toBe(1);
    const loaded = new ChunkStore({ width: 128, height: 128, paletteSize: 32 });
    loaded.snapshot(1, 0);
    loaded.loadChunk(1, 0, new Uint8Array(4096).fill(3), 9);
    expect(decodeOne(loaded.snapshot(1, 0), 'snapshot').version).toBe(9);
    store.set(1, 1, 2);
    const a = store.snapshot(0, 0);
    expect(store.snapshot(0, 0)).toBe(a);
    store.set(1, 1, 2); // same colour: no change, cache kept
    expect(store.snapshot(0, 0)).toBe(a);
    store.set(2, 1, 2);
    const b = store.snapshot(0, 0);
    expect(b).not.toBe(a);
    store.drain();
    const c = store.snapshot(0, 0);
    expect(c).not.toBe(b);
    expect(decodeOne(c, 'snapshot').version).toBe(1);
    // A set in another chunk leaves it alone.
    store.set(100, 100, 1);
    expect(store.snapshot(0, 0)).toBe(c);

    const uncached = new ChunkStore({ width: 64, height: 64, paletteSize: 2, snapshotCacheBytes: 0 });
    uncached.set(0, 0, 1);
    expect(uncached.snapshot(0, 0)).not.toBe(uncached.snapshot(0, 0));
    expect(toHex(uncached.snapshot(0, 0))).toBe(toHex(uncached.snapshot(0, 0)));
  });

  it('reports a pixel changed and changed back within a tick (it converges; the version moves)', () => {
    const store = new ChunkStore({ width: 64, height: 64, paletteSize: 4 });
    store.set(5, 5, 1);
    store.set(5, 5, 0);
    const [d] = store.drain();
    const msg = decodeOne(d!.bytes, 'delta');
    expect([...msg.offsets, ...msg.colors, msg.version]).toEqual([pixelOffset(5, 5), 0, 1]);
  });

  it('loadChunk copies the pixels, sets the version, is not dirty, and checks everything first', () => {
    const store = new ChunkStore({ width: 128, height: 64, paletteSize: 16 });
    const pixels = Uint8Array.from({ length: CHUNK_AREA }, (_, i) => i % 16);
    store.loadChunk(1, 0, pixels, 41);
    pixels[0] = 9;
    expect([store.get(64, 0), store.version(1, 0), store.dirtyChunkCount]).toEqual([0, 41, 0]);
    const code = (f: () => void): unknown => (thrownBy(f) as CanvasError | undefined)?.code;
    const bad = new Uint8Array(CHUNK_AREA);
    bad[CHUNK_AREA - 1] = 16;
    expect(code(() => store.loadChunk(0, 0, bad))).toBe('BAD_COLOR');
    expect(code(() => store.loadChunk(0, 0, new Uint8Array(10)))).toBe('BAD_SIZE');
    expect(code(() => store.loadChunk(2, 0, new Uint8Array(CHUNK_AREA)))).toBe('OUT_OF_BOUNDS');
    expect(() => store.loadChunk(0, 0, new Uint8Array(CHUNK_AREA), -1)).toThrow(RangeError);
    expect(() => store.loadChunk(0, 0, new Uint8Array(CHUNK_AREA), 2 ** 32)).toThrow(RangeError);
    expect(store.allocatedChunks).toBe(1);

    // Loading over a dirty chunk drops its pending changes.
    store.set(64, 1, 7);
    store.set(0, 0, 7);
    expect(store.dirtyChunkCount).toBe(2);
    store.loadChunk(1, 0, new Uint8Array(CHUNK_AREA), 50);
    expect(store.dirtyChunkCount).toBe(1);
    const drained = store.drain();
    expect(drained.map((d) => [d.cx, d.cy, d.version])).toEqual([[0, 0, 1]]);
    expect(store.version(1, 0)).toBe(50);

    const seen: [number, number, number][] = [];
    store.forEachChunk((cx, cy, p, v) => {
      expect(p).toBe(store.chunkPixels(cx, cy));
      seen.push([cx, cy, v]);
    });
    expect(seen.sort()).toEqual([[0, 0, 1], [1, 0, 50]]);
    expect(code(() => store.chunkPixels(0, 1))).toBe('OUT_OF_BOUNDS');
    expect(code(() => store.version(-1, 0))).toBe('OUT_OF_BOUNDS');
    expect(code(() => store.snapshot(0, 1.5))).toBe('OUT_OF_BOUNDS');
  });

  it('wraps the version from 2^32 - 1 to 1 (0 means never changed)', () => {
    const store = new ChunkStore({ width: 64, height: 64, paletteSize: 2 });
    store.loadChunk(0, 0, new Uint8Array(CHUNK_AREA), 0xffffffff);
    store.set(0, 0, 1);
    const [d] = store.drain();
    expect(d!.version).toBe(1);
    expect(decodeOne(d!.bytes, 'delta').version).toBe(1);
  });

  it('reuses dirty bitsets across drains without leaking old marks', () => {
    const store = new ChunkStore({ width: 256, height: 256, paletteSize: 4 });
    for (let tick = 0; tick < 50; tick++) {
      const x = (tick * 37) % 256;
      const y = (tick * 91) % 256;
      store.set(x, y, 1 + (tick % 3));
      const drained = store.drain();
      expect(drained.length).toBe(1);
      const msg = decodeOne(drained[0]!.bytes, 'delta');
      expect([...msg.offsets]).toEqual([pixelOffset(x, y)]);
    }
  });
});
