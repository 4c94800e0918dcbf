/**
 * The sounding cells around a view, read from the replica the pixel client already keeps (music reuses the
 * data path: the same chunks, subscriptions and deltas). Each chunk's non-silent cells are listed once per
 * chunk version, so a scheduler tick costs a walk over the chunks in range, not over 4096 cells each.
 */
import { CHUNK_SHIFT, CHUNK_SIZE } from '../../../src/chunks/geometry.js';
import type { Replica } from '../../../src/client/replica.js';
import { SPATIAL, type ListenerView, type MusicCell } from '../../../src/music/scheduler.js';

interface ChunkCells {
  version: number;
  pixels: Uint8Array;
  cells: MusicCell[];
}

export class CellIndex {
  private readonly cache = new Map<string, ChunkCells>();

  /** Cells within hearing of the view, and a signature that changes when any of them may have. */
  collect(replica: Replica, view: ListenerView): { cells: MusicCell[]; signature: string } {
    const reach = SPATIAL.hearRadius * Math.hypot(view.halfW, view.halfH);
    const cx0 = Math.max(0, Math.floor((view.cx - reach) / CHUNK_SIZE));
    const cy0 = Math.max(0, Math.floor((view.cy - reach) / CHUNK_SIZE));
    const cx1 = Math.min((replica.width - 1) >> CHUNK_SHIFT, Math.floor((view.cx + reach) / CHUNK_SIZE));
    const cy1 = Math.min((replica.height - 1) >> CHUNK_SHIFT, Math.floor((view.cy + reach) / CHUNK_SIZE));
    const cells: MusicCell[] = [];
    let sig = `${cx0},${cy0},${cx1},${cy1}`;
    const seen = new Set<string>();
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const held = replica.chunk(cx, cy);
        if (held === undefined) continue;
        const key = `${cx},${cy}`;
        seen.add(key);
        let c = this.cache.get(key);
        if (c === undefined || c.version !== held.version || c.pixels !== held.pixels) {
          c = { version: held.version, pixels: held.pixels, cells: scan(held.pixels, cx, cy, replica.background) };
          this.cache.set(key, c);
        }
        sig += `|${key}@${held.version}`;
        for (const cell of c.cells) cells.push(cell);
      }
    }
    for (const key of this.cache.keys()) if (!seen.has(key)) this.cache.delete(key);
    return { cells, signature: sig };
  }
}

function scan(pixels: Uint8Array, cx: number, cy: number, background: number): MusicCell[] {
  const out: MusicCell[] = [];
  for (let i = 0; i < pixels.length; i++) {
    const v = pixels[i]!;
    if (v !== background && v !== 0) out.push({ x: (cx << CHUNK_SHIFT) + (i & (CHUNK_SIZE - 1)), y: (cy << CHUNK_SHIFT) + (i >> CHUNK_SHIFT), value: v });
  }
  return out;
}
