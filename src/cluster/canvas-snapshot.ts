/**
 * The canvas snapshot kept in Redis (one hash): what a node that cannot catch up from the stream starts
 * from. Fields: `seq` and `epoch` (decimal), and per painted chunk `c:<chunk key>` → u32 version (LE) +
 * 4096 pixels. Encoding, decoding, and the diff that turns a node's store into the snapshot's canvas
 * through ordinary placements (so the node's own clients get deltas, not a silent swap).
 */
import type { ChunkStore } from '../chunks/chunk-store.js';
import { CHUNK_AREA, CHUNK_SHIFT, chunkKey, keyCx, keyCy } from '../chunks/geometry.js';
import type { PlacementRecord } from '../storage/canvas-storage.js';

export interface CanvasSnapshot {
  seq: number;
  epoch: number;
  chunks: Map<number, { version: number; pixels: Uint8Array }>;
}

/** HSET arguments for the store as of (seq, epoch), in batches of at most `batch` fields. */
export function snapshotFields(store: ChunkStore, seq: number, epoch: number, batch = 256): Array<Array<string | Buffer>> {
  const out: Array<Array<string | Buffer>> = [];
  let fields: Array<string | Buffer> = ['seq', String(seq), 'epoch', String(epoch)];
  store.forEachChunk((cx, cy, pixels, version) => {
    const buf = Buffer.allocUnsafe(4 + CHUNK_AREA);
    buf.writeUInt32LE(version, 0);
    buf.set(pixels, 4);
    fields.push(`c:${chunkKey(cx, cy)}`, buf);
    if (fields.length >= batch * 2) {
      out.push(fields);
      fields = [];
    }
  });
  if (fields.length > 0) out.push(fields);
  return out;
}

/** HSET arguments for some chunks only (an incremental update of a snapshot at an earlier seq). */
export function chunkFields(store: ChunkStore, keys: Iterable<number>, seq: number): Array<string | Buffer> {
  const fields: Array<string | Buffer> = ['seq', String(seq)];
  for (const key of keys) {
    const cx = keyCx(key), cy = keyCy(key);
    if (cx >= store.chunksX || cy >= store.chunksY) continue;
    const pixels = store.chunkPixels(cx, cy);
    if (pixels === null) continue; // never allocated: absent from the snapshot means background, version 0
    const buf = Buffer.allocUnsafe(4 + CHUNK_AREA);
    buf.writeUInt32LE(store.version(cx, cy), 0);
    buf.set(pixels, 4);
    fields.push(`c:${key}`, buf);
  }
  return fields;
}

/**
 * The snapshot in an HGETALL answer, if it belongs to `epoch`; otherwise the empty canvas at seq 0 (a
 * generation without a snapshot yet starts empty; its stream must then still hold seq 1).
 * Throws on a damaged field: a node must not start from half a canvas.
 */
export function parseSnapshot(raw: Record<string, Buffer>, epoch: number): CanvasSnapshot {
  const chunks = new Map<number, { version: number; pixels: Uint8Array }>();
  const seqText = raw.seq?.toString();
  if (seqText === undefined || Number(raw.epoch?.toString()) !== epoch) return { seq: 0, epoch, chunks };
  const seq = Number(seqText);
  if (!Number.isSafeInteger(seq) || seq < 0) throw new Error(`damaged snapshot: seq "${seqText}"`);
  for (const [field, value] of Object.entries(raw)) {
    if (!field.startsWith('c:')) continue;
    const key = Number(field.slice(2));
    if (!Number.isInteger(key) || key < 0 || value.length !== 4 + CHUNK_AREA) throw new Error(`damaged snapshot field ${field}`);
    chunks.set(key, { version: value.readUInt32LE(0), pixels: new Uint8Array(value.subarray(4)) });
  }
  return { seq, epoch, chunks };
}

/**
 * Appends the placements that turn `store` into the snapshot's canvas and returns chunk → the version it has
 * once they are applied and drained: the commit stage pins those of changed chunks (never 0). A chunk already
 * equal only takes the snapshot's version, here and now (loadChunk, no delta: nothing for the drain to carry,
 * so nothing the commit stage could pin); it is in the map too (possibly as 0), so the storage records it.
 * A chunk the snapshot lacks is background at version 0; version 0 cannot be sent as a change, so such a
 * chunk, if it differs, gets the store's next version instead (its clients re-download it on another node).
 */
export function diffToSnapshot(store: ChunkStore, snap: CanvasSnapshot, records: PlacementRecord[], time: number): Map<number, number> {
  const pins = new Map<number, number>();
  const keys = new Set<number>(snap.chunks.keys());
  store.forEachChunk((cx, cy) => keys.add(chunkKey(cx, cy)));
  const blank = new Uint8Array(CHUNK_AREA).fill(store.background);
  for (const key of keys) {
    const cx = keyCx(key), cy = keyCy(key);
    if (cx >= store.chunksX || cy >= store.chunksY) continue;
    const want = snap.chunks.get(key) ?? { version: 0, pixels: blank };
    const have = store.chunkPixels(cx, cy) ?? blank;
    let changed = false;
    for (let i = 0; i < CHUNK_AREA; i++) {
      if (have[i] === want.pixels[i]) continue;
      changed = true;
      records.push({ x: (cx << CHUNK_SHIFT) + (i & 63), y: (cy << CHUNK_SHIFT) + (i >>> 6), color: want.pixels[i]!, time, clientId: 0, name: '', ip: '' });
    }
    if (changed) {
      if (want.version !== 0) pins.set(key, want.version);
    } else if (store.version(cx, cy) !== want.version && (store.chunkPixels(cx, cy) !== null || want.version !== 0)) {
      // Same pixels, another version: also for a chunk painted back to the background elsewhere, which this
      // node never allocated (versions must mean the same on every node).
      store.loadChunk(cx, cy, have.slice(), want.version);
      pins.set(key, want.version);
    }
  }
  return pins;
}
