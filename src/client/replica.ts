/**
 * The client's copy of the chunks it can see: one 4096-byte palette-index array and a version per
 * chunk. Pure (no sockets, no timers), so it is tested against a naive model, and runs in Node and
 * the browser alike.
 *
 * Versions are only comparable within one server epoch; `reset` (on a WELCOME with another epoch)
 * forgets everything.
 */
import { CHUNK_AREA, CHUNK_SHIFT, CHUNK_SIZE, chunkKey, keyCx, keyCy, pixelChunkKey, pixelOffset } from '../chunks/geometry.js';
import { decodeSnapshotPixels } from '../chunks/snapshot-codec.js';
import { type Delta, type ResumeEntry, type Snapshot, protocolError } from '../net/protocol.js';

/** One held chunk. `pixels` is the same array for the chunk's whole stay in the replica. */
export interface HeldChunk {
  readonly pixels: Uint8Array;
  version: number;
}

/** Every in-chunk offset is < 4096, i.e. fits 12 bits; OR-ing them all and testing the rest finds any that does not. */
const OFFSET_OVERFLOW = ~(CHUNK_AREA - 1);

/** Inclusive range of chunk coordinates cx0..cx1 × cy0..cy1; never empty. */
export interface ViewChunkRange {
  cx0: number;
  cy0: number;
  cx1: number;
  cy1: number;
}

/**
 * The chunks a viewport covers once clamped to a width × height canvas, the way the server clamps it;
 * null when nothing of it is on the canvas. Fractional edges cover the pixels they touch.
 */
export function viewChunkRange(x: number, y: number, w: number, h: number, width: number, height: number): ViewChunkRange | null {
  const x0 = Math.max(Math.floor(x), 0);
  const y0 = Math.max(Math.floor(y), 0);
  const x1 = Math.min(Math.ceil(x + w), width);
  const y1 = Math.min(Math.ceil(y + h), height);
  if (!(x1 > x0 && y1 > y0)) return null; // also false for NaN
  return { cx0: x0 >>> CHUNK_SHIFT, cy0: y0 >>> CHUNK_SHIFT, cx1: (x1 - 1) >>> CHUNK_SHIFT, cy1: (y1 - 1) >>> CHUNK_SHIFT };
}

export function rangeHas(r: ViewChunkRange, cx: number, cy: number): boolean {
  return cx >= r.cx0 && cx <= r.cx1 && cy >= r.cy0 && cy <= r.cy1;
}

export class Replica {
  epoch: number | null = null;
  width = 0;
  height = 0;
  background = 0;

  /**
   * Render hook: called after a snapshot (offsets null: the whole chunk changed) or an applied delta
   * (the delta's offsets; the array belongs to the delta message, do not keep it).
   */
  onChange?: (cx: number, cy: number, offsets: Uint16Array | null) => void;
  /** Called for each chunk leaving the replica (retainOnly, clear, reset), so a renderer can free what it keeps for it. */
  onDrop?: (cx: number, cy: number) => void;

  private readonly chunks = new Map<number, HeldChunk>();
  /** A snapshot is decoded here first, so a bad one leaves the held chunk untouched. */
  private readonly scratch = new Uint8Array(CHUNK_AREA);

  /** Forgets every chunk and adopts a new canvas (on a WELCOME whose epoch differs from ours). */
  reset(width: number, height: number, background: number, epoch: number): void {
    this.clear();
    this.width = width;
    this.height = height;
    this.background = background;
    this.epoch = epoch;
  }

  get size(): number {
    return this.chunks.size;
  }

