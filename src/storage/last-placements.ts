/**
 * The last placement of every painted pixel (time, who, moderation flag), for --in-memory pixel info, at a
 * cost that follows what was painted: a chunk with a few painted pixels keeps a small sparse table, and
 * only a chunk with many becomes dense (fixed arrays of 4096). Who — name, identity and address hash — is
 * interned once per painter session, so the per-pixel cost stays one u32.
 *
 *   sparse: ~40 B per painted pixel (a Map entry and two array slots), up to SPARSE_MAX pixels
 *   dense:  8 B per pixel of the chunk (u32 ms since the chunk's first paint + u32 name id), 32 KiB;
 *           a chunk whose times outgrow 2^32 ms (49 days) keeps them as f64 instead (48 KiB)
 *
 * Before, every painted chunk cost 68 KiB (f64 times and a pointer per pixel): 268 MB on a 4096² canvas
 * with a pixel in every chunk, most of a crowd test's memory.
 */
import { CHUNK_AREA } from '../chunks/geometry.js';

/** Sparse chunks become dense past this many painted pixels (where the two cost about the same). */
export const SPARSE_MAX = 768;
const MODERATION = 0x8000_0000;
const NAME_MASK = 0x7fff_ffff;
const NEVER = 0; // name slot 0: never painted (name ids start at 1)

export interface LastPlacement {
  time: number;
  name: string;
  moderation: boolean;
  /** The painter's identity and address hash (hex); absent when none was recorded. */
  identity?: string;
  address?: string;
}

interface Who {
  name: string;
  identity: string;
  address: string;
}

interface SparseChunk {
  kind: 0;
  /** pixel offset → index into times/names */
  at: Map<number, number>;
  times: number[];
  names: number[];
}

interface DenseChunk {
  kind: 1;
  /** Time of the chunk's first placement, ms: `rel` counts from it. */
  base: number;
  /** ms since `base` (u32), or null once a time outgrew it (then `abs` holds every time). */
  rel: Uint32Array | null;
  abs: Float64Array | null;
  /** name id | MODERATION; 0 where never painted. */
  names: Uint32Array;
}

type Chunk = SparseChunk | DenseChunk;

export class LastPlacements {
  private readonly chunks = new Map<number, Chunk>();
  private readonly nameIds = new Map<string, number>();
  private readonly nameList: Who[] = [{ name: '', identity: '', address: '' }];

  /** Records a placement at pixel `offset` of chunk `key`. */
  set(key: number, offset: number, time: number, name: string, moderation: boolean, identity = '', address = ''): void {
    const id = this.intern(name, identity, address) | (moderation ? MODERATION : 0);
    let c = this.chunks.get(key);
    if (c === undefined) {
      c = { kind: 0, at: new Map(), times: [], names: [] };
      this.chunks.set(key, c);
    }
    if (c.kind === 0) {
      const i = c.at.get(offset);
      if (i !== undefined) {
        c.times[i] = time;
        c.names[i] = id;
        return;
      }
      if (c.at.size < SPARSE_MAX) {
        c.at.set(offset, c.times.length);
        c.times.push(time);
        c.names.push(id);
        return;
      }
      c = this.densify(key, c);
    }
    setDense(c, offset, time, id);
  }

  get(key: number, offset: number): LastPlacement | null {
    const c = this.chunks.get(key);
    if (c === undefined) return null;
    let time: number;
    let id: number;
    if (c.kind === 0) {
      const i = c.at.get(offset);
      if (i === undefined) return null;
      time = c.times[i]!;
      id = c.names[i]!;
    } else {
      id = c.names[offset]!;
      if (id === NEVER) return null;
      time = c.abs !== null ? c.abs[offset]! : c.base + c.rel![offset]!;
    }
    const who = this.nameList[(id & NAME_MASK) >>> 0]!;
    const last: LastPlacement = { time, name: who.name, moderation: (id & MODERATION) !== 0 };
    if (who.identity !== '') last.identity = who.identity;
    if (who.address !== '') last.address = who.address;
    return last;
  }

  /** Chunks held, and how many of them are dense (for tests and the memory figures). */
  get stats(): { chunks: number; dense: number; names: number } {
    let dense = 0;
    for (const c of this.chunks.values()) if (c.kind === 1) dense++;
    return { chunks: this.chunks.size, dense, names: this.nameList.length - 1 };
  }

  /** The last painter interned: a batch's records share one, so most calls skip building a key. */
  private last: { who: Who; id: number } | null = null;

  private intern(name: string, identity: string, address: string): number {
    const l = this.last;
    if (l !== null && l.who.name === name && l.who.identity === identity && l.who.address === address) return l.id;
    const k = identity === '' && address === '' ? name : `${name}\u0000${identity}\u0000${address}`;
    let id = this.nameIds.get(k);
    if (id === undefined) {
      id = this.nameList.length;
      if (id > NAME_MASK) throw new RangeError('LastPlacements: more than 2^31 distinct names');
      this.nameIds.set(k, id);
      this.nameList.push({ name, identity, address });
    }
    this.last = { who: this.nameList[id]!, id };
    return id;
  }

  private densify(key: number, s: SparseChunk): DenseChunk {
    let base = Infinity;
    for (const t of s.times) base = Math.min(base, t);
    const d: DenseChunk = { kind: 1, base, rel: new Uint32Array(CHUNK_AREA), abs: null, names: new Uint32Array(CHUNK_AREA) };
    for (const [offset, i] of s.at) setDense(d, offset, s.times[i]!, s.names[i]!);
    this.chunks.set(key, d);
    return d;
  }
}

function setDense(c: DenseChunk, offset: number, time: number, id: number): void {
  c.names[offset] = id;
  if (c.abs !== null) {
    c.abs[offset] = time;
    return;
  }
  const rel = time - c.base;
  if (Number.isInteger(rel) && rel >= 0 && rel <= 0xffff_ffff) {
    c.rel![offset] = rel;
    return;
  }
  // A time before the chunk's base (a clock stepped back: storage clamps that, but stay exact anyway), not
  // whole, or 49 days after it: keep this chunk's times as f64 from now on.
  const abs = new Float64Array(CHUNK_AREA);
  for (let o = 0; o < CHUNK_AREA; o++) if (c.names[o] !== NEVER) abs[o] = c.base + c.rel![o]!;
  abs[offset] = time;
  c.abs = abs;
  c.rel = null;
}