  /**
   * Sets a chunk to the snapshot's pixels and version, holding it if it was not held. A snapshot is the
   * server's current state of the chunk, so it is applied whatever the version held.
   * Throws ProtocolError for a chunk outside the canvas or bad pixel data (the replica is then unchanged).
   */
  applySnapshot(s: Snapshot): void {
    if (s.cx * CHUNK_SIZE >= this.width || s.cy * CHUNK_SIZE >= this.height) {
      throw protocolError('MALFORMED', `SNAPSHOT: chunk (${s.cx}, ${s.cy}) is outside the ${this.width}x${this.height} canvas`);
    }
    const key = chunkKey(s.cx, s.cy);
    const held = this.chunks.get(key);
    if (held === undefined) {
      // A fresh array: if decoding throws it is simply dropped.
      const pixels = new Uint8Array(CHUNK_AREA);
      decodeSnapshotPixels(s.encoding, s.data, this.background, pixels);
      this.chunks.set(key, { pixels, version: s.version });
    } else {
      decodeSnapshotPixels(s.encoding, s.data, this.background, this.scratch);
      held.pixels.set(this.scratch);
      held.version = s.version;
    }
    this.onChange?.(s.cx, s.cy, null);
  }

  /**
   * Applies a delta to a held chunk when it is newer than what is held (serial-number order, so the u32 wrap
   * from 0xFFFFFFFF to 1 still counts as newer), and takes its version.
   * False (nothing changed) when the chunk is not held or the delta is not newer.
   * Throws ProtocolError for an offset outside the chunk (checked before anything is written).
   */
  applyDelta(d: Delta): boolean {
    const held = this.chunks.get(chunkKey(d.cx, d.cy));
    if (held === undefined || !isNewerVersion(d.version, held.version)) return false;
    const { offsets, colors } = d;
    const n = offsets.length;
    let any = 0;
    for (let i = 0; i < n; i++) any |= offsets[i]!;
    if ((any & OFFSET_OVERFLOW) !== 0) {
      throw protocolError('MALFORMED', `DELTA: chunk (${d.cx}, ${d.cy}) has an offset outside the chunk`);
    }
    const pixels = held.pixels;
    for (let i = 0; i < n; i++) pixels[offsets[i]!] = colors[i]!;
    held.version = d.version;
    this.onChange?.(d.cx, d.cy, offsets);
    return true;
  }

  /** Palette index at pixel (x, y); undefined when the pixel is off the canvas or its chunk is not held. */
  get(x: number, y: number): number | undefined {
    if (!(x >= 0 && y >= 0 && x < this.width && y < this.height)) return undefined;
    const held = this.chunks.get(pixelChunkKey(x, y));
    return held === undefined ? undefined : held.pixels[pixelOffset(x, y)];
  }

  chunk(cx: number, cy: number): HeldChunk | undefined {
    return this.chunks.get(chunkKey(cx, cy));
  }

  has(cx: number, cy: number): boolean {
    return this.chunks.has(chunkKey(cx, cy));
  }

  /** (cx, cy, version) of every held chunk: the body of a RESUME. */
  heldVersions(): ResumeEntry[] {
    const out: ResumeEntry[] = [];
    for (const [key, held] of this.chunks) out.push({ cx: keyCx(key), cy: keyCy(key), version: held.version });
    return out;
  }

  /**
   * Drops every chunk that does not overlap the pixel rect (clamped to the canvas, as the server clamps a
   * viewport); an empty or off-canvas rect drops everything. Returns the dropped chunk keys.
   */
  retainOnly(x: number, y: number, w: number, h: number): number[] {
    const r = viewChunkRange(x, y, w, h, this.width, this.height);
    const dropped: number[] = [];
    for (const key of this.chunks.keys()) {
      if (r === null || !rangeHas(r, keyCx(key), keyCy(key))) dropped.push(key);
    }
    for (const key of dropped) this.drop(key);
    return dropped;
  }

  /** Drops every chunk (keeps epoch and canvas size). */
  clear(): void {
    if (this.onDrop === undefined) {
      this.chunks.clear();
      return;
    }
    for (const key of [...this.chunks.keys()]) this.drop(key);
  }

  private drop(key: number): void {
    this.chunks.delete(key);
    this.onDrop?.(keyCx(key), keyCy(key));
  }
}

/** Serial-number comparison of u32 versions (RFC 1982 style): a is newer than b within half the space. */
export function isNewerVersion(a: number, b: number): boolean {
  const d = (a - b) >>> 0;
  return d !== 0 && d < 0x80000000;
}
